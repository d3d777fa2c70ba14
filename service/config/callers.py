"""Who may call the service: CACHE_API_TOKENS_FILE's callers, and the refusal
of an open service on a network address.

    [[caller]]
    name = "search-team"
    sha256 = "<hex SHA-256 of the token>"      # or a list: old and new, while rotating
    namespaces = ["resume_parse", "ats_score"]  # or ["*"]
    rights = ["read", "write"]                  # from: read, write, purge, observe

The file holds digests, never tokens, so it can live where configuration
lives (a ConfigMap, a repository). `parse_callers` checks every field and
names the caller and the field of the first mistake; it never quotes a
digest. The HTTP layer (service.http.callers_table) follows the file as it
changes; this module only says what a good file is.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from service.config.values import ConfigError, Kind

READ, WRITE, PURGE, OBSERVE = "read", "write", "purge", "observe"
RIGHTS = (READ, WRITE, PURGE, OBSERVE)
EVERY_NAMESPACE = "*"
# The one-token form (CACHE_API_TOKEN or its file): every right, every namespace.
ONE_TOKEN_NAME = "api-token"
# Requests that name no caller: open routes, refused ones, a service without tokens.
ANONYMOUS = "anonymous"
NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
NAMESPACE = re.compile(r"[a-z0-9_]+")
DIGEST = re.compile(r"[0-9a-fA-F]{64}")
FIELDS = frozenset({"name", "sha256", "namespaces", "rights"})
AUTH_NONE = "none"


@dataclass(frozen=True, slots=True)
class Caller:
    """One caller: its name (logged, a metrics label), what it may do and where.

    `namespaces` None means every namespace.
    """

    name: str
    rights: frozenset[str]
    namespaces: frozenset[str] | None

    def may(self, right: str) -> bool:
        return right in self.rights

    def covers(self, namespace: str) -> bool:
        return self.namespaces is None or namespace in self.namespaces


ONE_TOKEN_CALLER = Caller(ONE_TOKEN_NAME, frozenset(RIGHTS), None)
# The callers a file describes: each token's digest (32 bytes) and its caller.
Callers = Mapping[bytes, Caller]


def read_callers(path: str) -> dict[bytes, Caller]:
    """The callers in the file at `path`; ValueError says what is wrong."""
    try:
        with open(path, "rb") as source:
            text = source.read()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        document = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path} is not TOML: {exc}") from None
    return parse_callers(document, path)


def parse_callers(document: Mapping[str, Any], path: str) -> dict[bytes, Caller]:
    unknown = set(document) - {"caller"}
    if unknown:
        raise ValueError(f"{path}: unknown table {sorted(unknown)[0]!r} (only [[caller]])")
    entries = document.get("caller", [])
    if not isinstance(entries, list):
        raise ValueError(f"{path}: `caller` must be an array of tables ([[caller]])")
    found: dict[bytes, Caller] = {}
    names: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        where = f"{path}: caller {number}"
        caller, digests = _caller(entry, where)
        if caller.name in names:
            raise ValueError(f"{where}: the name {caller.name!r} is used twice")
        names.add(caller.name)
        for digest in digests:
            if digest in found:
                raise ValueError(f"{where}: a sha256 already given to {found[digest].name!r}")
            found[digest] = caller
    return found


def _caller(entry: Any, where: str) -> tuple[Caller, list[bytes]]:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: must be a table")
    unknown = set(entry) - FIELDS
    missing = FIELDS - set(entry)
    if unknown or missing:
        problem = f"unknown field {sorted(unknown)[0]!r}" if unknown else \
            f"missing field {sorted(missing)[0]!r}"
        raise ValueError(f"{where}: {problem} (fields: name, sha256, namespaces, rights)")
    name = entry["name"]
    if not isinstance(name, str) or NAME.fullmatch(name) is None \
            or name in (ANONYMOUS, ONE_TOKEN_NAME):
        raise ValueError(f"{where}: name must be 1-64 letters, digits and . _ - "
                         f"(not {ANONYMOUS!r} or {ONE_TOKEN_NAME!r})")
    where = f"{where} ({name})"
    rights = _words(entry["rights"], f"{where}: rights")
    bad = rights - set(RIGHTS)
    if bad:
        raise ValueError(f"{where}: unknown right {sorted(bad)[0]!r} ({', '.join(RIGHTS)})")
    namespaces: frozenset[str] | None = _words(entry["namespaces"], f"{where}: namespaces")
    assert namespaces is not None
    if EVERY_NAMESPACE in namespaces:
        namespaces = None
    elif any(NAMESPACE.fullmatch(namespace) is None for namespace in namespaces):
        raise ValueError(f"{where}: namespaces are [a-z0-9_]+ names, or \"*\" for all")
    return Caller(name, rights, namespaces), _digests(entry["sha256"], where)


def _words(value: Any, what: str) -> frozenset[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a non-empty list of strings")
    return frozenset(value)


def _digests(value: Any, where: str) -> list[bytes]:
    given = value if isinstance(value, list) else [value]
    if not given or not all(isinstance(v, str) and DIGEST.fullmatch(v) for v in given):
        raise ValueError(f"{where}: sha256 must be the 64 hex digits of the token's SHA-256 "
                         "(or a list of them)")
    return [bytes.fromhex(v) for v in given]


@dataclass(frozen=True)
class CallersFile(Kind[str | None]):
    """The path of a callers file; read and checked once here, so a bad file
    stops start-up naming the variable and the mistake."""

    @property
    def blank_is_default(self) -> bool:
        return True

    def parse(self, raw: str) -> str | None:
        path = raw.strip()
        read_callers(path)
        return path

    def describe(self) -> str:
        return "path of a TOML file of [[caller]] entries; empty = unset"


def refuse_open_service(host: str, auth: str, tokens: list[str | None]) -> None:
    """Stop start-up when a non-loopback HOST would serve without any token
    (`tokens`: what CACHE_API_TOKEN, its file and CACHE_API_TOKENS_FILE hold),
    unless CACHE_API_AUTH=none says so on purpose, and then with no token."""
    if auth == AUTH_NONE:
        if any(tokens):
            raise ConfigError("CACHE_API_AUTH", "is none, yet a token is configured: "
                                                "unset one or the other")
        return
    if not any(tokens) and not is_loopback(host):
        raise ConfigError(
            "HOST", f"{host} is not a loopback address and no token is configured: set "
            "CACHE_API_TOKEN (or CACHE_API_TOKEN_FILE) or CACHE_API_TOKENS_FILE, or "
            "CACHE_API_AUTH=none to serve the network without authentication",
        )


def is_loopback(host: str) -> bool:
    """Only addresses that cannot be reached from another machine count."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything
