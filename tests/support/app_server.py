"""aiohttp's TestServer on the service's own runner, so that in-process
tests meet the front door (service.http.front) as the service process has it."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from service.server import ServiceRunner


class ServiceTestServer(TestServer):
    async def _make_runner(self, **kwargs: Any) -> web.AppRunner:
        return ServiceRunner(self.app, **kwargs)
