"""Is a redis-server using this data directory right now? (for scripts/restore-redis)

Restoring under a running server is worse than useless: the server keeps
its dataset in memory and overwrites the restored files at its next save,
or on shutdown. The check that does not depend on knowing the server's
port: every redis-server chdir()s into its `dir` at start-up, so a process
named redis-server whose /proc/PID/cwd is this directory (same device and
inode; that also matches a container whose volume is this directory) is
using it. Processes this user may not inspect are reported, not guessed.
When the operator names the server's --port, anything listening there also
counts as running.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from scripts.redisops.rediscli import OpsError

EXIT_RUNNING = 3
SERVER_NAMES = ("redis-server",)


def servers_using(data_dir: Path, proc: Path = Path("/proc")) -> tuple[list[int], list[int]]:
    """(PIDs of redis-server processes whose cwd is `data_dir`, PIDs we could not inspect)."""
    wanted = os.stat(data_dir)
    using: list[int] = []
    unknown: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() not in SERVER_NAMES:
                continue
            cwd = os.stat(entry / "cwd")
        except PermissionError:
            unknown.append(int(entry.name))
            continue
        except OSError:  # the process exited meanwhile, or is a zombie
            continue
        if (cwd.st_dev, cwd.st_ino) == (wanted.st_dev, wanted.st_ino):
            using.append(int(entry.name))
    return using, unknown


def port_listening(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_stopped(data_dir: Path, host: str, port: int | None) -> list[str]:
    """Raise when a server uses `data_dir`; return warnings about what could not be checked."""
    using, unknown = servers_using(data_dir)
    if using:
        raise OpsError(
            f"redis-server (PID {', '.join(map(str, using))}) is running in {data_dir}: "
            "stop it first (systemctl stop redis / docker stop roleready-redis), or it "
            "will overwrite the restored files", EXIT_RUNNING)
    if port is not None and port_listening(host, port):
        raise OpsError(f"a server is listening on {host}:{port}: stop it first", EXIT_RUNNING)
    if unknown:
        pids = ", ".join(map(str, unknown))
        return [(f"WARNING: could not inspect redis-server PID {pids} (permission); "
                 "run as root or pass --port to check that server")]
    return []
