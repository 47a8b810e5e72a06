"""deploy/k8s: rendered with kubectl's kustomize, validated against the Kubernetes schemas, and run."""

from __future__ import annotations

import asyncio
import copy
import json
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes_validate
import pytest
from aiohttp import web

from services.api.app import create_app as create_api
from services.ingest.app import create_app as create_ingest
from shared.config import Settings
from tests.deploy.deployfiles import (
    KUSTOMIZATIONS,
    SERVICES,
    Command,
    dockerfile,
    kustomize,
    of_kind,
    pod_owners,
    short_name,
)
from tests.deploy.test_commands import local, service_env
from tests.helpers import REPO_ROOT, Servers, eventually

# The newest Kubernetes whose schemas kubernetes-validate bundles; the manifests use only GA APIs.
KUBERNETES_VERSION = kubernetes_validate.latest_version()
SETTINGS_VARS = {f"RINGREADY_{name.upper()}" for name in Settings.__struct_fields__}
SECRET = "ringready-secrets"
# Another change adds graceful SIGTERM with this default; the grace period must outlast it.
SHUTDOWN_TIMEOUT_S = float(getattr(Settings(), "shutdown_timeout_s", 25.0))
PROBES_TIMEOUT_S = 30.0
OPERATIONS = REPO_ROOT / "docs" / "operations.md"


def _errors(obj: dict[str, Any]) -> list[str]:
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{obj['kind']}/{obj['metadata']['name']} {list(error.path)}: {error.message}"]
    return []


def _by_kind(name: str, kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in kustomize(name) if obj["kind"] == kind}


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return containers


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kustomize_build_gives_valid_objects(name: str) -> None:
    objects = kustomize(name)
    kinds = sorted(f"{obj['kind']}/{obj['metadata']['name']}" for obj in objects)
    expected = {"ConfigMap/ringready-config", "Job/ringready-migrate", "Ingress/ringready"}
    for service in SERVICES:
        expected |= {f"{kind}/ringready-{service}" for kind in
                     ("Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget")}  # fmt: skip
    expected |= {"Service/ringready-api", "Service/ringready-ingest"}
    assert expected <= set(kinds), kinds
    assert [error for obj in objects for error in _errors(obj)] == []


def test_the_validation_catches_broken_objects() -> None:
    deployment = copy.deepcopy(_by_kind("base", "Deployment")["ringready-api"])
    deployment["spec"]["replicas"] = "two"
    assert _errors(deployment) and "replicas" in _errors(deployment)[0]
    hpa = copy.deepcopy(_by_kind("base", "HorizontalPodAutoscaler")["ringready-api"])
    hpa["spec"]["minReplica"] = 2  # a typo: strict validation rejects unknown fields
    assert _errors(hpa)


def test_production_pins_an_image_in_its_own_namespace() -> None:
    for obj in kustomize("overlays/production"):
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "ringready", obj["metadata"]
    for obj in pod_owners("overlays/production"):
        for container in _containers(obj):
            image = container["image"]
            assert re.fullmatch(r"[\w./-]+/ringready:\d+\.\d+\.\d+", image), image


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_pods_run_as_the_image_user_with_requests_limits_and_a_grace_period(name: str) -> None:
    user = next(i.args for i in dockerfile() if i.keyword == "USER")
    for obj in pod_owners(name):
        pod = obj["spec"]["template"]["spec"]
        assert f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" == user
        assert pod["securityContext"]["runAsNonRoot"] is True
        if obj["kind"] == "Deployment":
            assert SHUTDOWN_TIMEOUT_S < pod["terminationGracePeriodSeconds"] == 30
        for container in _containers(obj):
            assert set(container["resources"]) == {"requests", "limits"}, container["name"]
            assert set(container["resources"]["limits"]) == {"cpu", "memory"}
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            (mount,) = container["volumeMounts"]
            assert mount["mountPath"] == "/tmp"  # noqa: S108 -- a path in the pod, not a file we open
            assert {"name": mount["name"], "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_http_services_probe_readyz_and_healthz_on_their_port(name: str) -> None:
    defaults = Settings()
    services = _by_kind(name, "Service")
    for service, port in (("api", defaults.api_port), ("ingest", defaults.ingest_port)):
        (container,) = _containers(_by_kind(name, "Deployment")[f"ringready-{service}"])
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert services[f"ringready-{service}"]["spec"]["ports"][0]["targetPort"] == "http"
    (worker,) = _containers(_by_kind(name, "Deployment")["ringready-worker"])
    for probe in ("startupProbe", "livenessProbe"):
        assert worker[probe]["exec"]["command"] == ["python", "-m", "services.worker", "--check"]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_selector_finds_its_pods(name: str) -> None:
    deployments = _by_kind(name, "Deployment")
    pods = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}
    for obj in _by_kind(name, "HorizontalPodAutoscaler").values():
        assert obj["spec"]["scaleTargetRef"]["name"] in deployments
        assert 2 <= obj["spec"]["minReplicas"] <= obj["spec"]["maxReplicas"]
    for obj in [*_by_kind(name, "PodDisruptionBudget").values(), *deployments.values()]:
        selector = obj["spec"]["selector"]["matchLabels"]
        assert [n for n, labels in pods.items() if selector.items() <= labels.items()] == [
            obj["metadata"]["name"]
        ]
    for obj in _by_kind(name, "Service").values():
        selector = obj["spec"]["selector"]
        assert [n for n, labels in pods.items() if selector.items() <= labels.items()] == [
            obj["metadata"]["name"]
        ]


