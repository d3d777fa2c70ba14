"""Before/after: two checkouts of the service, interleaved in one run.

    python scripts/bench_ab.py --before DIR [--after DIR] [--rounds N] [--duration S]

On a machine whose speed drifts by tens of percent from one second to the
next, two separate bench runs cannot show a 5 % change; this runs both
versions side by side instead, 15 paired rounds of 1 s in alternating order
(the median of the paired ratios is good to about +-3 % here), through the same
comparisons as scripts/bench (memory-hit GET, Redis-hit GET, PUT), with
"after" in the service's place and "before" in the baseline's. Make a
"before" tree with e.g.
    mkdir /tmp/before && git archive <commit> service statemachine | tar -x -C /tmp/before
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import bench_workloads as wl
from bench_compare import Comparison, compare
from bench_load import make_generator
from bench_procs import ROOT, BenchError, Placement, Processes
from bench_run import start_service

CASES = ("memory_hit_get", "redis_hit_get", "put")


def run(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    placement = Placement.choose(pin=True)
    generator = make_generator("auto", 2, 50, run_dir, placement.others)
    procs = Processes(run_dir, placement=placement)
    value = wl.make_value(1024)
    try:
        redis = procs.redis("redis")
        started = {}
        for side, root in (("before", args.before), ("after", args.after)):
            memory = start_service(procs, f"{side}-memory", redis.url, root.resolve())
            redis_only = start_service(procs, f"{side}-redis", redis.url, root.resolve(),
                                       CACHE_LRU_MAX_ITEMS="0")
            for server in (memory, redis_only):
                wl.seed_hot_keys(server.url, value)
            started[side] = {"memory_hit_get": memory.url, "redis_hit_get": redis_only.url,
                             "put": memory.url}
        workloads = {"memory_hit_get": wl.hot_get(), "redis_hit_get": wl.hot_get(),
                     "put": wl.put(value)}
        return {
            case: compare(generator, Comparison(case, case, workloads[case],
                                                started["after"][case],
                                                started["before"][case], "before", 1.0),
                          rounds=args.rounds, duration_s=args.duration, warmup_s=1)
            for case in args.cases
        }
    finally:
        procs.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--duration", type=int, default=1)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    args.cases = [c for c in args.cases.split(",") if c]
    if not set(args.cases) <= set(CASES):
        parser.error(f"--cases takes some of {', '.join(CASES)}")
    run_dir = Path(tempfile.mkdtemp(prefix="roleready-bench-ab-"))
    try:
        results = run(args, run_dir)
    except BenchError as exc:
        print(f"bench_ab: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    for case, r in results.items():
        after, before = r["service"], r["baseline"]
        print(f"{case:<16} before {before['rps']:>8,.0f} req/s p99 {before['p99_ms']:6.2f} ms | "
              f"after {after['rps']:>8,.0f} req/s p99 {after['p99_ms']:6.2f} ms | after/before "
              f"{r['ratio']:.3f} (median of paired rounds; of medians "
              f"{r['ratio_of_medians']:.3f})")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
