"""scripts/failover-drill's command line: parse, run the steps in order, report.

The steps live in steps.py (the Drill) and sentinel.py (sentinel mode), the
HTTP and shell side in probe.py, the journal check in journal.py.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from scripts.drill.probe import Service
from scripts.drill.sentinel import SentinelDrill, run_sentinel, sentinels_for
from scripts.drill.steps import EXIT_FAILED, EXIT_OK, Drill
from scripts.redisops.rediscli import OpsError

EXIT_INTERRUPTED = 130
DEFAULT_STOP_CMD = "docker stop roleready-redis"
DEFAULT_START_CMD = "docker start roleready-redis"

DESCRIPTION = """\
The guide's "Test Redis Failover" as one command against a running service:
stop Redis, check the service falls back to memory and keeps serving, start
Redis, check it recovers; PASS/FAIL per step, times to detect and recover.
In sentinel mode: kill the master, time the service's move to the promoted
replica."""

EPILOG = """\
failover mode (default): the guide's seven steps plus a journal check
  1 GET /health answers 200      2 /health/detailed .checks.redis.status is healthy
  3 run --stop-cmd (exit 0)      4 .checks.redis.status turns unhealthy within --detect-timeout
  5 /api/status and /health/ready answer 200; a PUT then GET of a unique key
    in --namespace returns the same body with X-Cache: hit-memory
  6 run --start-cmd (exit 0)     7 .checks.redis.status is healthy within --recover-timeout
  8 /health/events since step 2 read ready -> error -> reconnecting (error,
    reconnecting and failed may repeat) -> ready, and nothing after that

cache-recovery mode: the guide's "Test Cache Recovery"; passes when
  1-2 as above   3 --keys keys are PUT and read back   4 stop   5 unhealthy in time
  6 start        7 healthy in time, and checks.cache.redis.reconnects went up
  8 every earlier key reads back with its exact body or as a 404 miss (never
    another body, never an error status); memory-tier entries before and after
    are reported: the service forgets its memory tier when the link reconnects
    (invalidations may have been missed), so earlier keys come back from Redis
    if it persisted them, else as misses: the guide's "cold start"
  9 a key written after recovery reads back, and Redis is still healthy
  10 the journal check (step 8 of failover mode)

sentinel mode: a Sentinel failover (the service runs with REDIS_SENTINELS)
  1-2 as above   3 topology.mode is sentinel, topology.master is the master a
    sentinel names, and a replica is in sync (else nothing is killed)
  4 kill the master: --stop-cmd ({master_host} and {master_port} in it are
    replaced by the master's address, inside its words: no shell runs it), or
    without one SENTINEL FAILOVER <name> sent to a sentinel
  5 the journal shows the link leave ready, or a MasterSwitched, within
    --detect-timeout (time to detect)
  6 /api/status, /health/ready 200; a PUT then GET answers (either tier)
  7 topology.master names another address and checks.redis.status is healthy
    within --recover-timeout (time to the new master), the sentinels agree
  8 a PUT is stored in Redis (X-Cache-Stored: redis)
  with --start-cmd (brings the old master back; the same replacements):
  9 run it   10 the old master is a replica in sync and the service stayed
  last: the journal check of failover mode, plus the MasterSwitched events
  The sentinels: --sentinel (repeatable) or REDIS_SENTINELS, the name
  --master-name or REDIS_SENTINEL_MASTER; REDIS_SENTINEL_PASSWORD, REDIS_TLS,
  REDIS_SENTINEL_PASSWORD_FILE and REDIS_TLS_CA_FILE are used as the service
  uses them.

Once the stop command has run, the start command and the wait for recovery
run even after a failed step or a Ctrl-C (which skips the remaining checks
and any --hold), so the drill does not leave Redis down; a second Ctrl-C
aborts at once (exit 130).

Time to detect / recover / to the new master: from the stop (kill) / start
command's return to the first poll that saw the change (resolution
--poll-interval). "Service-side
outage" is the journal's interval from the link's first error to Connected.
Keys the drill wrote are deleted at the end (best effort). CACHE_API_TOKEN,
when set, is sent as the bearer token on every request (a caller of
CACHE_API_TOKENS_FILE needs read, write and observe). The stop/start commands
are printed and reported as given: pass a Redis password through the
environment (REDISCLI_AUTH), never on their command line.

