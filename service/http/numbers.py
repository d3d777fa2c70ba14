"""Whole numbers from request input (query parameters, headers): ASCII only.

`str.isdigit()` and `int()` accept far more than "0"-"9": `'²'.isdigit()`
is true and `int('²')` raises, `int('٣')` is 3, and `int(' 7')` or `int('1_0')`
succeed. Request input is parsed here, once, by one rule: 1 to 18 ASCII
digits (below 2**63, so any bound the caller gives can be compared without
turning a megabyte of digits into an int), within the caller's bounds.
"""

from __future__ import annotations

import re

MAX_DIGITS = 18
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}").fullmatch


def whole_number(raw: str | None, minimum: int, maximum: int) -> int | None:
    """`raw` as an int within [minimum, maximum], or None when it is not one."""
    if raw is None or _DIGITS(raw) is None:
        return None
    value = int(raw)
    return value if minimum <= value <= maximum else None
