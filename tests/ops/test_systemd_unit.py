"""deploy/systemd/roleready-cache.service and its environment file.

`systemd-analyze verify` reads the unit as systemd would (an unknown key, a
bad value or a missing ExecStart binary is reported); it needs no running
systemd, only unit files: it is given a root holding this machine's own
units (for the targets the unit names), the unit, and a stand-in for the
installed executable. Then the unit's content is read back for what verify
cannot judge: the hardening, the restart policy, the stop timeout against
SHUTDOWN_DRAIN_MS + SHUTDOWN_TIMEOUT_MS, and settings that are all known
and never secret outside the EnvironmentFile.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from service.config import SETTINGS, VARIABLES, Settings, redact_url
from tests.ops.conftest import ROOT

UNIT = ROOT / "deploy" / "systemd" / "roleready-cache.service"
ENV_FILE = ROOT / "deploy" / "systemd" / "roleready-cache.env"
SYSTEM_UNITS = Path("/usr/lib/systemd/system")
DEFAULTS = {s.variable: s.default for s in SETTINGS}
SECRETS = {s.variable for s in SETTINGS if s.secret}
HARDENING = {
    "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
    "PrivateTmp": "yes", "PrivateDevices": "yes", "CapabilityBoundingSet": "",
}

Unit = dict[str, list[tuple[str, str]]]  # section -> (key, value) in order; keys repeat


def parse_unit(text: str) -> Unit:
    sections: Unit = {}
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key.strip(), value.strip()))
    return sections


def values(unit: Unit, section: str, key: str) -> list[str]:
    return [value for name, value in unit[section] if name == key]


def only(unit: Unit, section: str, key: str) -> str:
    (value,) = values(unit, section, key)
    return value


def environment(unit: Unit) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in values(unit, "Service", "Environment"))


def env_file() -> dict[str, str]:
    found = {}
    for line in ENV_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            found[name] = value
    return found


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, ("systemd-analyze is missing: install Debian's `systemd` package "
                     "(scripts/test does, as root); it runs without systemd as PID 1")
    root = tmp_path / "root"
    shutil.copytree(SYSTEM_UNITS, root / SYSTEM_UNITS.relative_to("/"), symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system" / UNIT.name)
    executable = root / only(parse_unit(UNIT.read_text()), "Service", "ExecStart").lstrip("/")
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    result = subprocess.run([analyze, "verify", f"--root={root}", "--man=no", UNIT.name],
                            capture_output=True, text=True, timeout=30, check=False)
    # verify exits 0 on warnings (an unknown key, a value it ignores): none allowed.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_unit_is_hardened_and_restarts_on_failure() -> None:
    unit = parse_unit(UNIT.read_text())
    user = values(unit, "Service", "User")
    assert only(unit, "Service", "DynamicUser") == "yes" or user and user != ["root"]
    for key, wanted in HARDENING.items():
        assert only(unit, "Service", key) == wanted, key
    assert only(unit, "Service", "Restart") == "on-failure"
    assert only(unit, "Service", "ExecStart").endswith("/bin/roleready-cache")  # setup.cfg's script
    assert only(unit, "Install", "WantedBy") == "multi-user.target"


def test_the_stop_timeout_outlasts_drain_and_shutdown() -> None:
    unit = parse_unit(UNIT.read_text())
    settings = {**DEFAULTS, **environment(unit)}
    stop = only(unit, "Service", "TimeoutStopSec")
    assert stop.endswith("s") and stop[:-1].isdigit(), "TimeoutStopSec in whole seconds"
    assert int(stop[:-1]) * 1000 > (int(settings["SHUTDOWN_DRAIN_MS"])
                                    + int(settings["SHUTDOWN_TIMEOUT_MS"]))


def test_settings_are_known_and_secrets_only_in_the_environment_file(tmp_path: Path) -> None:
    unit = parse_unit(UNIT.read_text())
    in_unit, in_file = environment(unit), env_file()
    assert only(unit, "Service", "EnvironmentFile") == "/etc/" + ENV_FILE.name
    assert not (set(in_unit) | set(in_file)) - VARIABLES
    # Names only in the failure messages: a value here may be a real secret.
    misplaced = sorted(SECRETS & set(in_unit))
    assert not misplaced, f"secrets belong in the EnvironmentFile: {misplaced}"
    # The shipped file holds no secret: a URL without a password, no token.
    leaked = [name for name in SECRETS & set(in_file)
              if in_file[name] and (name != "REDIS_URL"
                                    or redact_url(in_file[name]) != in_file[name])]
    assert not leaked, f"secret values in the shipped file: {leaked}"
    # The callers file is read at start-up: an empty one (no callers) stands in.
    (tmp_path / "callers.toml").write_text("")
    Settings.from_env(in_unit | in_file | {"CACHE_API_TOKENS_FILE": str(tmp_path / "callers.toml"),
                                          "CACHE_STATE_DIR": ""})  # not this machine's


def test_outage_writes_are_kept_in_the_unit_s_state_directory() -> None:
    """CACHE_STATE_DIR is the directory systemd makes for StateDirectory=
    (under /var/lib, owned by the dynamic user, kept across restarts)."""
    unit = parse_unit(UNIT.read_text())
    state = only(unit, "Service", "StateDirectory")
    assert environment(unit)["CACHE_STATE_DIR"] == f"/var/lib/{state}"
    assert only(unit, "Service", "StateDirectoryMode") == "0700"
    assert "CACHE_STATE_DIR" not in env_file()  # one place says it
