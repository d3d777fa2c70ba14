"""scripts/bench: the service against bare aiohttp and redis-py, and what an
outage costs, side by side in one run (docs/performance.md).

Flow: parse -> pick the load generator -> start what each section needs
(sections.py) on free loopback ports and measure, section by section; or,
with --compare, this tree against another (ab.py) -> stop everything ->
table (and JSON). The run directory, interrupts and exit codes: scripts/runner/.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scripts import runner
from scripts.benchmark import workloads as wl
from scripts.benchmark.ab import compare_trees
from scripts.benchmark.compare import Rounds
from scripts.benchmark.load import make_generator
from scripts.benchmark.outage import OutagePlan
from scripts.benchmark.placement import ROOT, Placement
from scripts.benchmark.processes import BenchError, Processes
from scripts.benchmark.report import render
from scripts.benchmark.sections import Plan, machine, run_sections
from scripts.benchmark.stampede import StampedePlan
from scripts.benchmark.targets import evaluate

EXIT_OK = 0
EXIT_FAILED = 1
# The others take a while each (the epilog): only when asked for.
DEFAULT_SECTIONS = ("memory", "throughput", "outage", "invalidation")
SECTIONS = (*DEFAULT_SECTIONS, "failover", "stampede", "batch", "workers")

EPILOG = """\
exit codes: 0 measured (targets met or not: they are read by people, see the
table); 1 a server would not start or a measurement failed (logs are kept);
2 bad usage; 130 interrupted (everything started is stopped first).

