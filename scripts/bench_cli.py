"""scripts/bench: the service against bare aiohttp and redis-py, and what an
outage costs, side by side in one run (issue 7). See --help.

Flow: parse -> pick the load generator -> memory-tier micro-benchmark ->
start redis-server, the service and the baselines on free loopback ports ->
throughput comparisons -> outage rounds -> stop everything -> table (and JSON).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType
from typing import Any

from bench_load import make_generator
from bench_outage import OutagePlan
from bench_procs import BenchError, Processes
from bench_report import render
from bench_run import Plan, machine, run_sections
from bench_targets import evaluate

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
SECTIONS = ("memory", "throughput", "outage")

EPILOG = """\
exit codes: 0 measured (targets met or not: they are read by people, see the
table); 1 a server would not start or a measurement failed (logs are kept);
2 bad usage; 130 interrupted (everything started is stopped first).

The default run takes about 2.5 minutes on 2 cores, --quick about 25 s.
"""


class Interrupted(Exception):
    """SIGTERM/SIGHUP arrived: unwind so that every process gets stopped."""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/bench", description=__doc__.splitlines()[0] + " " + __doc__.splitlines()[1],
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true",
                        help="1 round of 1 s per figure, short outage phases (smoke test)")
    parser.add_argument("--rounds", type=int, help="rounds per figure (default 3; --quick 1)")
    parser.add_argument("--duration", type=int, help="seconds per load run (default 4; --quick 1)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator (auto: wrk when on PATH, else Python workers)")
    parser.add_argument("--threads", type=int, default=2, help="generator threads (default 2)")
    parser.add_argument("--connections", type=int, default=50,
                        help="concurrent connections (default 50)")
    parser.add_argument("--value-bytes", type=int, default=1024, help="stored value size")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default {','.join(SECTIONS)})")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs)")
    args = parser.parse_args(argv)
    args.sections = {s.strip() for s in args.only.split(",") if s.strip()}
    if not args.sections or not args.sections <= set(SECTIONS):
        parser.error(f"--only takes some of {', '.join(SECTIONS)}")
    for name in ("rounds", "duration", "threads", "connections", "value_bytes"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.connections < args.threads:
        parser.error("--connections must be >= --threads")
    return args


def make_plan(args: argparse.Namespace) -> Plan:
    if args.quick:
        outage = OutagePlan(lead_s=0.5, failure_s=2, outage_s=1, recovery_s=2, back_after_s=0.3)
        return Plan(True, args.rounds or 1, args.duration or 1, 0, args.value_bytes, 50_000,
                    outage)
    outage = OutagePlan(lead_s=1.0, failure_s=3, outage_s=2, recovery_s=3, back_after_s=0.5)
    return Plan(False, args.rounds or 3, args.duration or 4, 1, args.value_bytes, 300_000, outage)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def measure(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    started = time.monotonic()
    plan = make_plan(args)
    generator = make_generator(args.generator, args.threads, args.connections, run_dir)
    procs = Processes(run_dir)
    try:
        figures = run_sections(procs, generator, plan, args.sections, run_dir)
    finally:
        procs.close()
    report: dict[str, Any] = {
        "schema": 1,
        "machine": machine(),
        "generator": {"name": generator.name, "version": generator.version,
                      "threads": generator.threads, "connections": generator.connections},
        "settings": {"quick": plan.quick, "rounds": plan.rounds, "duration_s": plan.duration_s,
                     "warmup_s": plan.warmup_s, "value_bytes": plan.value_bytes},
        **figures,
    }
    report["targets"] = evaluate(report)
    report["runtime_s"] = time.monotonic() - started
    return report


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    # Also when started in the background, where SIGINT arrives ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    run_dir = Path(tempfile.mkdtemp(prefix="roleready-bench-"))
    keep = args.keep
    try:
        report = measure(args, run_dir)
    except BenchError as exc:
        print(f"scripts/bench: {exc}\n(logs in {run_dir})", file=sys.stderr)
        keep = True
        return EXIT_FAILED
    except (KeyboardInterrupt, Interrupted):
        print("scripts/bench: interrupted; everything it started is stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    print(render(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
