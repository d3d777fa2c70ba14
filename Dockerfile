# Image for the roleready-cache service (used by docker-compose.yml).
# Two stages: the first builds the wheel from a copy of only what the build
# needs (see .dockerignore); the second installs that wheel with exactly the
# dependency versions the test suite last passed with (scripts/constraints.txt),
# so the image is the tested set and holds nothing else of the checkout.
# tests/ops/test_wheel.py follows these steps (no Docker engine there), and
# tests/ops/test_dockerfile.py reads this file back.
# Build (the labels come from build arguments):
#   docker build --build-arg VERSION="$(python3 -c 'import service; print(service.__version__)')" \
#     --build-arg REVISION="$(git rev-parse HEAD)" --build-arg SOURCE=<repository URL> -t roleready-cache .
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# A C compiler for the one compiled module (setup.py: service/_speedups.c);
# the wheel carries it built, the second stage needs no compiler.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# setup.cfg reads README.md as the long description and LICENSE as the licence.
COPY pyproject.toml setup.cfg setup.py README.md LICENSE ./
COPY service ./service
COPY statemachine ./statemachine
COPY scripts/__init__.py ./scripts/__init__.py
COPY scripts/redisops ./scripts/redisops
COPY scripts/drill ./scripts/drill
RUN pip wheel --no-deps --wheel-dir /dist .

FROM python:3.11-slim
ARG VERSION=unknown
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="roleready-cache" \
      org.opencontainers.image.description="Two-tier (in-process LRU + Redis) cache service that keeps answering while Redis fails" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY scripts/constraints.txt /tmp/constraints.txt
COPY --from=build /dist /tmp/dist
RUN pip install -c /tmp/constraints.txt /tmp/dist/*.whl && rm -rf /tmp/dist /tmp/constraints.txt

# A fixed UID so volume permissions and policies (runAsUser: 10001) can name it.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin roleready
# CACHE_STATE_DIR's usual place, owned by the service's user: a new named
# volume mounted there takes this owner from the image.
RUN install -d -o roleready -g roleready -m 0700 /var/lib/roleready-cache
USER 10001

# On 0.0.0.0 the service starts only with a token (CACHE_API_TOKEN_FILE or
# CACHE_API_TOKENS_FILE, mounted as files), or with CACHE_API_AUTH=none.
ENV HOST=0.0.0.0 \
    PORT=3001
EXPOSE 3001

# Liveness as the load balancer sees it; the standard library only (no curl
# in the image). urlopen raises on a refused connection or a non-2xx answer.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '3001'), timeout=2)"]

# The console script from setup.cfg; the same as `python -m service`. The
# operations commands are there too: roleready-cache-drill, -backup, -restore, -check.
CMD ["roleready-cache"]
