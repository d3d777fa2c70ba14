"""The settings as people read them: ``--help`` text and the table of docs/configuration.md.

Both are rendered from the declarations, in the order of the Settings
fields, with the namespace variables where ``namespace_ttls_ms`` stands, so
the documentation cannot drift from what ``Settings.from_env`` reads.
``MARKDOWN`` holds ``markdown_table()`` between two marker comments; a test
keeps it equal (regenerate with the command in ``REGENERATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from service.config.declaration import (
    DEFAULT_NAMESPACE_TTLS_MS,
    NAMESPACE_VARIABLE,
    Setting,
    namespace_setting,
    refresh_ahead_setting,
    setting_of,
    stale_setting,
)
from service.config.settings import SETTINGS, Settings

__all__ = [
    "MARKDOWN",
    "REGENERATE",
    "TABLE_BEGIN",
    "TABLE_END",
    "Row",
    "help_text",
    "markdown_table",
    "rows",
]

MARKDOWN = "docs/configuration.md"
TABLE_BEGIN = "<!-- settings table: generated from service/config, do not edit -->"
TABLE_END = "<!-- end of settings table -->"
REGENERATE = (
    ".venv/bin/python -c 'from service.config.docs import markdown_table; "
    "print(markdown_table())'"
)
NAMESPACE_PATTERN = "CACHE_<NAME>_TTL_MS"


@dataclass(frozen=True)
class Row:
    """One documented variable (or the namespace pattern)."""

    variable: str
    default: str
    meaning: str
    bounds: str


def rows() -> Iterator[Row]:
    for f in fields(Settings):
        setting = setting_of(f.metadata)
        if setting is not None:
            yield _row(setting)
        elif f.name == "namespace_ttls_ms":
            yield from _namespace_rows()


def _row(setting: Setting[Any]) -> Row:
    return Row(setting.variable, setting.default_text(), setting.help, setting.bounds_text())


def _namespace_rows() -> Iterator[Row]:
    for namespace in DEFAULT_NAMESPACE_TTLS_MS:
        yield _row(namespace_setting(namespace))
    lookalikes = sorted(s.variable for s in SETTINGS if NAMESPACE_VARIABLE.match(s.variable))
    meaning = "any such variable declares namespace `<name>` (lower-cased), TTL in ms"
    if lookalikes:
        meaning += "; not " + ", ".join(lookalikes)
    yield Row(NAMESPACE_PATTERN, "—", meaning, namespace_setting("custom").bounds_text())
    for setting in (stale_setting("<name>"), refresh_ahead_setting("<name>")):
        yield Row(setting.variable, setting.default_text(),
                  setting.help.replace("`<name>`", "`<name>` (declared by its TTL variable)"),
                  setting.bounds_text())


def markdown_table() -> str:
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    lines += [f"| `{r.variable}` | {r.default} | {r.meaning} |" for r in rows()]
    return "\n".join(lines)


def help_text() -> str:
    """The settings part of ``--help``: variable, default, meaning, bounds."""
    lines = ["settings (environment variables, all optional):"]
    for r in rows():
        lines.append(f"  {r.variable}  default {r.default}; {r.bounds}")
        lines.append(f"      {r.meaning}")
    return "\n".join(lines)
