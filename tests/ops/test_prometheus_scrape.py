"""deploy/prometheus/scrape.yml: the job the alerts expect, scraping with a
token whose caller may only observe, as promtool and the service accept."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient

from tests.ops.conftest import ROOT

SCRAPE = ROOT / "deploy" / "prometheus" / "scrape.yml"
TOKEN = "prometheus-scrape-token"


def job() -> dict[str, Any]:
    (found,) = yaml.safe_load(SCRAPE.read_text())["scrape_configs"]
    assert isinstance(found, dict)
    return found


def test_the_job_is_the_one_the_alerts_name_and_sends_a_token() -> None:
    scrape = job()
    alerts = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    assert f'up{{job="{scrape["job_name"]}"}}' in alerts
    assert scrape["metrics_path"] == "/metrics"
    assert scrape["authorization"]["type"] == "Bearer"
    assert scrape["authorization"]["credentials_file"].startswith("/")


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_accepts_the_job(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    text = SCRAPE.read_text().replace(job()["authorization"]["credentials_file"], str(token))
    (tmp_path / "prometheus.yml").write_text(text)
    checked = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_an_observe_only_caller_scrapes_and_reads_nothing(
    app_client: Callable[..., Awaitable[TestClient]], tmp_path: Path
) -> None:
    callers = tmp_path / "callers.toml"
    callers.write_text(f'[[caller]]\nname = "prometheus"\n'
                       f'sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"\n'
                       'namespaces = ["*"]\nrights = ["observe"]\n')
    client = await app_client("", CACHE_API_TOKENS_FILE=str(callers))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.get("/metrics")).status == 401
    scraped = await client.get("/metrics", headers=auth)
    assert scraped.status == 200 and "roleready_" in await scraped.text()
    assert (await client.get("/cache/default/k", headers=auth)).status == 403
