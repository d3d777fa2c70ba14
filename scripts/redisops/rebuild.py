"""Turn a restored dump.rdb into an AOF directory (restore-redis --rebuild-aof).

Why this exists: with `appendonly yes`, Redis 7 loads only the AOF at
start-up. A restored dump.rdb next to an AOF directory is ignored, and
moving the AOF directory aside is not enough either: the server then starts
EMPTY and writes a fresh, empty AOF (checked with redis-server 7.0.15). So
we start a temporary redis-server on a private unix socket (no TCP port)
with `appendonly no`, let it load the RDB, CONFIG SET appendonly yes (which
writes a new base AOF from the loaded data), wait for that rewrite, and shut
it down without saving. The real server, started afterwards with
`appendonly yes`, loads that AOF.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.redisops.rediscli import Endpoint, OpsError, RedisCli, poll, remaining


def rebuild_aof(data_dir: Path, dbfilename: str, appenddirname: str,
                appendfilename: str, timeout: float, owner: tuple[int, int] | None = None) -> str:
    """Load the RDB into a private redis-server and have it write the AOF;
    with `owner` (uid, gid) that server runs as that user, not as root."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise OpsError("--rebuild-aof needs redis-server on PATH")
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="restore-redis-") as private:
        sock = Path(private) / "redis.sock"
        log = Path(private) / "redis.log"
        command = [
            binary, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--dir", str(data_dir), "--dbfilename", dbfilename, "--save", "",
            "--appendonly", "no", "--appenddirname", appenddirname,
            "--appendfilename", appendfilename, "--aof-use-rdb-preamble", "yes",
            "--daemonize", "no", "--logfile", str(log),
        ]
        as_owner: dict[str, object] = {}
        if owner is not None:
            os.chown(private, *owner, follow_symlinks=False)  # its socket and log
            as_owner = {"user": owner[0], "group": owner[1], "extra_groups": []}
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, **as_owner)  # type: ignore[call-overload]
        try:
            keys = _convert(RedisCli(Endpoint(socket=str(sock))), process, log, deadline)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
    return f"rebuilt {appenddirname}/ from {dbfilename} ({keys} keys) with a temporary redis-server"


def _convert(cli: RedisCli, process: subprocess.Popen[bytes], log: Path,
             deadline: float) -> str:
    def loaded() -> dict[str, str] | None:
        if process.poll() is not None:
            raise OpsError(f"the temporary redis-server exited: {_tail(log)}")
        try:
            return {"dbsize": cli.run("DBSIZE", timeout=remaining(deadline))}
        except OpsError:  # not listening yet, or LOADING
            return None

    keys = poll(loaded, deadline, "the temporary redis-server to load the RDB")["dbsize"]
    cli.config_set("appendonly", "yes")
    info = poll(lambda: _rewritten(cli, deadline), deadline, "the AOF rewrite")
    if info.get("aof_last_bgrewrite_status") != "ok":
        raise OpsError(f"the AOF rewrite failed: {_tail(log)}")
    try:
        cli.run("SHUTDOWN", "NOSAVE", timeout=remaining(deadline))
    except OpsError:
        pass  # the server closes the connection instead of answering
    process.wait(timeout=remaining(deadline))
    return keys


def _rewritten(cli: RedisCli, deadline: float) -> dict[str, str] | None:
    info = cli.info("persistence", timeout=remaining(deadline))
    done = (info.get("aof_rewrite_in_progress") == "0"
            and info.get("aof_rewrite_scheduled") == "0"
            and int(info.get("aof_rewrites", "0")) >= 1)
    return info if done else None


def _tail(log: Path, lines: int = 3) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
