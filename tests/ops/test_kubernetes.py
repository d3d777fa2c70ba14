"""deploy/kubernetes/: validated offline against the Kubernetes schemas
(kubernetes-validate bundles them), then held to the service itself.

Against the service: every variable the manifests name is a declared
setting and the ConfigMap's values parse as settings; the probe paths
answer 200 on an app started with those settings, on the port the probes
name; the Redis password and the API token come from the Secret (as files)
and no secret has a plain value; the grace period exceeds SHUTDOWN_DRAIN_MS
+ SHUTDOWN_TIMEOUT_MS as the ConfigMap sets them (or their defaults); the
pod runs as the Dockerfile's non-root user on a read-only root filesystem.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from aiohttp.test_utils import TestClient

from service.config import SETTINGS, VARIABLES, ConfigError, Settings, namespace_of, redact_url
from tests.ops.conftest import ROOT

MANIFESTS = ROOT / "deploy" / "kubernetes"
# The oldest and newest Kubernetes versions whose schemas the package bundles here.
KUBERNETES_VERSIONS = ("1.25.0", "1.37.0")
KINDS = {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"}
# Secrets the pods need, as the variable naming the file -> the Secret's key.
SECRET_FILES = {"REDIS_PASSWORD_FILE": "redis-password", "CACHE_API_TOKEN_FILE": "cache-api-token"}
DEFAULTS = {s.variable: s.default for s in SETTINGS}


def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found += [document for document in yaml.safe_load_all(path.read_text()) if document]
    return found


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    """kind -> the one document of that kind."""
    by_kind = {document["kind"]: document for document in documents()}
    assert set(by_kind) == KINDS and len(documents()) == len(KINDS)
    return by_kind


def pod(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = manifests["Deployment"]["spec"]["template"]["spec"]
    return spec


def container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (only,) = pod(manifests)["containers"]
    assert isinstance(only, dict)
    return only


def config(manifests: dict[str, dict[str, Any]]) -> dict[str, str]:
    data: dict[str, str] = manifests["ConfigMap"]["data"]
    return data


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_for_kubernetes(version: str) -> None:
    invalid = []
    for document in documents():
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:  # its str() holds the whole schema
            invalid.append(f"{document['kind']}: {str(error).splitlines()[0]}")
    assert not invalid


def test_every_variable_named_is_a_setting_and_the_values_parse(
    manifests: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    named = set(config(manifests)) | {env["name"] for env in container(manifests).get("env", [])}
    unknown = {name for name in named if name not in VARIABLES and namespace_of(name) is None}
    assert not unknown, f"not settings: {unknown}"
    assert container(manifests)["envFrom"] == [
        {"configMapRef": {"name": manifests["ConfigMap"]["metadata"]["name"]}}]
    environ = with_secret_files(config(manifests), tmp_path, "a-value")
    # The pod's path is checked by the next test; parsed here on this machine.
    Settings.from_env({**environ, "CACHE_STATE_DIR": str(tmp_path / "state")})
    # Kubernetes' <SERVICE>_PORT=tcp://... variables never reach the settings.
    assert pod(manifests)["enableServiceLinks"] is False


def with_secret_files(data: dict[str, str], directory: Path, content: str) -> dict[str, str]:
    """The ConfigMap's environment with each secret file made under `directory`."""
    environ = dict(data)
    for variable, key in SECRET_FILES.items():
        (directory / key).write_text(content)
        environ[variable] = str(directory / key)
    return environ


