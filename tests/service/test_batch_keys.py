"""The batch key check: one pass over all keys must accept exactly what
checking each key alone accepts (service.http.batch_api._all_good)."""

from __future__ import annotations

from typing import Any

import pytest

from service.http.batch_api import _all_good
from service.http.entries import KEY_PATTERN


@pytest.mark.parametrize("keys", [
    ["a"],
    ["user:1", "job.2", "x~y_z-0"],
    ["k" * 512, "a"],
    ["a\nb"],  # a newline inside a key would pass for two good keys
    ["a", "b\n"],
    ["\na"],
    [""],
    ["a", ""],
    ["k" * 513],
    ["a", "k" * 513],
    ["a"] * 300,  # longer than one key may be, together
    ["a"] * 300 + [""],
    ["a", 1],
    ["a", None],
    ["é"],
    ["a b"],
    ["a/b"],
])
def test_the_joined_check_agrees_with_the_per_key_check(keys: list[Any]) -> None:
    one_by_one = all(isinstance(k, str) and KEY_PATTERN.fullmatch(k) for k in keys)
    assert _all_good(keys) is one_by_one


@pytest.mark.parametrize("plane", range(0, 0x110000, 0x10000))
def test_every_character_is_judged_as_the_key_pattern_judges_it(plane: int) -> None:
    for code in range(plane, plane + 0x10000):
        if 0xD800 <= code < 0xE000:
            continue  # surrogates: JSON bodies never hold them unpaired
        key = f"a{chr(code)}b"
        assert _all_good(["ok", key]) is (KEY_PATTERN.fullmatch(key) is not None), hex(code)
