"""scripts/check-production against real servers configured well and badly."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from scripts.harness.ports import free_port
from scripts.harness.tls import make_certificates
from scripts.harness.waiting import wait_for
from tests.ops.conftest import REDIS_CONF, ROOT, RunScript, StartServer

SECRET = "s3cret-check-password"
ITEMS = ["redis.connection", "persistence.rdb", "persistence.aof", "persistence.last-save",
         "memory.maxmemory", "memory.eviction-policy", "security.auth", "security.tls",
         "service.auth", "backups.recent"]
DEPLOY_ITEMS = ["deploy.redis-exposed", "deploy.redis-auth", "deploy.service-token",
                "deploy.kubernetes-token", "deploy.systemd-token"]


def lines_by_item(stdout: str) -> dict[str, tuple[str, str]]:
    """{item: (status, observed)} from the one-line-per-item report."""
    table = {}
    for line in stdout.splitlines():
        status, _, rest = line.partition("  ")
        item, _, observed = rest.strip().partition(" ")
        if status in ("PASS", "WARN", "FAIL"):
            table[item] = (status, observed.strip())
    return table


def test_a_well_configured_deployment_passes_every_item(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    certs = make_certificates(tmp_path / "tls")
    tls_port = redis_factory(conf=REDIS_CONF, password=SECRET, tls=certs).port
    env = {"REDIS_URL": f"rediss://:{SECRET}@localhost:{tls_port}",
           "REDIS_TLS_CA_FILE": str(certs.ca), "HOST": "0.0.0.0",
           "CACHE_API_TOKENS_FILE": "/etc/roleready-cache/callers.toml"}
    backups = tmp_path / "backups"
    backup = run_script("backup-redis", "--host", "localhost", "--port", tls_port, "--tls",
                        "--backup-dir", backups,
                        env={"REDISCLI_AUTH": SECRET, "REDIS_TLS_CA_FILE": str(certs.ca)})
    assert backup.returncode == 0, backup.stderr

    result = run_script("check-production", "--backup-dir", backups, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    table = lines_by_item(result.stdout)
    assert list(table) == ITEMS
    assert {status for status, _ in table.values()} == {"PASS"}, result.stdout
    assert table["persistence.rdb"][1] == 'save "60 1000 300 100 900 1"'
    assert table["security.auth"][1] == "unauthenticated PING refused (NOAUTH)"
    assert table["security.tls"][1] == "rediss://, certificate verified"
    assert table["redis.connection"][1].startswith(f"rediss://localhost:{tls_port} (redis 7.")
    assert table["service.auth"][1] == "tokens from CACHE_API_TOKENS_FILE"
    assert "10 pass, 0 warn, 0 fail" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_a_badly_configured_deployment_fails_each_item(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    server = redis_factory()  # no save points, no AOF, no maxmemory, noeviction, no password
    result = run_script("check-production", "--backup-dir", tmp_path / "none",
                        env={"REDIS_URL": f"redis://127.0.0.1:{server.port}"})
    assert result.returncode == 1
    table = lines_by_item(result.stdout)
    assert table["redis.connection"][0] == "PASS"
    for item in ITEMS[1:]:
        if item != "persistence.last-save":
            assert table[item][0] == "FAIL", (item, result.stdout)
    assert table["persistence.aof"][1] == "appendonly no"
    assert table["memory.eviction-policy"][1] == "noeviction (allkeys-lru recommended)"
    assert table["security.auth"][1] == "unauthenticated PING answered PONG"
    assert table["security.tls"][1] == "redis:// and REDIS_TLS not true (plaintext)"
    assert table["service.auth"][1].startswith("no token and HOST=0.0.0.0")
    assert table["backups.recent"][1] == f"{tmp_path / 'none'} does not exist"


def test_stale_backup_failed_save_and_unverified_tls_are_reported(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    doomed = tmp_path / "doomed"
    doomed.mkdir()
    server = redis_factory("--dir", str(doomed), "--maxmemory", "64mb",
                       "--maxmemory-policy", "volatile-lru", password=SECRET,
                       tls=make_certificates(tmp_path / "tls"))
    doomed.rmdir()  # the next BGSAVE cannot create its file
    with server.client() as client:
        client.set("k", "v")
        client.bgsave()
        wait_for(lambda: client.info("persistence")["rdb_last_bgsave_status"] == "err",
                 what="the BGSAVE child to fail")
    backups = tmp_path / "backups"
    backups.mkdir()
    stale = backups / "dump_20000101_000000.rdb.gz"
    stale.write_bytes(b"x")
    three_days_ago = time.time() - 3 * 86400
    os.utime(stale, (three_days_ago, three_days_ago))
    # TLS forced by REDIS_TLS on a redis:// URL, without certificate checks;
    # the address from the flags, the password from REDISCLI_AUTH.
    env = {"REDISCLI_AUTH": SECRET, "REDIS_TLS": "true", "REDIS_TLS_REJECT_UNAUTHORIZED": "false"}
    result = run_script("check-production", "--host", "localhost", "--port", server.port,
                        "--backup-dir", backups, env=env)
    assert lines_by_item(result.stdout)["redis.connection"][0] == "PASS", result.stdout
    table = lines_by_item(result.stdout)
    assert table["persistence.last-save"][1].startswith("rdb_last_bgsave_status:err")
    assert table["memory.maxmemory"] == ("PASS", "67108864 bytes (64 MB)")
    assert table["memory.eviction-policy"] == ("WARN", "volatile-lru (allkeys-lru recommended)")
    assert table["security.tls"] == ("WARN", "REDIS_TLS=true, certificate NOT verified")
    assert table["backups.recent"][0] == "FAIL" and stale.name in table["backups.recent"][1]
    assert result.returncode == 1 and SECRET not in result.stdout + result.stderr


def test_unreachable_redis_fails_every_redis_item(run_script: RunScript, tmp_path: Path) -> None:
    port = free_port()
    result = run_script("check-production", "--backup-dir", tmp_path,
                        env={"REDIS_URL": f"redis://:{SECRET}@127.0.0.1:{port}"})
    assert result.returncode == 1
    table = lines_by_item(result.stdout)
    assert table["redis.connection"][0] == "FAIL"
    assert f"cannot connect to redis://127.0.0.1:{port}" in table["redis.connection"][1]
    assert all(table[item] == ("FAIL", "not checked (no connection)") for item in ITEMS[1:7])
    assert SECRET not in result.stdout + result.stderr


def test_memory_only_service_is_a_failure(run_script: RunScript, tmp_path: Path) -> None:
    result = run_script("check-production", "--backup-dir", tmp_path, env={"REDIS_URL": ""})
    assert result.returncode == 1
    assert lines_by_item(result.stdout)["redis.connection"] == (
        "FAIL", "REDIS_URL is empty: the service runs memory-only")


def test_the_shipped_deployment_files_pass_the_deploy_items(run_script: RunScript) -> None:
    result = run_script("check-production", "--deploy-files", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    table = lines_by_item(result.stdout)
    assert list(table) == DEPLOY_ITEMS
    assert {status for status, _ in table.values()} == {"PASS"}, result.stdout


def _copy(tmp_path: Path) -> Path:
    for name in ("docker-compose.yml", "docker-compose.ha.yml", "deploy"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def test_each_unsafe_deployment_file_fails_its_item(
    run_script: RunScript, tmp_path: Path
) -> None:
    root = _copy(tmp_path)
    _rewrite(root / "docker-compose.yml", '"127.0.0.1:6379:6379"', '"6379:6379"')
    _rewrite(root / "docker-compose.ha.yml", "redis-server /run/secrets/redis-auth.conf\n"
             "      --appendonly yes --appendfsync everysec\n", "redis-server --requirepass pw\n"
             "      --appendonly yes --appendfsync everysec\n")
    _rewrite(root / "docker-compose.ha.yml", " /run/secrets/sentinel-auth.conf", "")
    _rewrite(root / "docker-compose.yml", "CACHE_API_TOKEN_FILE:", "CACHE_API_AUTH: none\n"
             "      X_UNUSED:")
    _rewrite(root / "deploy/kubernetes/configmap.yaml", "  CACHE_API_TOKEN_FILE:", "  X_UNUSED:")
    _rewrite(root / "deploy/systemd/roleready-cache.service",
             "Environment=CACHE_API_TOKENS_FILE=/etc/roleready-cache/callers.toml\n", "")
    (root / "deploy/systemd/roleready-cache.env").write_text(
        "REDIS_URL=redis://localhost:6379\nCACHE_API_TOKEN=\n")
    result = run_script("check-production", "--deploy-files", root)
    assert result.returncode == 1
    table = lines_by_item(result.stdout)
    assert {status for status, _ in table.values()} == {"FAIL"}, result.stdout
    assert table["deploy.redis-exposed"][1] == "docker-compose.yml: redis publishes 6379:6379"
    assert "redis-master has a password on its command line" in table["deploy.redis-auth"][1]
    assert "sentinel-1 gets no sentinel auth lines" in table["deploy.redis-auth"][1]
    assert "roleready-cache has CACHE_API_AUTH=none" in table["deploy.service-token"][1]
    assert table["deploy.systemd-token"][1] == "HOST=0.0.0.0 and no token (CACHE_API_TOKEN is empty)"
    assert "pw" not in table["deploy.redis-auth"][1].split()
