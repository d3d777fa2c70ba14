"""The wheel, built and installed as the Dockerfile does, in a fresh venv.

The build stage's COPY lines say what goes into the build context; the
wheel is built there by setuptools' PEP 517 backend (what `pip wheel
--no-deps` calls; no build isolation, so nothing is downloaded) and
installed with `--no-deps` into a new venv whose dependencies come from
this test environment's site-packages (a .pth line: installed from the same
scripts/constraints.txt, so nothing is downloaded twice). Then every
dependency must be at its pinned version, the wheel must hold exactly the
packages it should, and each console script must answer `--help`.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.ops.conftest import ROOT
from tests.ops.test_dockerfile import copied_sources, stages

COMMANDS = {
    "roleready-cache": "usage: roleready-cache",
    "roleready-cache-drill": "usage: failover-drill",
    "roleready-cache-backup": "usage: backup-redis",
    "roleready-cache-restore": "usage: restore-redis",
    "roleready-cache-check": "usage: check-production",
}
TIMEOUT_S = 120

pytestmark = pytest.mark.slow


def _run(*command: object, cwd: Path = Path("/")) -> str:
    # Never from the checkout: `python -c` would import its service/ first.
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True,
                          timeout=TIMEOUT_S, check=False, cwd=cwd)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done.stdout


def _setup() -> configparser.ConfigParser:
    setup = configparser.ConfigParser(interpolation=None)
    setup.read(ROOT / "setup.cfg")
    return setup


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the wheel, the venv it is installed in)."""
    work = tmp_path_factory.mktemp("wheel")
    context = work / "context"
    for source in copied_sources(stages()[0]):  # the build stage's COPY lines
        target = context / source
        if (ROOT / source).is_dir():
            shutil.copytree(ROOT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / source, target)
    dist = work / "dist"
    _run(sys.executable, "-c",
         f"from setuptools import build_meta; build_meta.build_wheel({str(dist)!r})", cwd=context)
    [wheel] = dist.glob("*.whl")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                   .strip())
    (purelib / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
         "--disable-pip-version-check", "--no-deps", "--no-index", wheel)
    return wheel, venv


def test_the_wheel_holds_the_packages_and_the_licence(built: tuple[Path, Path]) -> None:
    wheel, _ = built
    names = zipfile.ZipFile(wheel).namelist()
    packages = {str(Path(n).parent) for n in names if n.endswith("/__init__.py")}
    assert {"service", "statemachine", "scripts", "scripts/redisops", "scripts/drill"} <= packages
    left_out = ("tests", "scripts/benchmark", "scripts/soak", "scripts/runner", "scripts/harness")
    assert not {p for p in packages if p.startswith(left_out)}
    version = _setup()["metadata"]["version"]
    # Built for this interpreter and platform: it carries the compiled module.
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert wheel.name.startswith(f"roleready_cache-{version}-{tag}-{tag}-linux_"), wheel.name
    assert [n for n in names if n.startswith("service/_speedups.") and n.endswith(".so")]
    assert any(n.endswith(".dist-info/LICENSE") for n in names)


def test_the_installed_wheel_runs_the_compiled_loops(built: tuple[Path, Path]) -> None:
    _, venv = built
    script = "import service.speedups as s; print(s.COMPILED, s.__file__)"
    compiled, where = _run(venv / "bin" / "python", "-c", script).split()
    assert compiled == "True"
    assert not where.startswith(str(ROOT))  # the wheel's copy, not the checkout's


def test_every_dependency_is_at_its_constraint(built: tuple[Path, Path]) -> None:
    wheel, venv = built
    pins = {}
    for line in (ROOT / "scripts" / "constraints.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        pins[name.lower().replace("_", "-")] = version
    [metadata] = [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    required = [Requirement(line.removeprefix("Requires-Dist:").strip())
                for line in text.splitlines() if line.startswith("Requires-Dist:")]
    needed = sorted(r.name.lower().replace("_", "-") for r in required
                    if r.marker is None or r.marker.evaluate({"extra": ""}))
    assert {"aiohttp", "redis", "transitions", "orjson", "prometheus-client"} <= set(needed)
    script = ("import sys\nfrom importlib import metadata\n"
              "for name in sys.argv[1:]: print(name, metadata.version(name))")
    found = dict(line.split() for line in _run(venv / "bin" / "python", "-c", script,
                                                *needed).splitlines())
    assert found == {name: pins[name] for name in needed}


def test_each_console_script_answers_help_from_the_wheel(built: tuple[Path, Path]) -> None:
    _, venv = built
    scripts = _setup()["options.entry_points"]["console_scripts"]
    assert {line.split("=")[0].strip() for line in scripts.strip().splitlines()} == set(COMMANDS)
    for command, usage in COMMANDS.items():
        assert _run(venv / "bin" / command, "--help").startswith(usage), command
    assert _run(venv / "bin" / "roleready-cache", "--version").strip() == (
        _setup()["metadata"]["version"])
    where = _run(venv / "bin" / "python", "-c",
                 "import service, scripts.drill; print(service.__file__, scripts.drill.__file__)")
    assert all(path.startswith(str(venv)) for path in where.split()), where