def _serves(app: web.Application, path: str, path_type: str) -> bool:
    """Whether any route of `app` lies under an Ingress path of this type."""
    routes = {resource.canonical for resource in app.router.resources()}
    if path_type == "Exact":
        return path in routes
    return any(route == path or route.startswith(path.rstrip("/") + "/") for route in routes)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_ingress_sends_each_path_to_the_service_that_serves_it(name: str) -> None:
    apps = {"api": create_api(Settings()), "ingest": create_ingest(Settings())}
    (ingress,) = _by_kind(name, "Ingress").values()
    (rule,) = ingress["spec"]["rules"]
    routed = {}
    for path in rule["http"]["paths"]:
        service = path["backend"]["service"]["name"].removeprefix("ringready-")
        routed[path["path"]] = service
        for other, app in apps.items():
            assert _serves(app, path["path"], path["pathType"]) is (other == service), (path, other)
    assert routed == {"/api/v1": "api", "/llms.txt": "api", "/webhooks": "ingest"}


def _secret_commands() -> list[list[str]]:
    """The `kubectl ... create secret generic` commands docs/operations.md tells an operator to run."""
    text = OPERATIONS.read_text().split("## Kubernetes", 1)[1].split("\n## ", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", text)
    return [shlex.split(line) for line in joined.splitlines() if " create secret generic " in line]


def test_secrets_are_referenced_never_shipped_and_the_documented_command_makes_one(tmp_path: Path) -> None:
    for name in KUSTOMIZATIONS:
        assert "Secret" not in {obj["kind"] for obj in kustomize(name)}
        for obj in pod_owners(name):
            for container in _containers(obj):
                refs = [source.get("secretRef", {}).get("name") for source in container["envFrom"]]
                assert SECRET in refs and "env" not in container, obj["metadata"]["name"]
        (config,) = _by_kind(name, "ConfigMap").values()
        assert set(config["data"]) <= SETTINGS_VARS
    (command,) = _secret_commands()
    kubectl = Path(sys.executable).parent / "kubectl"
    done = subprocess.run([str(kubectl), *command[1:], "--dry-run=client", "-o", "json"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    secret = json.loads(done.stdout)
    assert secret["metadata"] == {"name": SECRET, "namespace": "ringready"}
    assert {"RINGREADY_DATABASE_URL", "RINGREADY_REDIS_URL"} <= set(secret["data"]) <= SETTINGS_VARS
    assert not set(secret["data"]) & set(_by_kind("base", "ConfigMap")["ringready-config"]["data"])


def _probe_argv(container: dict[str, Any], probe: str) -> list[str]:
    command: list[str] = container[probe]["exec"]["command"]
    return [sys.executable if command[0] == "python" else command[0], *command[1:]]


async def _probe_passes(container: dict[str, Any], probe: str, env: dict[str, str], cwd: Path) -> bool:
    """One run of a container's probe against a process on this host (its port from `env`)."""
    spec = container[probe]
    if "httpGet" in spec:
        port = env[f"RINGREADY_{container['name'].upper()}_PORT"]
        url = f"http://127.0.0.1:{port}{spec['httpGet']['path']}"
        try:
            async with aiohttp.ClientSession() as session, session.get(url) as response:
                return response.status == 200
        except aiohttp.ClientConnectionError:
            return False
    done = await asyncio.to_thread(
        subprocess.run, _probe_argv(container, probe), env=env, capture_output=True, cwd=cwd, timeout=30
    )
    return done.returncode == 0


@pytest.mark.parametrize("command", of_kind("k8s-service"), ids=lambda c: c.origin)
def test_manifest_service_command_runs_until_its_probes_pass(
    command: Command, servers: Servers, tmp_path: Path
) -> None:
    (container,) = _containers(_by_kind("overlays/production", "Deployment")[f"ringready-{command.argv[1]}"])
    probes = [p for p in ("startupProbe", "readinessProbe", "livenessProbe") if p in container]
    env = service_env(servers, tmp_path)
    assert not any(asyncio.run(_probe_passes(container, p, env, tmp_path)) for p in probes)
    process = subprocess.Popen(local(command.argv), env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip

    async def all_pass() -> bool:
        passed = [await _probe_passes(container, probe, env, tmp_path) for probe in probes]
        assert process.poll() is None, process.communicate()[1]
        return all(passed)

    try:
        asyncio.run(
            eventually(all_pass, PROBES_TIMEOUT_S, f"{probes} of {command.origin} to pass", every_s=0.2)
        )
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGTERM), stderr


def test_every_exec_probe_of_the_manifests_is_run_above() -> None:
    run = {c.argv[1] for c in of_kind("k8s-service")}
    assert run == set(SERVICES)
    for command in of_kind("k8s-probe"):
        service = command.origin.split()[1]
        (container,) = _containers(_by_kind("overlays/production", "Deployment")[f"ringready-{service}"])
        assert service in run and any(
            tuple(container.get(p, {}).get("exec", {}).get("command", ())) == command.argv
            for p in ("startupProbe", "livenessProbe", "readinessProbe")
        )
    assert {short_name(obj) for obj in pod_owners("base")} == {*SERVICES, "migrate"}
