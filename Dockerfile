# Image for the roleready-cache service (used by docker-compose.yml).
# python:3.11-slim matches python_requires; the package is installed with
# `pip install .` from a copy of only what the build needs (see
# .dockerignore), and the process runs as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# setup.cfg reads README.md as the long description, so it is part of the build.
COPY pyproject.toml setup.cfg README.md ./
COPY service ./service
COPY statemachine ./statemachine
RUN pip install . && rm -rf /app/build

# A fixed UID so volume permissions and policies can name it.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin roleready
# CACHE_STATE_DIR's usual place, owned by the service's user: a new named
# volume mounted there takes this owner from the image.
RUN install -d -o roleready -g roleready -m 0700 /var/lib/roleready-cache
USER roleready

ENV HOST=0.0.0.0 \
    PORT=3001
EXPOSE 3001

# The console script from setup.cfg; the same as `python -m service`.
CMD ["roleready-cache"]
