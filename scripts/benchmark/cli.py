"""scripts/bench: the service against bare aiohttp, redis-py and Webdis, and
what an outage costs, side by side in one run (docs/performance.md).

Flow: parse -> wrk -> start what each section needs (sections.py) on free
loopback ports and measure, section by section; or, with --compare, this
tree against another (ab.py) -> stop everything -> table (and JSON). The run
directory, interrupts and exit codes: scripts/runner/.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scripts import runner
from scripts.benchmark.ab import compare_trees
from scripts.benchmark.compare import Rounds
from scripts.benchmark.load import Wrk
from scripts.benchmark.outage import OutagePlan
from scripts.benchmark.processes import ROOT, Placement, Processes
from scripts.benchmark.report import render
from scripts.benchmark.sections import SECTIONS, Plan, Run, machine, run_sections, tables_and_targets
from scripts.benchmark.stampede import StampedePlan
from scripts.benchmark.workloads import make_value
from scripts.harness import ProcessError

EXIT_OK, EXIT_FAILED = 0, 1
# wrk's threads and connections, and the stored value's size: the method's
# (docs/performance.md), not options.
THREADS, CONNECTIONS, VALUE_BYTES = 2, 50, 1024
# The others take a while each (the epilog): only when asked for.
DEFAULT_SECTIONS = ("memory", "throughput", "outage", "invalidation")

EPILOG = """\
exit codes: 0 measured (targets met or not: they are read by people, see the
table); 1 a server would not start, wrk or webdis is missing or a measurement
failed (logs are kept); 2 bad usage; 130 interrupted (all started is stopped).

The sections, how long each takes and how it measures: docs/performance.md.
"""
# Option, help; all take a whole number >= 1.
COUNTS = (
    ("rounds", "rounds of each throughput comparison, each way (default 6; --quick 1); "
               "the memory tier gets three times as many"),
    ("instances", "processes of each server the throughput rounds rotate over "
                  "(default 3; --quick 1)"),
    ("duration", "seconds per load run, one after the other (default 1; side by side twice that)"),
    ("outage-rounds", "rounds of each outage (default 3; --quick 1)"),
    ("failover-runs", "runs of each failover, Sentinel and Cluster, each with fresh "
                      "processes (default 3; --quick 1)"),
    ("stampede-callers", "stampede: concurrent callers per round, half on each of two "
                         "instances (default 200)"),
    ("stampede-rounds", "stampede: rounds, each with fresh keys (default 5; --quick 1)"),
    ("stampede-compute-ms", "stampede: how long a caller 'computes' a value (default 500)"),
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=" ".join(__doc__.splitlines()[:2]),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="1 round of 1 s per figure, short outage phases (smoke test)")
    for name, text in COUNTS:
        parser.add_argument(f"--{name}", type=int, help=text)
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--only", default=",".join(DEFAULT_SECTIONS),
                        help=f"comma-separated sections to run, of {','.join(SECTIONS)} "
                             f"(default {','.join(DEFAULT_SECTIONS)})")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not give the server under test a CPU of its own")
    parser.add_argument("--service-root", type=Path, metavar="DIR",
                        help="run `python -m service` from this checkout instead")
    parser.add_argument("--compare", metavar="REF",
                        help="this tree (or --service-root) against a git ref or a checkout")
    parser.add_argument("--replica", action="store_true",
                        help="with --compare: the Redis has a replica in sync, and both trees' "
                             "services run with REDIS_REPLICA_CONFIRM=auto")
    for which in ("this", "ref"):
        parser.add_argument(f"--{which}-env", action="append", default=[], metavar="NAME=VALUE",
                            help=f"with --compare: a variable for {which} tree's services only "
                                 "(e.g. EVENT_LOOP=asyncio); repeatable")
    args = parser.parse_args(argv)
    args.envs = {}
    for which in ("this", "ref"):
        pairs = [item.partition("=") for item in getattr(args, f"{which}_env")]
        if any(not sep for _, sep, _ in pairs):
            parser.error(f"--{which}-env takes NAME=VALUE")
        args.envs[which] = {name: value for name, _, value in pairs}
    args.sections = {s.strip() for s in args.only.split(",") if s.strip()}
    if not args.sections or not args.sections <= set(SECTIONS):
        parser.error(f"--only takes some of {', '.join(SECTIONS)}")
    for name, _ in COUNTS:
        value = getattr(args, name.replace("-", "_"))
        if value is not None and value < 1:
            parser.error(f"--{name} must be >= 1")
    if args.replica and not args.compare:
        parser.error("--replica goes with --compare")
    if args.service_root is not None and not (args.service_root / "service").is_dir():
        parser.error(f"--service-root {args.service_root}: no service/ package there")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    """--quick: a round of each, short outage phases; the stampede's hit-cost
    rounds are the throughput rounds."""
    quick, duration = args.quick, args.duration or 1
    rounds = args.rounds or (1 if quick else 6)
    return Plan(
        quick, Rounds(rounds, duration, rounds, duration if quick else 2 * duration,
                      0 if quick else 1, args.instances or (1 if quick else 3)),
        args.outage_rounds or (1 if quick else 3), 3 * rounds, 50_000 if quick else 100_000,
        OutagePlan(0.5, 2, 1, 2, 0.3) if quick else OutagePlan(1.0, 3, 2, 3, 0.5),
        args.failover_runs or (1 if quick else 3),
        StampedePlan(args.stampede_callers or 200, args.stampede_rounds or (1 if quick else 5),
                     args.stampede_compute_ms or 500, rounds, duration))


def measure(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    started = time.monotonic()
    plan, placement = make_plan(args), Placement.choose(args.pin)
    generator = Wrk(THREADS, CONNECTIONS, run_dir, placement.others)
    # Side by side, each of the two servers gets half the load.
    split = Wrk(THREADS // 2, CONNECTIONS // 2, run_dir, placement.others)
    procs = Processes(run_dir, (args.service_root or ROOT).resolve(), placement)
    # The stored value, and a file holding it (the bare handler's answer).
    value, value_file = make_value(VALUE_BYTES), run_dir / "value.bin"
    value_file.write_bytes(value)
    try:
        if args.compare:
            figures = {"compare": compare_trees(procs, split, plan.throughput, args.compare,
                                                args.envs, value, args.replica)}
        else:
            figures = run_sections(Run(procs, generator, split, plan, value, value_file),
                                   args.sections)
    finally:
        procs.close()
    report: dict[str, Any] = {
        "schema": 1, "machine": machine(),
        "generator": {"name": generator.name, "version": generator.version,
                      "threads": generator.threads, "connections": generator.connections},
        "settings": {"quick": plan.quick, **asdict(plan.throughput),
                     "outage_rounds": plan.outage_rounds, "memory_rounds": plan.memory_rounds,
                     "failover_runs": plan.failover_runs,
                     "sections": [] if args.compare else sorted(args.sections),
                     "stampede": asdict(plan.stampede), "value_bytes": VALUE_BYTES,
                     "service_root": str(procs.service_root), "placement": placement.describe()},
        **figures,
    }
    tables, report["targets"] = tables_and_targets(report)
    return {**report, "tables": tables, "runtime_s": time.monotonic() - started}


def main(argv: list[str]) -> int:
    args = parse_args(argv)

    def work(run_dir: Path) -> int:
        report = measure(args, run_dir)
        print(render(report))
        if args.json is not None:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
        return EXIT_OK

    return runner.run("scripts/bench", work, keep=args.keep, failures=(ProcessError,),
                      failed=EXIT_FAILED)
