"""The Dockerfile and .dockerignore, read back without a Docker engine.

The build stage builds the wheel from what it copies (test_wheel.py runs the
same steps); the final stage installs it with scripts/constraints.txt, runs
as the unprivileged uid, carries the OCI labels, and its HEALTHCHECK command
is run here against the real service.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from scripts.harness.service_process import ServiceProcess
from tests.ops.conftest import ROOT

OCI = "org.opencontainers.image."


@dataclass
class Stage:
    base: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)

    def args(self, kind: str) -> list[str]:
        return [args for k, args in self.steps if k == kind]


def stages() -> list[Stage]:
    """The stages, each with its (INSTRUCTION, arguments); continuation lines
    joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found: list[Stage] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, rest = line.strip().partition(" ")
        rest = " ".join(rest.split())
        if keyword.upper() == "FROM":
            base, _, name = rest.partition(" AS ")
            found.append(Stage(base, name or None))
        else:
            found[-1].steps.append((keyword.upper(), rest))
    return found


def copied_sources(stage: Stage) -> list[str]:
    """What the stage's COPY lines take from the build context (not --from)."""
    sources = []
    for args in stage.args("COPY"):
        if not args.startswith("--from"):
            sources += args.split()[:-1]
    return sources


def wheel_packages() -> list[str]:
    """setup.cfg's packages as paths (service.* comes with service)."""
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    included = setup["options.packages.find"]["include"].split()
    return sorted(p.replace(".", "/") for p in included if not p.endswith(".*"))


def dockerignored(path: str) -> bool:
    """Docker's rule: the last line matching the path or one of its parents wins."""
    ignored = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated, pattern = line.startswith("!"), line.lstrip("!")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(p, pattern.removeprefix("**/"))
               for p in prefixes):
            ignored = not negated
    return ignored


def test_the_build_stage_builds_the_wheel_from_what_it_copies() -> None:
    build, final = stages()
    assert (build.base, build.name) == ("python:3.11-slim", "build")
    assert final.base == "python:3.11-slim"
    sources = set(copied_sources(build))
    assert {"pyproject.toml", "setup.cfg", "setup.py", "README.md", "LICENSE"} <= sources
    for package in wheel_packages():
        assert package in sources or f"{package}/__init__.py" in sources, package
    assert "scripts" not in sources and "tests" not in sources  # only the wheel's parts
    *before, run = build.args("RUN")
    assert run.startswith("pip wheel --no-deps --wheel-dir /dist ")
    # The compiled module (setup.py) is built there: a compiler first.
    assert [r for r in before if "apt-get install" in r and " gcc " in r]


def test_the_image_installs_exactly_the_constraints() -> None:
    final = stages()[-1]
    assert "scripts/constraints.txt /tmp/constraints.txt" in final.args("COPY")
    assert "--from=build /dist /tmp/dist" in final.args("COPY")
    install = final.args("RUN")[0]
    assert install.startswith("pip install -c /tmp/constraints.txt /tmp/dist/*.whl")
    assert copied_sources(final) == ["scripts/constraints.txt"]  # nothing else of the checkout


def test_nothing_copied_is_dropped_by_dockerignore() -> None:
    for source in copied_sources(stages()[0]) + copied_sources(stages()[-1]):
        assert not dockerignored(source), source
        path = ROOT / source
        for inner in (path.rglob("*.py") if path.is_dir() else []):
            relative = str(inner.relative_to(ROOT))
            assert not dockerignored(relative), relative
    for private in (".git", ".venv", "tests/conftest.py", "scripts/benchmark/cli.py",
                    "service/__pycache__/app.cpython-311.pyc", "deploy/redis.conf"):
        assert dockerignored(private), private


def test_it_runs_as_the_unprivileged_uid_after_installing() -> None:
    final = stages()[-1]
    users = [i for i, (kind, _) in enumerate(final.steps) if kind == "USER"]
    uid = re.search(r"useradd [^\n]*--uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert users and uid is not None
    assert final.steps[users[-1]][1] == uid.group(1) != "0"  # numeric: runAsNonRoot can check it
    assert users[-1] > max(i for i, (kind, _) in enumerate(final.steps) if kind == "RUN")
    assert ("EXPOSE", "3001") in final.steps
    [cmd] = final.args("CMD")
    assert json.loads(cmd) == ["roleready-cache"]


def test_the_labels_name_version_revision_and_source() -> None:
    final = stages()[-1]
    declared = {a.split("=")[0] for a in final.args("ARG")}
    labels = dict(re.findall(r'(\S+)="([^"]*)"', " ".join(final.args("LABEL"))))
    for label, argument in (("version", "VERSION"), ("revision", "REVISION"), ("source", "SOURCE")):
        assert labels[OCI + label] == "${" + argument + "}"
        assert argument in declared
    assert labels[OCI + "licenses"] == "MIT"


def test_the_healthcheck_asks_health_with_the_standard_library(
    service_process: Callable[..., ServiceProcess],
) -> None:
    [healthcheck] = stages()[-1].args("HEALTHCHECK")
    options, _, command = healthcheck.partition(" CMD ")
    assert "--interval=" in options and "--timeout=" in options
    probe = json.loads(command)
    assert probe[0] == "python" and "urllib.request" in probe[2] and "/health" in probe[2]
    service = service_process(REDIS_URL="")
    env = {**os.environ, "PORT": str(service.port)}

    def healthy() -> bool:
        return subprocess.run([sys.executable, *probe[1:]], env=env, capture_output=True,
                              timeout=30, check=False).returncode == 0

    assert healthy()
    service.kill()
    assert not healthy()
