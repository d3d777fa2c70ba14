"""Value kinds: how one raw environment string becomes a typed, bounded value.

A kind parses a string and raises ``ValueError`` carrying only the problem;
the setting that owns the kind wraps it in ``ConfigError`` with the
variable's name, so no message can name the wrong variable. ``describe()``
is the type and bounds that ``--help`` shows next to the variable.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "REDIS_SCHEMES",
    "Choice",
    "ConfigError",
    "Flag",
    "Host",
    "Integer",
    "KeyPrefix",
    "Kind",
    "Number",
    "OptionalText",
    "RedisUrl",
    "SecretFile",
    "StateDirectory",
    "WorkerCount",
    "read_secret_file",
    "redact_url",
]

T = TypeVar("T")
REDIS_SCHEMES = ("redis", "rediss")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# Query parameters whose value is a secret (password, sentinel_password, ...).
_SECRET_PARAMETER = re.compile(r"pass|secret|token", re.IGNORECASE)
# Characters a key prefix may not hold: ":" separates the parts of a key (the
# memory tier reads invalidated keys by it), braces pick a Cluster hash slot,
# and the glob characters would widen the SCAN patterns of a purge.
_PREFIX_REFUSED = frozenset(":{}*?[]\\")


class ConfigError(ValueError):
    """A variable holds a value the service cannot run with."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for logs and health output:
    the one in its user part and any query parameter that names a password
    (redis-py reads `?password=`, and a Sentinel URL may carry
    `sentinel_password=`)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc
    if password is not None:
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username or ''}:***@{host}"
    secret = [_SECRET_PARAMETER.search(name) is not None for name, _ in query]
    if any(secret):
        shown = [(name, "***" if hidden else value)
                 for (name, value), hidden in zip(query, secret, strict=True)]
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(shown, safe="*"),
                           parts.fragment))
    if password is None:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class Kind(Generic[T]):
    """What one setting accepts."""

    @property
    def blank_is_default(self) -> bool:
        """Whether an empty value means "unset": for numbers and flags it
        does, for REDIS_URL blank is a meaningful value (memory only)."""
        return False

    def parse(self, raw: str) -> T:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Integer(Kind[int]):
    """A whole number within [minimum, maximum]; ``required`` when there is
    no default to fall back to on a blank value."""

    minimum: int = 0
    maximum: int | None = None
    required: bool = False

    @property
    def blank_is_default(self) -> bool:
        return not self.required

    def parse(self, raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
        if value < self.minimum:
            raise ValueError(f"must be >= {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ValueError(f"must be <= {self.maximum}, got {value}")
        return value

    def describe(self) -> str:
        if self.maximum is None:
            return f"whole number >= {self.minimum}"
        return f"whole number {self.minimum}-{self.maximum}"


@dataclass(frozen=True)
class Number(Kind[float]):
    """A finite-or-infinite number >= minimum (NaN is refused)."""

    minimum: float

    @property
    def blank_is_default(self) -> bool:
        return True

    def parse(self, raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
        if not value >= self.minimum:  # also rejects nan
            raise ValueError(f"must be >= {self.minimum}, got {raw.strip()}")
        return value

    def describe(self) -> str:
        return f"number >= {self.minimum:g}"


@dataclass(frozen=True)
class Fraction(Number):
    """A number from 0 (included) to 1 (excluded): a share of a TTL."""

    minimum: float = 0.0

    def parse(self, raw: str) -> float:
        value = super().parse(raw)
        if value >= 1:
            raise ValueError(f"must be < 1, got {raw.strip()}")
        return value

    def describe(self) -> str:
        return "number >= 0 and < 1"


@dataclass(frozen=True)
class Flag(Kind[bool]):
    """true/false, yes/no, on/off, 1/0 (any case)."""

    @property
    def blank_is_default(self) -> bool:
        return True

    def parse(self, raw: str) -> bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {raw!r}")

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class Choice(Kind[str]):
    """One of a fixed set of words, in any case; kept as the option is spelt."""

    options: Sequence[str]

    def parse(self, raw: str) -> str:
        wanted = raw.strip().upper()
        for option in self.options:
            if option.upper() == wanted:
                return option
        raise ValueError(f"expected one of {', '.join(self.options)}, got {raw!r}")

    def describe(self) -> str:
        return "one of " + ", ".join(self.options)


@dataclass(frozen=True)
class OptionalText(Kind[str | None]):
    """Free text (a path, a secret); empty means unset (None)."""

    def parse(self, raw: str) -> str | None:
        return raw or None

    def describe(self) -> str:
        return "text; empty = unset"


@dataclass(frozen=True)
class WorkerCount(Kind[int]):
    """A number of worker processes, or `auto`: the CPUs this process may use."""

    @property
    def blank_is_default(self) -> bool:
        return True

    def parse(self, raw: str) -> int:
        text = raw.strip().lower()
        if text == "auto":
            return usable_cpus()
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"expected a whole number >= 1 or auto, got {raw!r}")
        return int(text)

    def describe(self) -> str:
        return "whole number >= 1, or auto"


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """CPUs this process may run on: its affinity mask, lowered by a cgroup v2
    CPU quota (a container's CPU limit, which the mask does not show)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = count or 1
    try:
        quota, period = cgroup.read_text().split()[:2]
    except (OSError, ValueError):
        return count
    if quota == "max":
        return count
    return max(1, min(count, math.ceil(int(quota) / int(period))))


def read_secret_file(path: str) -> str:
    """The secret in the file at `path`, surrounding whitespace dropped.

    Raises ValueError saying what is wrong (unreadable, not UTF-8, empty)
    and never quoting the content.
    """
    try:
        with open(path, encoding="utf-8") as source:
            secret = source.read().strip()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text") from None
    if not secret:
        raise ValueError(f"{path} is empty")
    return secret


@dataclass(frozen=True)
class SecretFile(Kind[str | None]):
    """The path of a file holding a secret; empty means unset (None).

    The file is read once here, so a missing, unreadable or empty file stops
    start-up naming the variable; whoever uses the secret reads it again.
    """

    @property
    def blank_is_default(self) -> bool:
        return True

    def parse(self, raw: str) -> str | None:
        path = raw.strip()
        read_secret_file(path)
        return path

    def describe(self) -> str:
        return "path of a readable, non-empty file; empty = unset"


class StateDirectory(Kind[str | None]):
    """A directory this process keeps state in; empty means none. Checked
    here without creating anything (the service creates a missing one), so
    an unusable path stops start-up naming the variable instead of failing
    at the first outage write."""

    @property
    def blank_is_default(self) -> bool:
        return True

    def parse(self, raw: str) -> str | None:
        path = Path(raw.strip())
        existing = path
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise ValueError(f"{str(existing)!r} is not a directory")
        if not os.access(existing, os.W_OK | os.X_OK):
            verb = "write to" if existing == path else f"create {str(path)!r} in"
            raise ValueError(f"this process cannot {verb} {str(existing)!r}")
        return str(path)

    def describe(self) -> str:
        return "path of a writable directory (created if missing); empty = none"


@dataclass(frozen=True)
class HostPorts(Kind[tuple[tuple[str, int], ...]]):
    """`host:port,host:port,...`; empty means none."""

    @property
    def blank_is_default(self) -> bool:
        return True

    def parse(self, raw: str) -> tuple[tuple[str, int], ...]:
        found = []
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            host, sep, port = item.rpartition(":")
            if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError(f"expected host:port items, got {item!r}")
            found.append((host, int(port)))
        return tuple(found)

    def describe(self) -> str:
        return "comma-separated host:port"


@dataclass(frozen=True)
class Host(Kind[str]):
    """A listen address: surrounding spaces dropped, never empty."""

    def parse(self, raw: str) -> str:
        if not raw.strip():
            raise ValueError("must not be empty")
        return raw.strip()

    def describe(self) -> str:
        return "host name or address"


@dataclass(frozen=True)
class KeyPrefix(Kind[str]):
    """The first part of every Redis key, kept out of the key syntax: no
    ":" (the key separator), no braces (Cluster hash tags), no glob
    characters (SCAN patterns), no spaces (redis-cli words), printable ASCII."""

    def parse(self, raw: str) -> str:
        if not raw:
            raise ValueError("must not be empty")
        refused = sorted({ch for ch in raw if ch in _PREFIX_REFUSED
                          or not (ch.isascii() and ch.isprintable()) or ch.isspace()})
        if refused:
            raise ValueError(
                f"must not contain {', '.join(repr(ch) for ch in refused)}: the prefix is "
                "printable ASCII without spaces, ':', braces or glob characters (* ? [ ] \\)"
            )
        return raw

    def describe(self) -> str:
        return "printable ASCII without spaces, ':', '{', '}', '*', '?', '[', ']'"


@dataclass(frozen=True)
class RedisUrl(Kind[str]):
    """redis:// or rediss:// with a host; the empty string means memory only."""

    def parse(self, raw: str) -> str:
        value = raw.strip()
        if value == "":
            return ""
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            raise ValueError("is not a valid URL (bad port?)") from None
        if parts.scheme not in REDIS_SCHEMES:
            scheme = parts.scheme or "(none)"
            raise ValueError(f"unknown scheme {scheme!r}; use redis:// or rediss://")
        if not parts.hostname:
            raise ValueError("has no host")
        if port == 0:
            raise ValueError("port must be 1-65535")
        db = parts.path.strip("/")
        if db and not db.isdigit():
            raise ValueError("the path must be a database number")
        return value

    def describe(self) -> str:
        return "redis:// or rediss:// URL, or empty"
