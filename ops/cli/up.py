"""`ringready up`: a small supervisor for the servers and the three services."""

from __future__ import annotations

import asyncio
import base64
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import asyncpg
import msgspec

from ops.cli.demo import seed_demo
from ops.cli.migrate import migrate_database
from ops.embedded.process import ManagedServer
from ops.embedded.stack import embedded_servers, record_state, running_state, state_path, with_urls
from ops.runner import SERVICE_MODULES, start_service, stop_children, wait_ready
from shared.config import Settings

READY_TIMEOUT_S = 60.0
WEBHOOK_SECRET_FILE = "webhook_secret"  # noqa: S105 - a file name, not a secret


class _Stop(Exception):
    """Raised from the signal handler to leave the wait loop."""


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
        record_state(live, servers)
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


def _run_demo(live: Settings, api: str, ingest: str) -> None:
    try:
        curl = asyncio.run(seed_demo(live, api_url=api, ingest_url=ingest))
    except (RuntimeError, OSError, asyncpg.PostgresError) as err:  # the stack itself is fine: keep it up
        print(f"error: demo data failed: {err}", file=sys.stderr, flush=True)
        return
    print(f"Demo data is ready. Try:\n  {curl}", flush=True)