On 2 cores: the default run about 2 min 35 s, --quick about 25 s. Without
wrk (Debian: apt-get install wrk) the Python generator runs; it cannot
saturate a memory-hit server. Not in the default run: failover (Sentinel
and Cluster master kills, ~7 s a run of each), stampede (200 callers miss
one key, with and without leases; GET vs GET ?lease=1; ~35 s), batch
(_mget of 100 keys against single GETs and Webdis /MGET/; ~40 s), workers
(uvloop against asyncio's loop, WORKERS=1 against 2; ~2 min).
`--compare REF` (instead of the sections): this tree against a git ref or
a checkout, memory-hit GET, Redis-hit GET, PUT and _mget side by side, in
both orientations (--rounds x 2 s each way, over --instances processes).
docs/performance.md says how each is measured.
"""

def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=__doc__.splitlines()[0] + " " + __doc__.splitlines()[1],
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="1 round of 1 s per figure, short outage phases (smoke test)")
    parser.add_argument("--rounds", type=int,
                        help="rounds of each throughput comparison, each way (default 6; "
                             "--quick 1); the memory tier gets three times as many")
    parser.add_argument("--instances", type=int,
                        help="processes of each server the throughput rounds rotate over "
                             "(default 3; --quick 1)")
    parser.add_argument("--duration", type=int,
                        help="seconds per load run, one after the other (default 1; side by "
                             "side twice that)")
    parser.add_argument("--outage-rounds", type=int,
                        help="rounds of each outage (default 3; --quick 1)")
    parser.add_argument("--failover-runs", type=int,
                        help="runs of each failover, Sentinel and Cluster, each with fresh "
                             "processes (default 3; --quick 1)")
    parser.add_argument("--stampede-callers", type=int,
                        help="stampede: concurrent callers per round, half on each of two "
                             "instances (default 200)")
    parser.add_argument("--stampede-rounds", type=int,
                        help="stampede: rounds, each with fresh keys (default 5; --quick 1)")
    parser.add_argument("--stampede-compute-ms", type=int,
                        help="stampede: how long a caller 'computes' a value (default 500)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator (auto: wrk when on PATH, else Python workers)")
    parser.add_argument("--threads", type=int, default=2, help="generator threads (default 2)")
    parser.add_argument("--connections", type=int, default=50,
                        help="concurrent connections (default 50)")
    parser.add_argument("--value-bytes", type=int, default=1024, help="stored value size")
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
    for side in ("this", "ref"):
        parser.add_argument(f"--{side}-env", action="append", default=[], metavar="NAME=VALUE",
                            help=f"with --compare: a variable for {side} tree's services only "
                                 "(e.g. EVENT_LOOP=asyncio); repeatable")
    args = parser.parse_args(argv)
    args.envs = {}
    for side in ("this", "ref"):
        pairs = [item.partition("=") for item in getattr(args, f"{side}_env")]
        if any(not sep for _, sep, _ in pairs):
            parser.error(f"--{side}-env takes NAME=VALUE")
        args.envs[side] = {name: value for name, _, value in pairs}
    args.sections = {s.strip() for s in args.only.split(",") if s.strip()}
    if not args.sections or not args.sections <= set(SECTIONS):
        parser.error(f"--only takes some of {', '.join(SECTIONS)}")
    for name in ("rounds", "instances", "duration", "outage_rounds", "failover_runs", "threads",
                 "connections", "value_bytes", "stampede_callers", "stampede_rounds",
                 "stampede_compute_ms"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.connections < args.threads:
        parser.error("--connections must be >= --threads")
    if args.service_root is not None and not (args.service_root / "service").is_dir():
        parser.error(f"--service-root {args.service_root}: no service/ package there")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    """--quick: a round of each, short outage phases. Otherwise many short
    rounds, which beat a few long ones on a machine whose speed drifts by tens
    of percent within seconds: 6 rounds visit each of 3 instances twice. The
    stampede's hit-cost rounds are the throughput rounds."""
    quick, duration = args.quick, args.duration or 1
    rounds = args.rounds or (1 if quick else 6)
    return Plan(
        quick, Rounds(rounds, duration, rounds, duration if quick else 2 * duration,
                      0 if quick else 1, args.instances or (1 if quick else 3)),
        args.outage_rounds or (1 if quick else 3), 3 * rounds, 50_000 if quick else 100_000,
        args.value_bytes, OutagePlan(0.5, 2, 1, 2, 0.3) if quick else OutagePlan(1.0, 3, 2, 3, 0.5),
        args.failover_runs or (1 if quick else 3),
        StampedePlan(args.stampede_callers or 200, args.stampede_rounds or (1 if quick else 5),
                     args.stampede_compute_ms or 500, rounds, duration))


def measure(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    started = time.monotonic()
    plan = make_plan(args)
    placement = Placement.choose(args.pin)
    generator = make_generator(args.generator, args.threads, args.connections, run_dir,
                               placement.others)
    # Side by side, each of the two servers gets half the load.
    split = make_generator(args.generator, max(1, args.threads // 2),
                           max(1, args.connections // 2), run_dir, placement.others)
    procs = Processes(run_dir, (args.service_root or ROOT).resolve(), placement)
    try:
        if args.compare:
            figures = {"compare": compare_trees(procs, split, plan.throughput, args.compare,
                                                args.envs, wl.make_value(args.value_bytes))}
        else:
            figures = run_sections(procs, (generator, split), plan, args.sections, run_dir)
    finally:
        procs.close()
    report: dict[str, Any] = {
        "schema": 1,
        "machine": machine(),
        "generator": {"name": generator.name, "version": generator.version,
                      "threads": generator.threads, "connections": generator.connections},
        "settings": {"quick": plan.quick, **asdict(plan.throughput),
                     "outage_rounds": plan.outage_rounds, "memory_rounds": plan.memory_rounds,
                     "failover_runs": plan.failover_runs,
                     "sections": [] if args.compare else sorted(args.sections),
                     "stampede": asdict(plan.stampede), "value_bytes": plan.value_bytes,
                     "service_root": str(procs.service_root),
                     "placement": placement.describe()},
        **figures,
    }
    report["targets"] = evaluate(report)
    report["runtime_s"] = time.monotonic() - started
    return report


def main(argv: list[str]) -> int:
    args = parse_args(argv)

    def work(run_dir: Path) -> int:
        report = measure(args, run_dir)
        print(render(report))
        if args.json is not None:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
        return EXIT_OK

    return runner.run("scripts/bench", work, keep=args.keep, failures=(BenchError,),
                      failed=EXIT_FAILED)
