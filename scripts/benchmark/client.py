"""The HTTP clients of the bench itself (not the load): one request at a
time with the standard library, and one keep-alive connection.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.client import HTTPConnection
from typing import Any


class BenchError(RuntimeError):
    """A process would not start or answer: the run cannot go on."""


def http(url: str, *, method: str = "GET", body: bytes | None = None,
         headers: Mapping[str, str] | None = None,
         timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    """One request with the standard library: (status, headers, body)."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def http_json(url: str, post: Any = None, **request: Any) -> tuple[int, Any]:
    """`http()`'s status and parsed JSON body (None when there is none); `post`
    is sent as JSON, by POST."""
    if post is not None:
        request = {"method": "POST", "body": json.dumps(post).encode(),
                   "headers": {"Content-Type": "application/json"}, **request}
    status, _, raw = http(url, **request)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


class Connection:
    """One keep-alive HTTP/1.1 connection to a local server, requests one after
    another; `call()` answers as `http()` does, checked against `expect`."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.connection = HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method: str, path: str, body: bytes | None = None,
             expect: int | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        answer = response.status, dict(response.getheaders()), response.read()
        if expect is not None and answer[0] != expect:
            raise BenchError(f"{method} {path} answered {answer[0]}, expected {expect}: "
                             f"{answer[2][:200]!r}")
        return answer

    def close(self) -> None:
        self.connection.close()
