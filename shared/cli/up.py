"""`ringready up`: a small supervisor for the servers and the three services."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

import asyncpg
import msgspec

from shared.cli.demo import seed_demo
from shared.cli.main import SERVICE_MODULES, migrate_database
from shared.config import Settings
from shared.embedded import ManagedServer, killed_with_parent
from shared.servers import (
    ServerState,
    embedded_servers,
    running_state,
    state_path,
    with_urls,
    write_state,
)

READY_TIMEOUT_S = 60.0
WEBHOOK_SECRET_FILE = "webhook_secret"  # noqa: S105 - a file name, not a secret


class _Stop(Exception):
    """Raised from the signal handler to leave the wait loop."""


def child_env(settings: Settings) -> dict[str, str]:
    """The environment for a service: ours plus the resolved server URLs."""
    env = dict(os.environ)
    env["RINGREADY_DATABASE_URL"] = settings.database_url
    env["RINGREADY_REDIS_URL"] = settings.redis_url
    env["RINGREADY_WEBHOOK_SECRETS"] = ",".join(settings.webhook_secrets)
    return env


def with_webhook_secret(settings: Settings) -> Settings:
    """Without configured secrets, one kept in the data dir: ingest and the demo must agree on it."""
    if settings.webhook_secrets:
        return settings
    path = Path(settings.data_dir) / WEBHOOK_SECRET_FILE
    if not path.exists():
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        path.touch(mode=0o600)
        path.write_text(secret + "\n")
    return msgspec.structs.replace(settings, webhook_secrets=(path.read_text().strip(),))


def start_service(name: str, settings: Settings) -> subprocess.Popen[bytes]:
    """One service as a child process in its own session; it is killed if we die without stopping it."""
    return subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", SERVICE_MODULES[name]],
        env=child_env(settings),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=killed_with_parent,  # single-threaded at spawn time
    )


def wait_ready(urls: list[str], children: list[subprocess.Popen[bytes]], timeout: float) -> None:
    """Poll each /readyz until 200; fail early if a child exits."""
    deadline = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a service exited during start-up; see its log above")
        try:
            with urllib.request.urlopen(pending[0], timeout=1) as reply:  # noqa: S310 - loopback
                if reply.status == 200:
                    pending.pop(0)
                    continue
        except OSError:
            pass
        time.sleep(0.2)
    if pending:
        raise RuntimeError(f"not ready after {timeout:.0f}s: {', '.join(pending)}")


def stop_children(children: list[subprocess.Popen[bytes]], timeout: float = 30.0) -> None:
    """SIGTERM every child, then SIGKILL whatever is left after timeout."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def run_up(settings: Settings, *, demo: bool) -> int:
    """Start everything, print where it is, stop everything on Ctrl-C or SIGTERM."""
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    running = running_state(settings)
    if running is not None:
        print(f"error: ringready up is already running on {data_dir} (pid {running.supervisor_pid})",
              file=sys.stderr)  # fmt: skip
        return 2
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    servers: list[ManagedServer] = []
    children: list[subprocess.Popen[bytes]] = []
    try:
        servers = embedded_servers(settings, durable=True)
        for server in servers:
            server.start()
        live = with_webhook_secret(with_urls(settings, servers))
        _record_state(live, servers)
        applied = asyncio.run(migrate_database(live))
        print(f"migrations applied: {', '.join(applied) or 'none pending'}", flush=True)
        children = [start_service(name, live) for name in SERVICE_MODULES]
        api = f"http://{live.api_host}:{live.api_port}"
        ingest = f"http://{live.ingest_host}:{live.ingest_port}"
        wait_ready([f"{api}/readyz", f"{ingest}/readyz"], children, READY_TIMEOUT_S)
        print(f"RingReady is up.\n  API:    {api}/api/v1\n  Ingest: {ingest}/webhooks/v1", flush=True)
        if demo:
            _run_demo(live, api, ingest)
        print("Press Ctrl-C to stop.", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a service exited; stopping everything", file=sys.stderr)
        return 1
    except _Stop:
        print("stopping...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_children(children)
        for server in reversed(servers):
            server.stop()
        state_path(settings).unlink(missing_ok=True)


def _record_state(live: Settings, servers: list[ManagedServer]) -> None:
    ports = {server.name: server.port for server in servers}
    write_state(
        live,
        ServerState(
            supervisor_pid=os.getpid(),
            database_url=live.database_url,
            redis_url=live.redis_url,
            postgres_port=ports.get("postgres", 0),
            redis_port=ports.get("valkey", 0),
        ),
    )


def _run_demo(live: Settings, api: str, ingest: str) -> None:
    try:
        curl = asyncio.run(seed_demo(live, api_url=api, ingest_url=ingest))
    except (RuntimeError, OSError, asyncpg.PostgresError) as err:  # the stack itself is fine: keep it up
        print(f"error: demo data failed: {err}", file=sys.stderr, flush=True)
        return
    print(f"Demo data is ready. Try:\n  {curl}", flush=True)
