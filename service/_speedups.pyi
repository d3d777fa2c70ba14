# The compiled module's signatures (service/_speedups.c); service/speedups.py
# has the same functions in Python, and says what they do.
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

def lookup_many(
    entries: OrderedDict[str, Any], head: str, keys: list[str], now: float, /
) -> tuple[dict[str, Any], list[str], list[str], int, bool]: ...
def members(
    kept: dict[Any, tuple[Any, bytes]], found: dict[Any, Any], make: Callable[[Any, Any], bytes], /
) -> list[bytes]: ...
