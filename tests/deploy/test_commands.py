"""Every command docker-compose.yml and deploy/Dockerfile run is run here, for real."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from ops.embedded import free_port
from shared.db.migrate import load_migrations
from tests.deploy.deployfiles import (
    SERVICES,
    Command,
    commands,
    compose,
    dockerfile,
    env_entries,
    kind,
    of_kind,
)
from tests.helpers import REPO_ROOT, Servers, eventually

VENV_BIN = Path(sys.executable).parent
HEALTH_TIMEOUT_S = 30.0


def test_every_command_is_run_by_a_test_here() -> None:
    found = commands()
    assert [c for c in found if kind(c.argv, c.origin) is None] == []
    kinds = {kind(c.argv, c.origin) for c in found}
    assert kinds == {"uv-sync", "migrate", "service", "service-healthcheck", "pg_isready", "valkey-server",
                     "valkey-cli", "k8s-service", "k8s-probe"}  # fmt: skip
    # The manifests' migration Job is run by the migrate test; their probes by test_k8s.py.
    assert any(c.origin.startswith("k8s migrate") for c in of_kind("migrate"))
    # Each service's healthcheck is run by the service test of the same name.
    checked = {c.origin.split()[1] for c in of_kind("service-healthcheck")}
    assert checked == set(SERVICES)


def service_env(servers: Servers, tmp_path: Path, **extra: str) -> dict[str, str]:
    """env.example's active values, with the test servers and loopback ports."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RINGREADY_")}
    env |= {name: value for name, value, active in env_entries() if active}
    env |= {
        "RINGREADY_DATABASE_URL": servers.database_url,
        "RINGREADY_REDIS_URL": servers.redis_url,
        "RINGREADY_DATA_DIR": str(tmp_path / "data"),
        "RINGREADY_API_HOST": "127.0.0.1",
        "RINGREADY_INGEST_HOST": "127.0.0.1",
        "RINGREADY_API_PORT": str(free_port()),
        "RINGREADY_INGEST_PORT": str(free_port()),
        "RINGREADY_LOG_LEVEL": "warning",
    }
    return env | extra


def local(argv: tuple[str, ...], bin_dir: Path = VENV_BIN) -> list[str]:
    """The container's argv with its programs taken from a venv's bin directory."""
    return [str(bin_dir / argv[0]), *argv[1:]]


@pytest.mark.parametrize("command", of_kind("migrate"), ids=lambda c: c.origin)
async def test_migrate_command_migrates_an_empty_database(
    command: Command, servers: Servers, tmp_path: Path
) -> None:
    name = f"ringready_deploy_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(servers.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = servers.database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        env = service_env(servers, tmp_path, RINGREADY_DATABASE_URL=url)
        done = await asyncio.to_thread(
            subprocess.run, local(command.argv), env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"applied: {', '.join(m.version for m in load_migrations())}"
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(load_migrations())
            assert await conn.fetchval("SELECT to_regclass('api_keys') IS NOT NULL") is True
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def healthcheck_for(service: str, env: dict[str, str]) -> list[str]:
    """The compose healthcheck of `service`, pointed at this test's port and interpreter."""
    argv = compose()["services"][service]["healthcheck"]["test"][1:]
    default = {"api": "8080", "ingest": "8081"}.get(service)
    port = env.get(f"RINGREADY_{service.upper()}_PORT")
    argv = [arg.replace(f":{default}/", f":{port}/") if default and port else arg for arg in argv]
    return [sys.executable if argv[0] == "python" else argv[0], *argv[1:]]


def run_until_healthy(argv: list[str], service: str, env: dict[str, str], cwd: Path) -> None:
    """Start a service process, poll its compose healthcheck until it passes, stop it with SIGTERM."""
    check = healthcheck_for(service, env)
    assert subprocess.run(check, env=env, capture_output=True, cwd=cwd, timeout=30).returncode != 0
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)  # fmt: skip

    async def healthy() -> bool:
        done = await asyncio.to_thread(
            subprocess.run, check, env=env, capture_output=True, cwd=cwd, timeout=30
        )
        if done.returncode == 0:
            return True
        assert process.poll() is None, process.communicate()[1]
        return False

    try:
        asyncio.run(eventually(healthy, HEALTH_TIMEOUT_S, f"{service}'s healthcheck to pass", every_s=0.1))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGTERM), stderr


@pytest.mark.parametrize("command", of_kind("service"), ids=lambda c: c.origin)
def test_service_command_runs_until_its_healthcheck_passes(
    command: Command, servers: Servers, tmp_path: Path
) -> None:
    run_until_healthy(local(command.argv), command.argv[1], service_env(servers, tmp_path), tmp_path)


def _uv() -> str | None:
    tools = REPO_ROOT / ".tools" / "bin" / "uv"
    return str(tools) if tools.exists() else shutil.which("uv")


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dockerfile_build_step_and_entrypoint(servers: Servers, tmp_path: Path) -> None:
    """The build stage's COPYs and RUN in a scratch directory, then ENTRYPOINT + CMD from that venv."""
    uv = _uv()
    if uv is None:
        pytest.skip("uv is not installed (make install bootstraps it into .tools/)")
    app = tmp_path / "app"
    app.mkdir()
    build_env = {
        key: value for key, value in os.environ.items() if not key.startswith(("VIRTUAL_ENV", "UV_"))
    }
    for instruction in dockerfile():
        parts = instruction.args.split()
        if instruction.keyword == "FROM" and parts[-1] != "build":
            break
        if instruction.keyword == "COPY" and not parts[0].startswith("--from"):
            for source in parts[:-1]:
                _copy(REPO_ROOT / source, app, parts[-1])
        if instruction.keyword == "ENV":
            build_env |= dict(item.split("=", 1) for item in parts)
    (run,) = of_kind("uv-sync")
    build_env["UV_PYTHON"] = sys.executable
    done = subprocess.run([uv, *run.argv[1:]], cwd=app, env=build_env, capture_output=True, text=True,
                          timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr
    bin_dir = app / ".venv" / "bin"
    no_dev = subprocess.run([str(bin_dir / "python"), "-c", "import pytest"], capture_output=True, timeout=30)
    assert no_dev.returncode != 0, "dev dependencies must not be in the image"
    (entry,) = [c for c in of_kind("service") if c.origin.startswith("Dockerfile")]
    # Run from outside the source tree so the installed package, not the checkout, is imported.
    env = service_env(servers, tmp_path)
    run_until_healthy(local(entry.argv, bin_dir), entry.argv[1], env, tmp_path)


def _copy(source: Path, app: Path, dest: str) -> None:
    """Docker's COPY: into `dest/` when it ends with a slash; a directory's contents become `dest`."""
    target = app / dest / source.name if dest.endswith("/") else app / dest
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copy2(source, target)
