"""One setting, declared once: variable, kind (type and bounds), default, help.

``declared()`` is used as the default of a ``Settings`` field, so the field,
its default and its declaration are the same line of code; ``--help``, the
docs/configuration.md table and the error messages are all read from these declarations.
Namespaces are declared by data too (``DEFAULT_NAMESPACE_TTLS_MS``) and by
any ``CACHE_<NAME>_TTL_MS`` variable (docs/design.md, Variables).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from service.config.values import ConfigError, Fraction, Integer, Kind

__all__ = [
    "DEFAULT_NAMESPACE_TTLS_MS",
    "NAMESPACE_VARIABLE",
    "Setting",
    "declared",
    "namespace_setting",
    "namespace_variable",
    "setting_of",
]

T = TypeVar("T")
_KEY = "setting"
# Namespaces that exist even when their variable is unset (docs/configuration.md).
DEFAULT_NAMESPACE_TTLS_MS: Mapping[str, int] = MappingProxyType(
    {
        "default": 300_000,
        "resume_parse": 2_592_000_000,
        "job_analysis": 86_400_000,
        "ats_score": 21_600_000,
        "ai_draft": 7_200_000,
    }
)
NAMESPACE_VARIABLE = re.compile(r"^CACHE_([A-Z0-9_]+)_TTL_MS$")
# A namespace's policies; they declare no namespace, only refine one.
STALE_VARIABLE = re.compile(r"^CACHE_([A-Z0-9_]+)_STALE_MS$")
REFRESH_AHEAD_VARIABLE = re.compile(r"^CACHE_([A-Z0-9_]+)_REFRESH_AHEAD$")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """Everything said about one environment variable, in one place."""

    variable: str
    kind: Kind[T]
    default: T
    help: str
    # How the default reads in --help and docs/configuration.md when it has no literal
    # form (None: "(system)", "(none)").
    shown_default: str | None = None
    # Another variable this one may not be below (a cross-field bound).
    at_least: str | None = None
    # Never displayed: repr(), logs and warnings leave the value out.
    secret: bool = False

    @property
    def attribute(self) -> str:
        """The Settings attribute: the variable's name in lower case."""
        return self.variable.lower()

    def read(self, environ: Mapping[str, str]) -> T:
        raw = environ.get(self.variable)
        if raw is None or (self.kind.blank_is_default and not raw.strip()):
            return self.default
        try:
            return self.kind.parse(raw)
        except ValueError as exc:
            raise ConfigError(self.variable, str(exc)) from None

    def default_text(self) -> str:
        if self.shown_default is not None:
            return self.shown_default
        value: Any = self.default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def bounds_text(self) -> str:
        """The kind's type and bounds, with a cross-field bound spelled out."""
        if self.at_least is None:
            return self.kind.describe()
        return f"{self.kind.describe()} and >= {self.at_least}"


def declared(
    variable: str,
    kind: Kind[T],
    default: T,
    help: str,
    *,
    shown_default: str | None = None,
    at_least: str | None = None,
    secret: bool = False,
) -> T:
    """A dataclass field whose metadata is the variable's declaration.

    Typed as the field's value so mypy checks the default against the
    annotation, as it would for a plain default.
    """
    setting = Setting(variable, kind, default, help, shown_default, at_least, secret)
    return field(default=default, repr=not secret, metadata={_KEY: setting})


def setting_of(metadata: Mapping[str, object]) -> Setting[Any] | None:
    """The declaration stored by ``declared()`` in a field's metadata."""
    setting = metadata.get(_KEY)
    return setting if isinstance(setting, Setting) else None


def namespace_variable(namespace: str) -> str:
    return f"CACHE_{namespace.upper()}_TTL_MS"


def namespace_setting(namespace: str) -> Setting[int]:
    """The declaration behind CACHE_<NAME>_TTL_MS.

    A namespace that is not built in has no TTL to fall back to, so a blank
    value is refused rather than read as a TTL of 0.
    """
    builtin = namespace in DEFAULT_NAMESPACE_TTLS_MS
    return Setting(
        namespace_variable(namespace),
        Integer(minimum=1, required=not builtin),
        DEFAULT_NAMESPACE_TTLS_MS.get(namespace, 0),
        f"TTL of namespace `{namespace}`",
    )


def stale_setting(namespace: str) -> Setting[int]:
    """CACHE_<NAME>_STALE_MS: how long after its TTL a value is kept as stale."""
    return Setting(f"CACHE_{namespace.upper()}_STALE_MS", Integer(minimum=0), 0,
                   f"stale-while-revalidate window of namespace `{namespace}`")


def refresh_ahead_setting(namespace: str) -> Setting[float]:
    """CACHE_<NAME>_REFRESH_AHEAD: the last share of a TTL that asks for a refresh."""
    return Setting(f"CACHE_{namespace.upper()}_REFRESH_AHEAD", Fraction(), 0.0,
                   f"eager refresh: the share of the TTL, at its end, of namespace `{namespace}`")
