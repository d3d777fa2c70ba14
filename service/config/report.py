"""What start-up says about the configuration, as lines to log.

A misspelled variable used to pass silently: ``CACHE_DEFUALT_TTL_MS`` is a
legal namespace declaration (namespace ``defualt``), and an unknown
``REDIS_*`` name was simply ignored. So start-up lists the namespaces with
their TTLs, warns about ``REDIS_*``/``CACHE_*`` names nothing reads, and
hints when a declared namespace is a near miss of a built-in one. It also
says who may call (the token settings in use, by name) and warns when no
token is configured at all: every route is then open to whoever reaches
HOST. Warnings name variables, never their values: a value may be a secret.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from service.config.declaration import (
    DEFAULT_NAMESPACE_TTLS_MS,
    REFRESH_AHEAD_VARIABLE,
    STALE_VARIABLE,
    namespace_variable,
)
from service.config.settings import VARIABLES, Settings, namespace_of

__all__ = ["WATCHED_PREFIXES", "StartupReport", "edit_distance", "startup_report"]

# Variables with these prefixes belong to this service, so an unknown one is
# most likely a typo; other names (PATH, HOME, ...) are none of its business.
WATCHED_PREFIXES = ("REDIS_", "CACHE_")
# "defualt" is 1 from "default" (a swap); 2 still catches a doubled or
# dropped letter plus another slip without matching unrelated names.
NEAR_MISS_DISTANCE = 2


@dataclass(frozen=True)
class StartupReport:
    """Lines to log at INFO and at WARNING, in order."""

    lines: tuple[str, ...]
    warnings: tuple[str, ...]


def startup_report(settings: Settings, environ: Mapping[str, str]) -> StartupReport:
    warnings = [*_unknown_variables(environ), *_near_miss_namespaces(settings),
                *_open_service(settings), *_no_state_dir(settings)]
    lines = (_namespaces_line(settings), _access_line(settings))
    return StartupReport(lines=lines, warnings=tuple(warnings))


def _token_settings(settings: Settings) -> list[str]:
    return [variable for variable, value in (
        ("CACHE_API_TOKEN", settings.cache_api_token),
        ("CACHE_API_TOKEN_FILE", settings.cache_api_token_file),
        ("CACHE_API_TOKENS_FILE", settings.cache_api_tokens_file)) if value]


def _access_line(settings: Settings) -> str:
    tokens = _token_settings(settings)
    if not tokens:
        return "access: no token, every route open"
    return f"access: bearer tokens from {', '.join(tokens)}; /health and /health/ready open"


def _open_service(settings: Settings) -> list[str]:
    if _token_settings(settings):
        return []
    why = " (CACHE_API_AUTH=none)" if settings.cache_api_auth == "none" else ""
    return [f"no token configured{why}: every route, values included, is open to whoever "
            f"reaches {settings.host}:{settings.port} (CACHE_API_TOKEN, CACHE_API_TOKENS_FILE)"]


def _namespaces_line(settings: Settings) -> str:
    shown = []
    for namespace, ttl_ms in sorted(settings.namespace_ttls_ms.items()):
        origin = "" if namespace in DEFAULT_NAMESPACE_TTLS_MS else " (declared)"
        shown.append(f"{namespace}={ttl_ms} ms{origin}")
    return "namespaces and TTLs: " + ", ".join(shown)


def _unknown_variables(environ: Mapping[str, str]) -> list[str]:
    warnings = []
    for variable in sorted(environ):
        if not variable.startswith(WATCHED_PREFIXES):
            continue
        if variable in VARIABLES or namespace_of(variable) is not None:
            continue
        if STALE_VARIABLE.match(variable) or REFRESH_AHEAD_VARIABLE.match(variable):
            continue  # a namespace's policy; Settings refused any naming no namespace
        close = difflib.get_close_matches(variable, sorted(VARIABLES), n=1, cutoff=0.85)
        hint = f"; did you mean {close[0]}?" if close else ""
        warnings.append(f"unknown variable {variable} is ignored{hint}")
    return warnings


def _no_state_dir(settings: Settings) -> list[str]:
    if settings.cache_state_dir is not None or not settings.redis_enabled:
        return []
    return ["CACHE_STATE_DIR is not set: outage writes (PUT and DELETE accepted while "
            "Redis is unreachable) are held in memory only and do not survive a restart "
            "or a kill of the service"]


def _near_miss_namespaces(settings: Settings) -> list[str]:
    warnings = []
    for namespace in sorted(settings.namespace_ttls_ms):
        if namespace in DEFAULT_NAMESPACE_TTLS_MS:
            continue
        for builtin in DEFAULT_NAMESPACE_TTLS_MS:
            if edit_distance(namespace, builtin) <= NEAR_MISS_DISTANCE:
                warnings.append(
                    f"{namespace_variable(namespace)} declares namespace {namespace!r}, "
                    f"close to the built-in {builtin!r} ({namespace_variable(builtin)}): "
                    "a misspelling?"
                )
    return warnings


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance counting a swap of neighbours as one edit."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]
