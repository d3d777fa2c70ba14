"""Configuration: the one frozen settings object, read from the environment.

    values.py       value kinds: parse one string, with its type and bounds
    declaration.py  Setting (variable, kind, default, help) and declared()
    settings.py     Settings: its fields are the declarations; from_env()
    callers.py      CACHE_API_TOKENS_FILE's callers and rights; the refusal of a
                    network HOST without a token
    report.py       start-up lines: namespaces, unknown variables, near misses
    docs.py         --help text and the docs/configuration.md table, from the declarations

Secrets (the password in REDIS_URL, the API token) stay out of ``repr()``,
logs, warnings and every displayed form.
"""

from service.config.declaration import DEFAULT_NAMESPACE_TTLS_MS, Setting
from service.config.report import StartupReport, startup_report
from service.config.settings import (
    LOG_LEVELS,
    SETTINGS,
    VARIABLES,
    Settings,
    namespace_of,
)
from service.config.values import REDIS_SCHEMES, ConfigError, redact_url

__all__ = [
    "DEFAULT_NAMESPACE_TTLS_MS",
    "LOG_LEVELS",
    "REDIS_SCHEMES",
    "SETTINGS",
    "VARIABLES",
    "ConfigError",
    "Setting",
    "Settings",
    "StartupReport",
    "namespace_of",
    "redact_url",
    "startup_report",
]
