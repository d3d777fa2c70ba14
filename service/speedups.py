"""The per-key loops of a `_mget` of memory hits: in C where service/_speedups.c
was built (setup.py; scripts/run and scripts/test build it), else these.

    lookup_many(entries, "ns:", keys, now)      MemoryTier.get_many's loop
        ─► (hits by key, missed keys, expired names, bytes of the hits'
            values, whether any hit has tags or no stamp); each hit made the
            most recent; the caller removes the expired ones
    members(kept, found, make)                  Fragments.answer's loop
        ─► for each (key, record) of `found`, kept[key]'s member when it
           was made for that very record (kept[key] == (record, member)),
           else make(key, record)

Why in C: a `_mget` of 100 memory hits spent ~45 us of its ~250 us in these
two loops (a hundred turns each of a handful of bytecodes); the same work
in C takes ~22 us, the dict and string operations it cannot avoid
(docs/performance.md, "`_mget` per key"). As aiohttp keeps its speed-ups,
the Python version stays importable under its own name and is tested
against the compiled one, case by case.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

Looked = tuple[dict[str, Any], list[str], list[str], int, bool]


def lookup_many_py(entries: OrderedDict[str, Any], head: str, keys: list[str],
                   now: float) -> Looked:
    get, move_to_end = entries.get, entries.move_to_end
    hits: dict[str, Any] = {}
    missed: list[str] = []
    expired: list[str] = []
    size = 0
    tagged = False
    for key in keys:
        name = head + key
        entry = get(name)
        if entry is None:
            missed.append(key)
            continue
        # Unpacked, not read by name: a NamedTuple's field is a descriptor
        # call, an unpacking is one specialized instruction.
        value, _, expires_at, _, _, stamp = entry
        if expires_at <= now:
            missed.append(key)
            expired.append(name)
            continue
        move_to_end(name)
        hits[key] = entry
        size += len(value)
        if not tagged and (stamp is None or stamp.tags):
            tagged = True
    return hits, missed, expired, size, tagged


def members_py(kept: dict[Any, tuple[Any, bytes]], found: dict[Any, Any],
               make: Callable[[Any, Any], bytes]) -> list[bytes]:
    parts: list[bytes] = []
    append = parts.append
    for key, record in found.items():
        pair = kept.get(key)
        append(pair[1] if pair is not None and pair[0] is record else make(key, record))
    return parts


try:
    from service._speedups import lookup_many, members
except ImportError:  # not built: no compiler where it was installed
    lookup_many, members = lookup_many_py, members_py

COMPILED = lookup_many is not lookup_many_py
