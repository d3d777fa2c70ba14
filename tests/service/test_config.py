"""Settings: every variable parsed, every kind of bad value refused by name,
and the production defaults pinned by what they make the link do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.config import (
    DEFAULT_NAMESPACE_TTLS_MS,
    ConfigError,
    Settings,
    redact_url,
)
from statemachine import (
    BackoffScheduled,
    ConnectionLifecycle,
    ErrorKind,
    FakeClock,
    GaveUp,
    ProbeStarted,
)

REFUSED = "Error 111 connecting to localhost:6379. Connection refused."


def test_defaults_match_the_design_table() -> None:
    s = Settings.from_env({})
    assert (s.host, s.port) == ("0.0.0.0", 3001)
    assert s.redis_url == "redis://localhost:6379"
    assert s.redis_tls is False
    assert s.redis_tls_reject_unauthorized is True
    assert s.redis_tls_ca_file is None
    assert s.redis_lazy_connect is True
    assert s.redis_reconnect_interval_ms == 5000
    assert s.redis_connect_timeout_ms == 10_000
    assert s.redis_command_timeout_ms == 250
    assert s.redis_max_retries_per_request == 3
    assert s.cache_key_prefix == "roleready"
    assert dict(s.namespace_ttls_ms) == {
        "default": 300_000,
        "resume_parse": 2_592_000_000,
        "job_analysis": 86_400_000,
        "ats_score": 21_600_000,
        "ai_draft": 7_200_000,
    }
    assert s.cache_lru_max_items == 1000
    assert s.cache_lru_max_bytes == 67_108_864  # 64 MiB
    assert s.cache_lru_ttl_ms == 600_000
    assert s.cache_max_value_bytes == 1_048_576
    assert s.cache_api_token is None
    assert s.cache_api_token_file is None
    assert s.cache_api_token_overlap_ms == 60_000
    assert s.log_level == "INFO"


def test_every_variable_is_read() -> None:
    env = {
        "PORT": "8080",
        "HOST": "127.0.0.1",
        "REDIS_URL": "rediss://user:pw@cache.example:6380/2",
        "REDIS_TLS": "true",
        "REDIS_TLS_REJECT_UNAUTHORIZED": "false",
        "REDIS_TLS_CA_FILE": "/etc/ca.pem",
        "REDIS_LAZY_CONNECT": "false",
        "REDIS_RECONNECT_INTERVAL_MS": "7000",
        "REDIS_CONNECT_TIMEOUT_MS": "1500",
        "REDIS_COMMAND_TIMEOUT_MS": "100",
        "REDIS_MAX_RETRIES_PER_REQUEST": "0",
        "REDIS_HEALTH_CHECK_INTERVAL_MS": "300",
        "REDIS_BACKOFF_BASE_MS": "50",
        "REDIS_BACKOFF_MAX_MS": "400",
        "REDIS_BACKOFF_FACTOR": "3",
        "REDIS_MAX_RECONNECT_ATTEMPTS": "4",
        "CACHE_KEY_PREFIX": "rr",
        "CACHE_DEFAULT_TTL_MS": "1000",
        "CACHE_RESUME_PARSE_TTL_MS": "2000",
        "CACHE_JOB_ANALYSIS_TTL_MS": "3000",
        "CACHE_ATS_SCORE_TTL_MS": "4000",
        "CACHE_AI_DRAFT_TTL_MS": "5000",
        "CACHE_LRU_MAX_ITEMS": "10",
        "CACHE_LRU_MAX_BYTES": "0",
        "CACHE_LRU_TTL_MS": "60000",
        "CACHE_MAX_VALUE_BYTES": "2048",
        "CACHE_API_TOKEN": "s3cret",
        "CACHE_API_TOKEN_OVERLAP_MS": "5000",
        "JOURNAL_CAPACITY": "50",
        "SHUTDOWN_DRAIN_MS": "100",
        "LOG_LEVEL": "debug",
    }
    s = Settings.from_env(env)
    assert (s.port, s.host) == (8080, "127.0.0.1")
    assert s.redis_url == "rediss://user:pw@cache.example:6380/2"
    assert (s.redis_tls, s.redis_tls_reject_unauthorized) == (True, False)
    assert s.redis_tls_ca_file == "/etc/ca.pem"
    assert s.redis_lazy_connect is False
    assert s.redis_reconnect_interval_ms == 7000
    assert s.redis_connect_timeout_ms == 1500
    assert s.redis_command_timeout_ms == 100
    assert s.redis_max_retries_per_request == 0
    assert s.redis_health_check_interval_ms == 300
    assert dict(s.namespace_ttls_ms) == {
        "default": 1000,
        "resume_parse": 2000,
        "job_analysis": 3000,
        "ats_score": 4000,
        "ai_draft": 5000,
    }
    assert (s.cache_lru_max_items, s.cache_lru_ttl_ms) == (10, 60000)
    assert s.cache_lru_max_bytes == 0
    assert s.cache_max_value_bytes == 2048
    assert s.cache_api_token == "s3cret"
    assert s.cache_api_token_overlap_ms == 5000
    assert (s.journal_capacity, s.shutdown_drain_ms, s.log_level) == (50, 100, "DEBUG")
    policy = s.backoff_policy
    assert (policy.base_s, policy.factor, policy.cap_s) == (0.05, 3.0, 0.4)
    assert (policy.max_attempts, policy.probe_interval_s) == (4, 7.0)


def test_namespace_variables_declare_namespaces_but_lru_ttl_does_not() -> None:
    s = Settings.from_env({"CACHE_SHORT_LIVED_TTL_MS": "1500", "CACHE_LRU_TTL_MS": "9000"})
    assert s.namespace_ttls_ms["short_lived"] == 1500
    assert "lru" not in s.namespace_ttls_ms
    assert set(DEFAULT_NAMESPACE_TTLS_MS) <= set(s.namespace_ttls_ms)


def test_empty_redis_url_means_memory_only() -> None:
    s = Settings.from_env({"REDIS_URL": ""})
    assert s.redis_enabled is False


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("CACHE_LRU_MAX_ITEMS", "abc", "whole number"),
        ("CACHE_LRU_MAX_ITEMS", "-1", ">= 0"),
        ("CACHE_LRU_MAX_BYTES", "-1", ">= 0"),
        ("CACHE_LRU_MAX_BYTES", "64MiB", "whole number"),
        ("CACHE_CUSTOM_TTL_MS", "", "whole number"),
        ("CACHE_DEFAULT_TTL_MS", "-5", ">= 1"),
        ("CACHE_AI_DRAFT_TTL_MS", "soon", "whole number"),
        ("CACHE_CUSTOM_TTL_MS", "0", ">= 1"),
        ("CACHE_MAX_VALUE_BYTES", "1.5", "whole number"),
        ("REDIS_URL", "ftp://x", "unknown scheme"),
        ("REDIS_URL", "localhost:6379", "unknown scheme"),
        ("REDIS_URL", "redis://", "no host"),
        ("REDIS_URL", "redis://host:99999", "not a valid URL"),
        ("REDIS_URL", "redis://host/abc", "database number"),
        ("REDIS_TLS", "maybe", "true or false"),
        ("REDIS_LAZY_CONNECT", "2", "true or false"),
        ("REDIS_COMMAND_TIMEOUT_MS", "0", ">= 1"),
        ("REDIS_BACKOFF_FACTOR", "0.5", ">= 1.0"),
        ("REDIS_BACKOFF_FACTOR", "nan", ">= 1.0"),
        ("PORT", "70000", "<= 65535"),
        ("PORT", "http", "whole number"),
        ("HOST", " ", "must not be empty"),
        ("CACHE_KEY_PREFIX", "a b", "without spaces"),
        ("LOG_LEVEL", "LOUD", "one of"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(
    variable: str, value: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: value})
    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert fragment in caught.value.problem


def test_backoff_cap_below_base_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"REDIS_BACKOFF_BASE_MS": "500", "REDIS_BACKOFF_MAX_MS": "100"})
    assert caught.value.variable == "REDIS_BACKOFF_MAX_MS"
    assert "REDIS_BACKOFF_BASE_MS (500)" in caught.value.problem


def test_backoff_cap_has_one_default_even_when_the_base_is_raised() -> None:
    # The cap used to default to max(10000, base) here and 10000 elsewhere.
    assert Settings.from_env({"REDIS_BACKOFF_BASE_MS": "3000"}).redis_backoff_max_ms == 10_000
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"REDIS_BACKOFF_BASE_MS": "20000"})
    assert caught.value.variable == "REDIS_BACKOFF_MAX_MS"
    assert caught.value.problem.endswith("got 10000 (its default)")
    raised = {"REDIS_BACKOFF_BASE_MS": "20000", "REDIS_BACKOFF_MAX_MS": "20000"}
    assert Settings.from_env(raised).backoff_policy.cap_s == 20.0


def test_blank_numbers_and_flags_mean_their_default() -> None:
    s = Settings.from_env({"PORT": " ", "REDIS_TLS": "", "CACHE_DEFAULT_TTL_MS": ""})
    assert (s.port, s.redis_tls, s.namespace_ttls_ms["default"]) == (3001, False, 300_000)


def _fail_until_given_up(lc: ConnectionLifecycle, clock: FakeClock) -> list[float]:
    """From a refused first connect: wait out each backoff on the clock (as
    the driver does), attempt, be refused; return the delays waited."""
    lc.start_connect()
    lc.error_seen(ErrorKind.CONNECTION_REFUSED, REFUSED)
    delays = []
    while isinstance(step := lc.schedule_retry(), BackoffScheduled):
        assert lc.state == "reconnecting"
        delays.append(step.delay_s)
        clock.advance(step.delay_s)
        lc.start_attempt()
        lc.error_seen(ErrorKind.CONNECTION_REFUSED, REFUSED)
    return delays


def test_default_settings_back_off_1_2_4_8_10_s_then_fail_and_probe_every_5_s() -> None:
    # Pins the production defaults by their effect: a changed backoff base,
    # factor, cap, attempt limit or probe interval fails here.
    settings = Settings.from_env({})
    clock = FakeClock()
    lc = ConnectionLifecycle(clock, settings.backoff_policy)

    delays = _fail_until_given_up(lc, clock)

    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    assert lc.state == "failed"
    gave_up = lc.journal.events()[-1]
    assert isinstance(gave_up, GaveUp) and gave_up.failed_attempts == 10
    assert settings.redis_reconnect_interval_ms == 5000
    for _ in range(3):
        assert isinstance(gave_up, GaveUp) and gave_up.probe_in_s == 5.0
        clock.advance(gave_up.probe_in_s)
        assert isinstance(lc.start_attempt(), ProbeStarted)
        lc.error_seen(ErrorKind.CONNECTION_REFUSED, REFUSED)
        gave_up = lc.schedule_retry()
        assert lc.state == "failed"
    assert clock.monotonic() == sum(delays) + 3 * 5.0


def test_default_health_check_and_command_budget() -> None:
    settings = Settings.from_env({})
    assert settings.redis_health_check_interval_ms == 1000
    assert settings.redis_command_timeout_ms == 250


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@db:6379/0", "redis://:***@db:6379/0"),
        ("rediss://app:hunter2@db:6380", "rediss://app:***@db:6380"),
        ("redis://db:6379", "redis://db:6379"),
        ("redis://db:6379/0?password=hunter2", "redis://db:6379/0?password=***"),
        ("redis://db:6379?db=1&sentinel_password=hunter2&ssl_cert_reqs=none",
         "redis://db:6379?db=1&sentinel_password=***&ssl_cert_reqs=none"),
        ("redis://:pw1@db:6379?Password=hunter2", "redis://:***@db:6379?Password=***"),
        ("", ""),
    ],
)
def test_redact_url_hides_passwords(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_secrets_never_appear_in_repr() -> None:
    s = Settings.from_env(
        {"REDIS_URL": "redis://app:hunter2@db:6379", "CACHE_API_TOKEN": "tok-xyz"}
    )
    text = repr(s)
    assert "hunter2" not in text and "tok-xyz" not in text
    assert "redis://app:***@db:6379" in text


def _start_up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m service` with only `env` (and PATH) in its environment."""
    return subprocess.run(
        [sys.executable, "-m", "service"],
        env=env | {"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_bad_value_stops_start_up_with_exit_2_and_one_line() -> None:
    env = {"CACHE_LRU_MAX_ITEMS": "abc", "REDIS_URL": "redis://u:hunter2@localhost:1"}
    result = _start_up(env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "CACHE_LRU_MAX_ITEMS" in lines[0] and "abc" in lines[0]
    assert "hunter2" not in result.stderr + result.stdout


def test_the_token_file_is_read_at_start_up(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("tok-file-1\n")
    s = Settings.from_env({"CACHE_API_TOKEN_FILE": f" {path} "})
    assert s.cache_api_token_file == str(path)
    assert "tok-file-1" not in repr(s)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "cannot read"), ("", "is empty"), (" \n\t", "is empty"), (b"\xff\xfe", "UTF-8")],
)
def test_a_missing_empty_or_unreadable_token_file_stops_start_up(
    tmp_path: Path, content: str | bytes | None, fragment: str
) -> None:
    path = tmp_path / "token"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CACHE_API_TOKEN_FILE": str(path)})
    assert caught.value.variable == "CACHE_API_TOKEN_FILE"
    assert fragment in caught.value.problem and str(path) in caught.value.problem


def test_a_directory_is_no_token_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CACHE_API_TOKEN_FILE": str(tmp_path)})
    assert caught.value.problem == f"cannot read {tmp_path}: Is a directory"


def test_a_token_and_a_token_file_together_stop_start_up(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("tok-file-2")
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CACHE_API_TOKEN": "tok-env", "CACHE_API_TOKEN_FILE": str(path)})
    assert caught.value.variable == "CACHE_API_TOKEN_FILE"
    assert "CACHE_API_TOKEN" in caught.value.problem
    assert "tok-env" not in str(caught.value) and "tok-file-2" not in str(caught.value)


@pytest.mark.parametrize("problem", ["missing", "both"])
def test_a_token_file_problem_exits_2_with_one_line(tmp_path: Path, problem: str) -> None:
    path = tmp_path / "token"
    env = {"CACHE_API_TOKEN_FILE": str(path), "REDIS_URL": ""}
    if problem == "both":
        path.write_text("tok-file-3")
        env["CACHE_API_TOKEN"] = "tok-env-3"
    result = _start_up(env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CACHE_API_TOKEN_FILE" in lines[0]
    assert "tok-file-3" not in result.stderr and "tok-env-3" not in result.stderr


@pytest.mark.parametrize("prefix", ["a:b", "a{b}", "app*", "a?", "a[1]", "a b", "a\tb", "a\\b",
                                    "caf\u00e9", "a\x00"])
def test_key_prefix_refuses_key_syntax(prefix: str) -> None:
    """A ':' would make the memory tier ignore every invalidation, braces
    break the lease keys' Cluster co-location, glob characters widen a
    purge's SCAN: refused at start-up, with the variable named once."""
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"CACHE_KEY_PREFIX": prefix})
    message = str(refused.value)
    assert message.startswith("CACHE_KEY_PREFIX: must not contain") and "\n" not in message


def test_key_prefix_accepts_plain_names() -> None:
    assert Settings.from_env({"CACHE_KEY_PREFIX": "team-a.cache_2"}).cache_key_prefix == (
        "team-a.cache_2")


def test_status_and_repr_hide_query_passwords() -> None:
    settings = Settings.from_env({"REDIS_URL": "redis://db:6379?password=hunter2"})
    assert "hunter2" not in settings.redis_url_redacted and "hunter2" not in repr(settings)
