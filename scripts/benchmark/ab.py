"""Before/after: two checkouts of the service under the same load at the same time.

    .venv/bin/python -m scripts.benchmark.ab --before DIR [--after DIR] [--rounds N]
        [--duration S] [--instances N] [--cases memory_hit_get,...] [--json FILE]
        [--before-env NAME=VALUE ...] [--after-env NAME=VALUE ...]

(from the checkout's root, after scripts/bench has made .venv and installed wrk).

This machine's CPUs change speed by tens of percent from one second to the
next, so two runs made one after the other (even paired, seconds apart) cannot
show a 5 % change. Here both versions share the one CPU given to servers and
are loaded at the same moment, each by its own generator with half the
connections: the scheduler splits the CPU evenly, any slow patch slows both
alike, and the ratio of their throughputs is the inverse ratio of their CPU
cost per request. Cases as in scripts/bench: memory-hit GET, Redis-hit GET,
PUT. `--after-env EVENT_LOOP=asyncio` (or --before-env) sets a variable for
one side only: the same tree against itself on two event loops, say. Make a
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

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import Comparison, side_by_side
from scripts.benchmark.load import make_generator
from scripts.benchmark.placement import Placement
from scripts.benchmark.processes import ROOT, BenchError, HttpProcess, Processes
from scripts.benchmark.sections import start_service

CASES = ("memory_hit_get", "redis_hit_get", "put")


def run(args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    placement = Placement.choose(pin=True)
    # Half the usual connections per side: 50 in all, as in scripts/bench.
    generator = make_generator("auto", 1, 25, run_dir, placement.others)
    procs = Processes(run_dir, placement=placement)
    value = wl.make_value(1024)
    try:
        redis = procs.redis("redis")
        started: dict[str, dict[str, list[HttpProcess]]] = {}
        for side, root in (("after", args.after), ("before", args.before)):
            servers: dict[str, list[HttpProcess]] = {case: [] for case in CASES}
            # One key prefix per side: a tree that tracks keys hears only its
            # own side's writes as invalidations, as a fleet of its own would.
            env = {"CACHE_KEY_PREFIX": f"ab-{side}", **getattr(args, f"{side}_env")}
            for i in range(args.instances):
                memory = start_service(procs, f"{side}-memory-{i}", redis.url, root.resolve(),
                                       env)
                redis_only = start_service(procs, f"{side}-redis-{i}", redis.url,
                                           root.resolve(), {**env, "CACHE_LRU_MAX_ITEMS": "0"})
                if i == 0:
                    wl.seed_hot_keys(memory.url, value)
                wl.warm_hot_keys(memory.url)
                servers["memory_hit_get"].append(memory)
                servers["redis_hit_get"].append(redis_only)
                servers["put"].append(memory)
            started[side] = servers
        workloads = {"memory_hit_get": wl.hot_get(), "redis_hit_get": wl.hot_get(),
                     "put": wl.put(value)}
        results = {}
        for case in args.cases:
            # "service" is the after tree, "baseline" the before tree.
            comparison = Comparison(case, case, workloads[case], tuple(started["after"][case]),
                                    tuple(started["before"][case]), "before", 1.0)
            pair = side_by_side(generator, comparison, args.rounds, args.duration)
            results[case] = {"before": pair["baseline"], "after": pair["service"],
                             "ratio": pair["ratio"], "ratio_per_round": pair["ratio_per_round"],
                             "cpu_ratio": pair["cpu_ratio"]}
        return results
    finally:
        procs.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark.ab",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--instances", type=int, default=3,
                        help="processes of each tree the rounds rotate over")
    parser.add_argument("--duration", type=int, default=2)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--json", type=Path)
    for side in ("before", "after"):
        parser.add_argument(f"--{side}-env", action="append", default=[], metavar="NAME=VALUE",
                            help=f"a variable for the {side} tree's services only "
                                 "(e.g. EVENT_LOOP=asyncio); repeatable")
    args = parser.parse_args(argv)
    for side in ("before", "after"):
        pairs = [item.partition("=") for item in getattr(args, f"{side}_env")]
        if any(not sep for _, sep, _ in pairs):
            parser.error(f"--{side}-env takes NAME=VALUE")
        setattr(args, f"{side}_env", {name: value for name, _, value in pairs})
    args.cases = [c for c in args.cases.split(",") if c]
    if not set(args.cases) <= set(CASES):
        parser.error(f"--cases takes some of {', '.join(CASES)}")
    run_dir = Path(tempfile.mkdtemp(prefix="roleready-bench-ab-"))
    try:
        results = run(args, run_dir)
    except BenchError as exc:
        print(f"benchmark.ab: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    for case, r in results.items():
        before, after = r["before"], r["after"]
        print(f"{case:<15} before {before['rps']:>7,.0f} req/s {before['cpu_us_per_request']:5.1f} "
              f"CPU us/req | after {after['rps']:>7,.0f} req/s "
              f"{after['cpu_us_per_request']:5.1f} CPU us/req | after/before {r['ratio']:.3f} "
              f"(rounds {min(r['ratio_per_round']):.3f}..{max(r['ratio_per_round']):.3f}; "
              f"CPU {r['cpu_ratio']:.3f})")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
