"""Who may do what: each route's right, the caller a request names, 401 and 403.

    route ─► its Need (declared on the handler with @needs): a right from
             read / write / purge / observe, whether the namespace in its path
             must be the caller's too, or OPEN (/health, /health/ready)
    request ─► Guard.decide(request, need) ─► (caller, refusal or None):
        no tokens configured at all, or an open route ─► anonymous, allowed
        Authorization names no caller           ─► 401 `unauthorized`
        the caller lacks the right or namespace ─► 403 `forbidden`, naming the
                                                   right or the namespace
        else                                    ─► the Caller, allowed
    The per-request layer decides once (before the memory-hit fast path) and
    hands the decision on to the handler's wrapper when the fast path declines.

Callers come from the one-token form (CACHE_API_TOKEN or CACHE_API_TOKEN_FILE:
every right, every namespace, named "api-token") and from
CACHE_API_TOKENS_FILE (service.http.callers_table); both may be set. A
`?lease=1` GET may hand out a lease token (a promise to write), so it needs
write as well as read.

The caller's name, never its token, goes into the access log, the request's
span (with tracing on, the caller is left on the request under CALLER_KEY
for service.http.tracing; a request mapping costs ~1 us a lookup, so it is
not used otherwise) and the per-caller
request counter, whose label set is bounded: the configured names, ever,
plus "api-token" and "anonymous".
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from service.config import Settings
from service.config.callers import ANONYMOUS, ONE_TOKEN_CALLER, READ, WRITE, Caller
from service.http.api_token import ApiToken, TokenFile, api_token
from service.http.callers_table import CallersTable
from service.http.responses import error_response

H = TypeVar("H", bound=Handler)
NEED_ATTRIBUTE = "access_need"
# Where the caller is left for the span (tracing on only).
CALLER_KEY = web.RequestKey("roleready_caller", Caller)
ANONYMOUS_CALLER = Caller(ANONYMOUS, frozenset(), None)
# The caller, and the refusal (None: go on).
Decision = tuple[Caller, web.Response | None]
ANONYMOUS_ALLOWED: Decision = (ANONYMOUS_CALLER, None)
PROTECTED_PREFIX = "/cache/"


@dataclass(frozen=True, slots=True)
class Need:
    """What a route asks of its caller: `right` (None: nothing, the route is
    open), checked against the path's namespace when `namespaced`."""

    right: str | None
    namespaced: bool = False


OPEN = Need(None)
# Routes no handler matched: open, except under /cache/ (a valid caller first).
UNMATCHED = Need(None, namespaced=True)


def needs(right: str | None, *, namespaced: bool = False) -> Callable[[H], H]:
    """Declare the right a handler's route requires (None: open)."""
    need = Need(right, namespaced) if right is not None else OPEN

    def mark(handler: H) -> H:
        setattr(handler, NEED_ATTRIBUTE, need)
        return handler

    return mark


def need_of(handler: Handler) -> Need:
    """The handler's declared need; a route that forgot to declare one is an
    error at start-up, never an open door."""
    need = getattr(handler, NEED_ATTRIBUTE, None)
    if not isinstance(need, Need):
        raise TypeError(f"{handler.__qualname__} declares no access need (@needs)")
    return need


class Guard:
    """Decides each request's caller from the configured tokens."""

    def __init__(self, token: ApiToken | None, table: CallersTable | None) -> None:
        self.token = token
        self.table = table
        self._open = token is None and table is None
        self.keep_caller = False
        self.counts: dict[str, int] = dict.fromkeys([ANONYMOUS], 0)
        if token is not None:
            self.counts[ONE_TOKEN_CALLER.name] = 0
        for name in table.names if table is not None else ():
            self.counts[name] = 0

    def identify(self, header: str | None) -> Caller | None:
        """The caller an Authorization header names, or None."""
        if header is None or not header.isascii():
            return None
        if self.token is not None and self.token.accepts(header.encode()):
            return ONE_TOKEN_CALLER
        return self.table.caller_of(header) if self.table is not None else None

    def decide(self, request: web.Request, need: Need, namespace: str | None = None,
               ) -> Decision:
        """The request's caller (ANONYMOUS_CALLER when it names none), and the
        401/403 answer or None when it may go on. A namespaced need checks
        `namespace`, or else the route's. With `keep_caller` (tracing on) a
        named caller is also left on the request, for the span."""
        if self._open or need is OPEN:
            return ANONYMOUS_ALLOWED
        if need.right is None and not request.path.startswith(PROTECTED_PREFIX):
            return ANONYMOUS_ALLOWED
        caller = self.identify(request.headers.get("Authorization"))
        if caller is None:
            return ANONYMOUS_CALLER, unauthorized()
        if self.keep_caller:
            request[CALLER_KEY] = caller
        return caller, _refusal(request, need, caller, namespace)

    @property
    def open(self) -> bool:
        """No token of any kind: every route open, every request anonymous."""
        return self._open

    @property
    def reloads(self) -> list[str]:
        """The variables naming the files a SIGHUP re-reads."""
        found = ["CACHE_API_TOKEN_FILE"] if isinstance(self.token, TokenFile) else []
        return found + (["CACHE_API_TOKENS_FILE"] if self.table is not None else [])

    def count(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1

    def reload(self) -> None:
        """SIGHUP: re-read whichever token files there are."""
        if isinstance(self.token, TokenFile):
            self.token.reload()
        if self.table is not None:
            self.table.reload()
            for name in self.table.names:
                self.counts.setdefault(name, 0)


def _refusal(request: web.Request, need: Need, caller: Caller, namespace: str | None,
             ) -> web.Response | None:
    if need.right is None:
        return None  # only a caller was needed (an unmatched /cache/ path)
    if not caller.may(need.right):
        return forbidden(caller, need.right)
    if need.namespaced:
        if namespace is None:
            namespace = request.match_info.get("namespace", "")
        if not caller.covers(namespace):
            return forbidden(caller, need.right, namespace)
    if need.right == READ and "?" in request.raw_path \
            and request.query.get("lease", "0") != "0" and not caller.may(WRITE):
        return forbidden(caller, WRITE)  # a lease GET may hand out a lease token
    return None


def guard(settings: Settings, monotonic: Callable[[], float]) -> Guard:
    table = (CallersTable(settings.cache_api_tokens_file, monotonic)
             if settings.cache_api_tokens_file else None)
    return Guard(api_token(settings, monotonic), table)


def unauthorized() -> web.Response:
    response = error_response(
        401, "unauthorized", "A valid 'Authorization: Bearer <token>' is required."
    )
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def forbidden(caller: Caller, right: str, namespace: str | None = None) -> web.Response:
    """403 naming what is missing: the right, or the namespace (never the token)."""
    if namespace is None:
        return error_response(
            403, "forbidden", f"Caller {caller.name!r} lacks the right {right!r} this request needs.",
            right=right)
    return error_response(
        403, "forbidden", f"Caller {caller.name!r} may not use namespace {namespace!r}.",
        namespace=namespace)


class CallerCounts(Collector):
    """roleready_http_requests_by_caller_total{caller}, read at scrape time."""

    def __init__(self, guard: Guard) -> None:
        self._guard = guard

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "roleready_http_requests_by_caller", "Requests answered, by the caller they "
            "named (\"anonymous\": none, or a refused token).", labels=["caller"])
        for name, value in sorted(self._guard.counts.items()):
            family.add_metric([name], value)
        yield family
