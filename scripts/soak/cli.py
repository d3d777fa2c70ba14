"""scripts/chaos: a chaos soak of the fleet, and the verdict on its history.

Starts one redis-server (AOF, appendfsync always) and the service instances
on free loopback ports, runs a seeded fixed-rate load through them while a
seeded schedule kills, restarts, pauses and resumes Redis, then checks every
operation and every journal (scripts/soak/history.py, journal.py).

Exit codes: 0 no violation, 1 violations, 2 the run could not be made (a
process would not start), 130 interrupted. Whatever happens, every process
it started is stopped before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from scripts import runner
from scripts.soak.fleet import Fleet, FleetError
from scripts.soak.report import render, to_json
from scripts.soak.run import SoakSettings, soak
from scripts.soak.sentinel import Failovers, SentinelFleet, render_failovers, soak_sentinel
from scripts.soak.sentinel import to_json as sentinel_json

EXIT_OK, EXIT_VIOLATIONS, EXIT_FAILED = 0, 1, 2


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (20)")
    parser.add_argument("--rate", type=float, default=200.0, help="operations a second (200)")
    parser.add_argument("--keys", type=int, default=20, help="size of the key space (20)")
    parser.add_argument("--seed", type=int, default=1, help="seeds the op mix and the faults")
    parser.add_argument("--instances", type=int, default=2, choices=range(1, 27),
                        metavar="N", help="service instances (2)")
    parser.add_argument("--settle-ms", type=float, default=100.0,
                        help="N: how long every link must have been ready before a GET "
                             "is held to the promise (100, at most 100)")
    parser.add_argument("--no-faults", action="store_true", help="leave Redis alone")
    parser.add_argument("--restarts", action="store_true",
                        help="instead of plain Redis faults: in each Redis outage stop one "
                             "instance (SIGTERM or SIGKILL, in turn) and start it again; "
                             "each instance keeps its outage writes in a state directory")
    parser.add_argument("--sentinel", action="store_true",
                        help="master, replica and 3 sentinels; the faults are cycles of "
                             "failovers (scripts/soak/sentinel.py)")
    parser.add_argument("--json", type=Path, help="write the whole run (every op) here")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run's directory (service and Redis logs)")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.rate <= 0 or args.keys < 1:
        parser.error("--duration and --rate must be positive, --keys at least 1")
    if not 0 <= args.settle_ms <= 100:
        parser.error("--settle-ms must be between 0 and 100: the promise's N is at most 100")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    settings = SoakSettings(args.duration, args.rate, args.keys, args.seed, args.instances,
                            not args.no_faults, args.settle_ms / 1000, args.restarts)

    def work(run_dir: Path) -> int:
        failovers: Failovers | None = None
        if args.sentinel:
            with SentinelFleet(run_dir, args.instances) as sentinel_fleet:
                if settings.faults:
                    outcome, failovers = asyncio.run(soak_sentinel(sentinel_fleet, settings))
                else:
                    outcome = asyncio.run(soak(sentinel_fleet, settings))
        else:
            with Fleet(run_dir, args.instances, state_dirs=args.restarts) as fleet:
                outcome = asyncio.run(soak(fleet, settings))
        print(render(outcome))
        document = to_json(outcome)
        if failovers is not None:
            print(render_failovers(outcome, failovers))
            document["sentinel"] = sentinel_json(failovers, outcome)
        if args.json is not None:
            args.json.write_text(json.dumps(document, indent=1) + "\n")
        if args.keep:
            print(f"(logs in {run_dir})")
        return EXIT_OK if not outcome.violations else EXIT_VIOLATIONS

    return runner.run("scripts/chaos", work, keep=args.keep, failures=(FleetError,),
                      failed=EXIT_FAILED)
