"""The compiled per-key loops (service/_speedups.c) against their Python
versions (service/speedups.py), case by case: the same answer, the same
order, the same recency left behind, the same errors."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest

from service import speedups
from service.cache.codec import new_stamp
from service.cache.entry import Entry

NOW = 1000.0
PLAIN = new_stamp(1.0, 60_000)
TAGGED = new_stamp(1.0, 60_000, (("t", 1),))


def test_the_compiled_module_is_built_where_the_suite_runs() -> None:
    # scripts/test installs with setup.py, which builds it; were it missing,
    # every other test here would compare the Python loops with themselves.
    assert speedups.COMPILED
    assert speedups.lookup_many is not speedups.lookup_many_py
    assert speedups.members is not speedups.members_py


def _entries(spec: dict[str, tuple[float, Any]]) -> OrderedDict[str, Entry]:
    """`ns:key` entries from key -> (expires_at, stamp), oldest first."""
    return OrderedDict((f"ns:{key}", Entry(key.encode() * 3, "text/plain", expires, False, 9, stamp))
                       for key, (expires, stamp) in spec.items())


CASES = {
    "all hits": ({"a": (NOW + 1, PLAIN), "b": (NOW + 1, PLAIN)}, ["b", "a"]),
    "misses and hits": ({"a": (NOW + 1, PLAIN), "c": (NOW + 1, PLAIN)}, ["x", "a", "y", "c"]),
    "expired, at the very deadline too": (
        {"a": (NOW, PLAIN), "b": (NOW - 5, PLAIN), "c": (NOW + 1, PLAIN)}, ["a", "b", "c"]),
    "a tagged hit": ({"a": (NOW + 1, PLAIN), "b": (NOW + 1, TAGGED)}, ["a", "b"]),
    "a tagged entry expired": ({"a": (NOW + 1, PLAIN), "b": (NOW - 1, TAGGED)}, ["a", "b"]),
    "no stamp": ({"a": (NOW + 1, None)}, ["a"]),
    "an integer deadline": ({"a": (int(NOW) + 1, PLAIN)}, ["a"]),
    "nothing asked": ({"a": (NOW + 1, PLAIN)}, []),
    "a key of another namespace's shape": ({"a": (NOW + 1, PLAIN)}, ["ns:a", "", "a"]),
}


@pytest.mark.parametrize("case", CASES)
def test_lookup_many_agrees_with_its_python_version(case: str) -> None:
    spec, keys = CASES[case]
    compiled, python = _entries(spec), _entries(spec)
    got = speedups.lookup_many(compiled, "ns:", list(keys), NOW)
    want = speedups.lookup_many_py(python, "ns:", list(keys), NOW)
    assert got == want
    assert list(got[0]) == list(want[0])  # the hits in the order asked
    assert all(got[0][key] is compiled[f"ns:{key}"] for key in got[0])
    assert list(compiled) == list(python)  # the same recency: hits made the most recent


@pytest.mark.parametrize("bad", [
    ({"ns:a": "not an entry"}, ["a"]),
    ({"ns:a": ("short",)}, ["a"]),
    ({"ns:a": ("not bytes", "t", NOW + 1, False, 1, None)}, ["a"]),
    ({"ns:a": (b"v", "t", "not a number", False, 1, None)}, ["a"]),
    ({"ns:a": (b"v", "t", NOW + 1, False, 1, None)}, [1]),
])
def test_lookup_many_refuses_what_is_not_a_tier_s_entries(bad: tuple[dict[str, Any], list[Any]]) -> None:
    entries, keys = bad
    with pytest.raises(TypeError):
        speedups.lookup_many(OrderedDict(entries), "ns:", keys, NOW)


def test_lookup_many_takes_only_a_dict_a_str_and_a_list() -> None:
    for args in (([], "ns:", [], NOW), (OrderedDict(), b"ns:", [], NOW), (OrderedDict(), "ns:", (), NOW),
                 (OrderedDict(), "ns:", [], "now")):
        with pytest.raises(TypeError):
            speedups.lookup_many(*args)


def test_members_agrees_with_its_python_version() -> None:
    records = {key: object() for key in "abcde"}
    made: list[tuple[str, str]] = []

    def kept_state() -> dict[str, tuple[object, bytes]]:
        # a and b kept for their very records, c for an older one (an equal
        # one would not do either: identity), d and e not at all.
        return {"a": (records["a"], b"A"), "b": (records["b"], b"B"), "c": (object(), b"old")}

    def maker(kept: dict[str, Any], who: str) -> Any:
        def make(key: str, record: object) -> bytes:
            made.append((who, key))
            kept[key] = (record, key.upper().encode() + b"!")
            return kept[key][1]
        return make

    compiled_kept, python_kept = kept_state(), kept_state()
    got = speedups.members(compiled_kept, records, maker(compiled_kept, "c"))
    want = speedups.members_py(python_kept, records, maker(python_kept, "py"))
    assert got == want == [b"A", b"B", b"C!", b"D!", b"E!"]
    assert [key for who, key in made if who == "c"] == [key for who, key in made if who == "py"]
    assert compiled_kept.keys() == python_kept.keys()


def test_members_passes_on_what_make_raises() -> None:
    def make(key: str, record: object) -> bytes:
        raise ValueError(key)

    for implementation in (speedups.members, speedups.members_py):
        with pytest.raises(ValueError, match="k"):
            implementation({}, {"k": 1}, make)


def test_members_refuses_a_found_that_changes_size_under_it() -> None:
    found = {"a": 1, "b": 2}

    def make(key: str, record: object) -> bytes:
        found.pop("b", None)
        return b"x"

    with pytest.raises(RuntimeError, match="changed size"):
        speedups.members({}, found, make)