def test_the_password_and_token_come_from_the_secret(
    manifests: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    secret = manifests["Secret"]
    assert set(secret["stringData"]) == set(SECRET_FILES.values())
    assert not any(secret["stringData"].values()), "a real secret in the repository"
    volumes = {volume["name"]: volume for volume in pod(manifests)["volumes"]}
    mounted = {mount["mountPath"]: volumes[mount["name"]]
               for mount in container(manifests)["volumeMounts"]}
    for variable, key in SECRET_FILES.items():
        directory, _, name = config(manifests)[variable].rpartition("/")
        assert name == key, variable
        assert mounted[directory]["secret"]["secretName"] == secret["metadata"]["name"], variable
    plain = config(manifests) | {env["name"]: env.get("value", "")
                                 for env in container(manifests).get("env", [])}
    # A declared secret has no plain value; REDIS_URL may, without its password.
    # Names only in the failure message: a value here may be a real secret.
    leaked = [declared.variable for declared in SETTINGS
              if declared.secret and declared.variable in plain
              and (declared.variable != "REDIS_URL"
                   or redact_url(plain["REDIS_URL"]) != plain["REDIS_URL"])]
    assert not leaked, f"plain secret values: {leaked}"
    # Applied as it is (empty values), the pods refuse to start, naming the variable.
    with pytest.raises(ConfigError, match="CACHE_API_TOKEN_FILE"):
        Settings.from_env(with_secret_files(config(manifests), tmp_path, ""))


def test_probes_and_service_reach_the_port_the_service_listens_on(
    manifests: dict[str, dict[str, Any]]
) -> None:
    app = container(manifests)
    ports = {port["name"]: port["containerPort"] for port in app["ports"]}
    listens = int(config(manifests).get("PORT", DEFAULTS["PORT"]))
    for probe, path in (("livenessProbe", "/health"), ("readinessProbe", "/health/ready")):
        assert app[probe]["httpGet"]["path"] == path, probe
        assert ports[app[probe]["httpGet"]["port"]] == listens, probe
    service = manifests["Service"]["spec"]
    labels = manifests["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert [ports[port["targetPort"]] for port in service["ports"]] == [listens]
    for selector in (service["selector"],
                     manifests["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"],
                     manifests["Deployment"]["spec"]["selector"]["matchLabels"]):
        assert selector.items() <= labels.items()
    disruption = manifests["PodDisruptionBudget"]["spec"]
    assert disruption["minAvailable"] < manifests["Deployment"]["spec"]["replicas"]


async def test_the_probe_paths_answer_on_the_service(
    manifests: dict[str, dict[str, Any]], tmp_path: Path,
    app_client: Callable[..., Awaitable[TestClient]],
) -> None:
    environ = with_secret_files(config(manifests), tmp_path, "a-value")
    for placed_by_the_test in ("REDIS_URL", "HOST", "PORT"):  # memory-only, the test's port
        environ.pop(placed_by_the_test)
    client = await app_client("", **environ)
    annotations = manifests["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    app = container(manifests)
    for path in (app["livenessProbe"]["httpGet"]["path"],
                 app["readinessProbe"]["httpGet"]["path"]):
        assert (await client.get(path)).status == 200, path  # no token: the kubelet has none
    # Prometheus scrapes with a token that has the observe right (the one token here).
    scrape = annotations["prometheus.io/path"]
    assert (await client.get(scrape)).status == 401
    assert (await client.get(scrape, headers={"Authorization": "Bearer a-value"})).status == 200


def test_the_grace_period_outlasts_drain_and_shutdown(
    manifests: dict[str, dict[str, Any]]
) -> None:
    drain_ms = int(config(manifests).get("SHUTDOWN_DRAIN_MS", DEFAULTS["SHUTDOWN_DRAIN_MS"]))
    timeout_ms = int(config(manifests).get("SHUTDOWN_TIMEOUT_MS",
                                           DEFAULTS["SHUTDOWN_TIMEOUT_MS"]))
    assert pod(manifests)["terminationGracePeriodSeconds"] * 1000 > drain_ms + timeout_ms
    # The service drains by itself on SIGTERM: a preStop sleep would only add to it.
    assert "lifecycle" not in container(manifests)
    # A prober of /health/ready sees the drain's 503 before the listener closes.
    ready = container(manifests)["readinessProbe"]
    noticed_s = ready["periodSeconds"] * ready["failureThreshold"] + ready["timeoutSeconds"]
    assert noticed_s * 1000 <= drain_ms


def test_the_pod_runs_as_the_image_s_non_root_user_on_a_read_only_root(
    manifests: dict[str, dict[str, Any]]
) -> None:
    image_uid = re.search(r"useradd [^\n]*--uid (\d+)", (ROOT / "Dockerfile").read_text())
    assert image_uid is not None
    security = pod(manifests)["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == int(image_uid.group(1)) != 0
    app = container(manifests)
    assert app["securityContext"]["readOnlyRootFilesystem"] is True
    assert app["securityContext"]["allowPrivilegeEscalation"] is False
    assert app["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"cpu", "memory"} <= set(app["resources"]["requests"])
    # Writable scratch space on the read-only root (gunicorn's worker heartbeats).
    volumes = {volume["name"]: volume for volume in pod(manifests)["volumes"]}
    scratch = {mount["mountPath"]: volumes[mount["name"]] for mount in app["volumeMounts"]}
    assert "emptyDir" in scratch["/tmp"]


def test_outage_writes_are_kept_on_a_disk_volume_of_the_pod(
    manifests: dict[str, dict[str, Any]]
) -> None:
    """CACHE_STATE_DIR is a mounted, writable emptyDir on disk (not memory:
    it must outlive the container, which a restart after an OOM kill
    replaces; an emptyDir lives as long as the pod)."""
    state_dir = config(manifests)["CACHE_STATE_DIR"]
    app = container(manifests)
    (mount,) = [m for m in app["volumeMounts"] if m["mountPath"] == state_dir]
    assert not mount.get("readOnly", False)
    (volume,) = [v for v in pod(manifests)["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume and volume["emptyDir"].get("medium", "") != "Memory"
    assert pod(manifests)["securityContext"]["fsGroup"] == pod(manifests)["securityContext"][
        "runAsUser"]  # the volume is the service user's
