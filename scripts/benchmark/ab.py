"""`scripts/bench --compare REF`: this tree against another, side by side,
in both orientations (the slot itself costs ~3 %, so this/REF without it
is sqrt(forward / swapped)).

Method: docs/performance.md, "Comparing two trees: `scripts/bench --compare`".
"""

from __future__ import annotations

import json
import math
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import Comparison, Rounds, side_by_side
from scripts.benchmark.load import Generator, Request, Workload
from scripts.benchmark.processes import ROOT, BenchError, Processes
from scripts.benchmark.report import Report, n, row, span, table
from scripts.harness.sentinel import replica_in_sync
from scripts.harness.service_process import http
from scripts.harness.waiting import wait_for

CASES = ("memory_hit_get", "redis_hit_get", "put", "mget")


def tree_of(ref: str, run_dir: Path) -> Path:
    """The checkout to run REF from: a directory as given, else `git archive REF`."""
    if (Path(ref) / "service").is_dir():
        return Path(ref).resolve()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True,
                             check=False)
    if archive.returncode != 0:
        raise BenchError(f"--compare {ref}: {archive.stderr.decode(errors='replace').strip()}")
    tree = run_dir / "compared-tree"
    tree.mkdir()
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


Side = tuple[Path, dict[str, str]]  # a tree's checkout, and variables for its services only


def orientation(procs: Processes, split: Generator, plan: Rounds, after: Side, before: Side,
                value: bytes, replica: bool = False) -> dict[str, Any]:
    """after/before of every case: side_by_side's figures (after in its "service" slot).
    With `replica`, the Redis has a replica in sync (a tree confirms its writes there)."""
    redis = procs.redis("redis")
    if replica:
        copy = procs.redis("redis-replica", "--replicaof", "127.0.0.1", str(redis.port))
        wait_for(lambda: replica_in_sync(copy), 10.0, "the replica in sync", error=BenchError)
    # (memory tier, Redis hits) of each tree. Keys under one prefix per side: a
    # tree that tracks keys hears only its own side's writes as invalidations,
    # as a fleet of its own would.
    trees = {side: wl.hot_services(procs, side, redis.url, plan.instances, value, root, **env)
             for side, (root, env) in (("after", after), ("before", before))}
    mget = json.dumps({"keys": [f"hot{i}" for i in range(wl.HOT_KEYS)]}).encode()
    cases = {"memory_hit_get": (wl.hot_get(), 0), "redis_hit_get": (wl.hot_get(), 1),
             "put": (wl.put(value), 0),
             "mget": (Workload("mget", (Request("POST", wl.path("_mget"), mget, wl.CONTENT_TYPE),)), 0)}
    has_mget = all(http(t[0][0].base_url + wl.path("_mget"), method="POST", body=mget,
                        headers={"Content-Type": wl.CONTENT_TYPE})[0] == 200
                   for t in trees.values())
    return {case: side_by_side(split, Comparison(
        case, case, workload, trees["after"][kind], trees["before"][kind], "before", 1.0,
        strict=True), plan.side_by_side_rounds, plan.side_by_side_s)
        for case, (workload, kind) in cases.items() if case != "mget" or has_mget}


def compare_trees(procs: Processes, split: Generator, plan: Rounds, ref: str,
                  envs: dict[str, dict[str, str]], value: bytes,
                  replica: bool = False) -> dict[str, Any]:
    """Both orientations, each in a group of fresh processes; per case
    this/REF, REF/this and this/REF without the slot's bias."""
    confirm = {"REDIS_REPLICA_CONFIRM": "auto"} if replica else {}
    this = (procs.service_root, {**confirm, **envs["this"]})
    other = (tree_of(ref, procs.run_dir), {**confirm, **envs["ref"]})
    runs = {name: procs.in_group(name, partial(orientation, split=split, plan=plan, after=after,
                                               before=before, value=value, replica=replica))
            for name, after, before in (("forward", this, other), ("swapped", other, this))}
    return {"ref": ref, "tree": str(other[0]), "replica": replica,
            "cases": {case: combined(runs["forward"][case], runs["swapped"][case])
                      for case in runs["forward"].keys() & runs["swapped"].keys()}}


def combined(forward: dict[str, Any], swapped: dict[str, Any]) -> dict[str, Any]:
    """this/REF without the slot's bias, sqrt(forward / swapped), and the
    widest range the per-round figures allow."""
    return {"forward": forward, "swapped": swapped,
            "ratio": math.sqrt(forward["ratio"] / swapped["ratio"]),
            "ratio_min": math.sqrt(min(forward["ratio_per_round"])
                                   / max(swapped["ratio_per_round"])),
            "ratio_max": math.sqrt(max(forward["ratio_per_round"])
                                   / min(swapped["ratio_per_round"]))}


def compare_report(figures: dict[str, Any]) -> Report:
    rows = []
    for case, both in sorted(figures["cases"].items(), key=lambda item: CASES.index(item[0])):
        f, s = both["forward"], both["swapped"]
        rows.append(row(case, n(f["ratio"], 3), span(f["ratio_per_round"], 3), n(s["ratio"], 3),
                        span(s["ratio_per_round"], 3), n(both["ratio"], 3),
                        f"{both['ratio_min']:.3f}-{both['ratio_max']:.3f}",
                        n(f["cpu_ratio"], 3)))
    return [table(f"this tree against {figures['ref']}, side by side on one CPU, both "
                  "orientations; medians (rounds min-max)" + (
                      "; the Redis with a replica, REDIS_REPLICA_CONFIRM=auto"
                      if figures.get("replica") else ""),
                  ("this/ref", "rounds", "ref/this", "rounds", "no bias", "range", "CPU"), rows,
                  ("ref/this: REF in this tree's slot (the swapped orientation); no bias: "
                   "sqrt(this/ref / ref/this), the slot's bias removed;",
                   "CPU: REF's CPU time per request / this tree's, this/ref orientation"))], []
