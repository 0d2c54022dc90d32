"""deploy/ (Compose with HAProxy, Kubernetes) is read, not run: no Docker daemon or cluster runs
the tests. Every probe path, port, setting and command the files use must exist in the service,
and the timings must let a drain finish before the platform's SIGKILL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from service.__main__ import COMMANDS
from service.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
SETTINGS = {name.upper() for name in Settings.model_fields}
# The PostgreSQL image's own variables, in its service only.
POSTGRES_IMAGE = {"POSTGRES_USER", "POSTGRES_DB", "POSTGRES_PASSWORD"}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def _ours(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run our image."""
    return {name: s for name, s in compose["services"].items() if "build" in s}


def _kubernetes() -> list[dict[str, Any]]:
    return [
        document
        for path in sorted((DEPLOY / "kubernetes").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def _kind(kind: str) -> list[dict[str, Any]]:
    return [document for document in _kubernetes() if document["kind"] == kind]


def _is_our_command(command: list[str]) -> bool:
    return command[:3] == ["python", "-m", "service"] and command[3] in COMMANDS


def _probe_passes(client: TestClient, path: str) -> bool:
    """The path is the service's, and a healthy service passes it."""
    return client.get(path).status_code == 200


def test_compose_runs_a_migration_three_replicas_and_a_proxy() -> None:
    services = _ours(_compose())
    assert services["migrate"]["command"] == ["python", "-m", "service", "migrate"]
    replicas = [name for name, s in services.items() if s["command"][3] == "serve"]
    assert len(replicas) == 3
    for name in replicas:
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
    assert all(_is_our_command(s["command"]) for s in services.values())


def test_compose_sets_only_settings_the_service_has() -> None:
    for name, service in _compose()["services"].items():
        allowed = SETTINGS if "build" in service else POSTGRES_IMAGE
        assert set(service.get("environment", {})) <= allowed, name


def test_compose_gives_a_drain_time_to_finish() -> None:
    for name, service in _ours(_compose()).items():
        if service["command"][3] != "serve":
            continue
        env = service["environment"]
        needed = float(env["DRAIN_SECONDS"]) + float(env["GRACEFUL_SHUTDOWN_TIMEOUT_S"])
        assert float(service["stop_grace_period"].removesuffix("s")) > needed, name


def test_the_proxy_checks_readiness_on_the_replicas_port(client: TestClient) -> None:
    config = (DEPLOY / "haproxy.cfg").read_text()
    (path,) = re.findall(r"option httpchk GET (\S+)", config)
    assert _probe_passes(client, path)
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+)", config, re.MULTILINE)
    services = _ours(_compose())
    assert {name for name, _, _ in servers} == {n for n in services if n.startswith("app")}
    for name, host, port in servers:
        assert host == name and port == services[name]["environment"]["PORT"]
    idle = re.search(r"timeout http-keep-alive (\d+)s", config)
    keep_alive_s = int(services["app1"]["environment"]["KEEP_ALIVE_TIMEOUT_S"])
    assert idle and int(idle.group(1)) < keep_alive_s, "the proxy closes idle connections first"


def test_kubernetes_probes_and_hooks_use_the_services_paths_and_commands(
    client: TestClient,
) -> None:
    (deployment,) = _kind("Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert _is_our_command(container["command"]) and container["command"][3] == "serve"
    assert _is_our_command(container["lifecycle"]["preStop"]["exec"]["command"])
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    (config,) = _kind("ConfigMap")
    assert ports["http"] == int(config["data"]["PORT"])
    probes = {name: container[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}
    assert probes["readinessProbe"]["path"] == "/health/ready"
    assert probes["livenessProbe"]["path"] == "/health/live"
    for probe in probes.values():
        assert _probe_passes(client, probe["path"]) and probe["port"] in ports
    needed = float(config["data"]["DRAIN_SECONDS"]) + float(
        config["data"]["GRACEFUL_SHUTDOWN_TIMEOUT_S"]
    )
    assert pod["terminationGracePeriodSeconds"] > needed


def test_kubernetes_settings_are_settings_and_secrets_come_from_the_secret() -> None:
    (secret,) = _kind("Secret")
    (config,) = _kind("ConfigMap")
    assert set(config["data"]) <= SETTINGS
    for workload in (*_kind("Deployment"), *_kind("Job")):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert _is_our_command(container["command"])
            for variable in container.get("env", []):
                assert variable["name"] in SETTINGS
                reference = variable["valueFrom"]["secretKeyRef"]
                assert reference["name"] == secret["metadata"]["name"]
                assert reference["key"] in secret["stringData"]
    (job,) = _kind("Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"][3] == "migrate"


def test_the_disruption_budget_covers_the_deployments_pods() -> None:
    (deployment,) = _kind("Deployment")
    (budget,) = _kind("PodDisruptionBudget")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["maxUnavailable"] < deployment["spec"]["replicas"]


@pytest.mark.parametrize("path", sorted((DEPLOY / "kubernetes").glob("*.yaml")), ids=str)
def test_every_manifest_parses_and_names_itself(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        assert document["apiVersion"] and document["kind"] and document["metadata"]["name"]


def test_the_proxy_forwards_the_client_address_and_the_replicas_trust_only_it() -> None:
    """The sign-in throttle counts by client address: behind the proxy, that address comes from
    its X-Forwarded-For, believed only from the proxy's own fixed address."""
    assert re.search(r"^\s*option forwardfor\b", (DEPLOY / "haproxy.cfg").read_text(), re.M)
    compose = _compose()
    proxy = compose["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    for name, service in _ours(compose).items():
        if service["command"][3] == "serve":
            assert service["environment"]["TRUSTED_PROXIES"] == proxy, name
    (config_map,) = _kind("ConfigMap")
    assert config_map["data"]["TRUSTED_PROXIES"]
