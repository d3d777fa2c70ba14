"""The ops scripts as commands: runnable from a checkout, documented, standard library only."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from tests.ops.conftest import SCRIPTS, RunScript

COMMANDS = ["backup-redis", "restore-redis", "check-production"]


@pytest.mark.parametrize("name", COMMANDS)
def test_help_documents_exit_codes(name: str, run_script: RunScript) -> None:
    path = SCRIPTS / name
    assert os.access(path, os.X_OK)
    assert path.read_text().startswith("#!/usr/bin/env python3\n")
    result = run_script(name, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith(f"usage: {name}")
    assert "exit codes:" in result.stdout


def test_bad_usage_exits_2(run_script: RunScript) -> None:
    result = run_script("backup-redis", "--retention-days", "soon")
    assert result.returncode == 2
    assert "--retention-days: invalid int value: 'soon'" in result.stderr


# Imported only inside a function, by an item that reports a WARN without it.
OPTIONAL = {"yaml"}


def test_scripts_import_only_the_standard_library_and_each_other() -> None:
    # They must run on a Redis host without the project's virtualenv, and
    # must never reach into the service's internals.
    for path in [*(SCRIPTS / "redisops").glob("*.py"), *(SCRIPTS / n for n in COMMANDS)]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                if top in OPTIONAL:
                    assert node not in tree.body, (path, name, "optional: import it lazily")
                    continue
                assert top in sys.stdlib_module_names or name.startswith("scripts.redisops"), (
                    path, name)


def test_deploy_files_without_yaml_warn_and_still_judge_systemd() -> None:
    done = subprocess.run([sys.executable, "-I", "-S", str(SCRIPTS / "check-production"),
                           "--deploy-files", str(SCRIPTS.parent)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARN  deploy.redis-auth" in done.stdout and "PyYAML" in done.stdout
    assert "PASS  deploy.systemd-token" in done.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_commands_run_without_site_packages(name: str) -> None:
    # -I -S: no site-packages, no PYTHONPATH: what a bare python3 has.
    done = subprocess.run([sys.executable, "-I", "-S", str(SCRIPTS / name), "--help"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