exit codes: 0 every step passed; 1 a step failed, timed out or was
interrupted (the message names the step); 2 bad usage; 130 aborted by a
second Ctrl-C.

examples:
  scripts/failover-drill --json drill.json      # docker compose: container roleready-redis
  scripts/failover-drill --stop-cmd 'systemctl stop redis' --start-cmd 'systemctl start redis'
  scripts/failover-drill --url http://localhost:3001 --hold 10 \\
    --stop-cmd 'redis-cli -p 6392 shutdown nosave' \\
    --start-cmd 'redis-server --port 6392 --daemonize yes'
  scripts/failover-drill --mode sentinel --sentinel localhost:26379 --master-name mymaster
  scripts/failover-drill --mode sentinel --sentinel localhost:26379 --master-name mymaster \
    --stop-cmd 'redis-cli -h {master_host} -p {master_port} shutdown nosave'
"""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="failover-drill", description=DESCRIPTION,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--mode", choices=("failover", "cache-recovery", "sentinel"), default="failover",
        help="which drill (default %(default)s; the steps are below)")
    add("--url", default="http://localhost:3001", help="the service (default %(default)s)")
    add("--stop-cmd", help=f"command that stops Redis, split into words as a shell would "
        f"and run without one (default: {DEFAULT_STOP_CMD}; "
        "sentinel mode: none, SENTINEL FAILOVER is sent instead)")
    add("--start-cmd", help=f"command that starts Redis again, run as --stop-cmd (default: "
        f"{DEFAULT_START_CMD}; sentinel mode: none, the old master stays down)")
    add("--sentinel", action="append", metavar="HOST:PORT",
        help="sentinel mode: a sentinel to ask (repeatable; default REDIS_SENTINELS)")
    add("--master-name", default=os.environ.get("REDIS_SENTINEL_MASTER"),
        help="sentinel mode: the master's name (default REDIS_SENTINEL_MASTER)")
    add("--detect-timeout", type=positive, default=30.0, metavar="S",
        help="seconds to wait for unhealthy after the stop (and for healthy at first) "
        "(default %(default)s)")
    add("--recover-timeout", type=positive, default=60.0, metavar="S",
        help="seconds to wait for healthy after the start command (default %(default)s)")
    add("--hold", type=non_negative, default=0.0, metavar="S",
        help="keep Redis stopped at least S seconds before the start command, so the "
        "reconnect backoff grows as in a real outage (default %(default)s)")
    add("--poll-interval", type=positive, default=0.25, metavar="S",
        help="seconds between /health/detailed polls (default %(default)s)")
    add("--command-timeout", type=positive, default=60.0, metavar="S",
        help="time limit for each stop/start command (default %(default)s)")
    add("--http-timeout", type=positive, default=5.0, metavar="S",
        help="time limit for each HTTP request (default %(default)s)")
    add("--namespace", default="default",
        help="cache namespace for the drill's keys (default %(default)s)")
    add("--keys", type=int, default=20, help="keys populated in cache-recovery mode (default 20)")
    add("--json", metavar="FILE", help="also write a JSON report to FILE")
    args = parser.parse_args(argv)
    if not 1 <= args.keys <= 1000:
        parser.error("--keys must be between 1 and 1000")
    if args.mode != "sentinel":
        args.stop_cmd = args.stop_cmd or DEFAULT_STOP_CMD
        args.start_cmd = args.start_cmd or DEFAULT_START_CMD
        return args
    if not args.sentinel and os.environ.get("REDIS_SENTINELS"):
        args.sentinel = [os.environ["REDIS_SENTINELS"]]
    if not args.sentinel or not args.master_name:
        parser.error("sentinel mode needs --sentinel (or REDIS_SENTINELS) and "
                     "--master-name (or REDIS_SENTINEL_MASTER)")
    try:
        args.sentinels = sentinels_for(args, os.environ)
    except ValueError as exc:
        parser.error(f"--sentinel: {exc}")
    except OpsError as exc:
        parser.error(str(exc))
    return args


def non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be zero or more seconds: {text}")
    return value


def positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {text}")
    return value


def run_failover(drill: Drill) -> None:
    drill.step("service answers", drill.service_answers)
    drill.step("Redis healthy", drill.redis_healthy)
    drill.step("stop Redis", drill.stop_redis)
    drill.step("fallback detected", drill.fallback_detected)
    drill.step("service still works", drill.still_serves)
    drill.step("start Redis", drill.start_redis, restores=True)
    drill.step("Redis recovered", drill.recovered, restores=True)
    drill.step("journal sequence", drill.journal)


def run_cache_recovery(drill: Drill) -> None:
    drill.step("service answers", drill.service_answers)
    drill.step("Redis healthy", drill.redis_healthy)
    drill.step("populate cache", drill.populate)
    drill.step("stop Redis", drill.stop_redis)
    drill.step("outage detected", drill.fallback_detected)
    drill.step("start Redis", drill.start_redis, restores=True)
    drill.step("Redis reconnected", drill.reconnected, restores=True)
    drill.step("earlier keys consistent", drill.earlier_keys)
    drill.step("write after recovery", drill.write_after)
    drill.step("journal sequence", drill.journal)


def report(drill: Drill, args: argparse.Namespace, started: str, total_s: float,
           left: list[str]) -> dict[str, Any]:
    failure = drill.failure
    return {
        "drill": args.mode, "url": args.url, "passed": failure is None,
        "exit_code": EXIT_OK if failure is None else EXIT_FAILED,
        "started_at": started, "finished_at": now_iso(),
        "failure": None if failure is None else
        {"step": failure.number, "name": failure.name, "message": failure.detail},
        "timings": {"time_to_detect_s": None, "time_to_recover_s": None,
                    "time_to_new_master_s": None, "service_outage_s": None, **drill.context["timings"],
                    "total_s": round(total_s, 3)},
        "steps": [asdict(step) for step in drill.steps],
        "journal": drill.context["journal"],
        "cache": drill.context["cache"] or None,
        "keys_left_behind": left,
        "settings": {name: getattr(args, name) for name in (
            "stop_cmd", "start_cmd", "detect_timeout", "recover_timeout", "hold",
            "poll_interval", "sentinel", "master_name")},
    }


def write_json(path: str, result: dict[str, Any]) -> bool:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=2)
            handle.write("\n")
    except OSError as exc:
        print(f"FAIL: cannot write the JSON report {path}: {exc}", file=sys.stderr)
        return False
    return True


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """The drill; `argv` None reads sys.argv (the wheel's console script)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    service = Service(args.url, args.http_timeout, os.environ.get("CACHE_API_TOKEN") or None)
    drill = (SentinelDrill(service, args, say, args.sentinels) if args.mode == "sentinel"
             else Drill(service, args, say))
    drill.context["run_id"] = uuid.uuid4().hex[:12]
    started, clock = now_iso(), time.monotonic()
    print(f"{args.mode} drill against {args.url}", flush=True)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, drill.on_sigint)
    try:
        if isinstance(drill, SentinelDrill):
            run_sentinel(drill)
        else:
            (run_failover if args.mode == "failover" else run_cache_recovery)(drill)
    except KeyboardInterrupt:
        print("ABORTED by a second Ctrl-C: Redis may still be stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    left = drill.finish()
    result = report(drill, args, started, time.monotonic() - clock, left)
    timings = result["timings"]
    print(f"time to detect: {seconds(timings['time_to_detect_s'])}")
    if args.mode == "sentinel":
        print(f"time to the new master: {seconds(timings['time_to_new_master_s'])}")
    else:
        print(f"time to recover: {seconds(timings['time_to_recover_s'])}")
    print(f"service-side outage (journal): {seconds(timings['service_outage_s'])}")
    if left:
        print(f"warning: could not delete drill keys: {', '.join(left)}")
    if args.json and not write_json(args.json, result):
        return EXIT_FAILED
    failure = drill.failure
    passed = sum(step.status == "pass" for step in drill.steps)
    if failure is None:
        print(f"PASS: all {passed} steps passed")
        return EXIT_OK
    print(f"FAIL: step {failure.number} ({failure.name}): {failure.detail}", file=sys.stderr)
    print(f"FAIL: {passed} of {len(drill.steps)} steps passed")
    return EXIT_FAILED

