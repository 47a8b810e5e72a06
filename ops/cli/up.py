"""`ringready up`: the servers and the three services, kept running until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import asyncpg
import msgspec

from ops.cli.demo import DEMO_READ_PATH, seed_demo
from ops.cli.local_secret import with_webhook_secret
from ops.cli.logs import log_dir
from ops.cli.migrate import migrate_database
from ops.embedded.process import ManagedServer
from ops.embedded.stack import embedded_servers, record_state, running_state, state_path, with_urls
from ops.runner import stop_children, wait_ready
from ops.supervisor import Supervisor
from shared.config import Settings
from shared.logging import configure_logging

READY_TIMEOUT_S = 60.0


class _Stop(Exception):
    """Raised from the signal handler to leave the wait loop."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def say(line: str) -> None:
    """One line for the operator, flushed (stdout may be a pipe or a file)."""
    print(line, flush=True)


def report(event: str) -> None:
    """A supervisor event, timestamped: the terminal is where an operator sees restarts."""
    say(f"{datetime.now(UTC):%H:%M:%S} {event}")


def run_up(settings: Settings, *, demo: bool) -> int:
    """Start everything, print where it is, keep the services up, stop everything on Ctrl-C or SIGTERM."""
    data_dir = Path(settings.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # The screen says what happened (migrations included); only warnings may add lines to it.
    configure_logging(msgspec.structs.replace(settings, log_level="warning"), "cli")
    running = running_state(settings)
    if running is not None:
        print(f"error: ringready up is already running on {data_dir} (pid {running.supervisor_pid})",
              file=sys.stderr)  # fmt: skip
        return 2
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    servers: list[ManagedServer] = []
    supervisor: Supervisor | None = None
    try:
        say(f"RingReady: starting in {data_dir}")
        servers = embedded_servers(settings, durable=True)
        for server in servers:
            server.start()
        live = with_webhook_secret(with_urls(settings, servers))
        record_state(live, servers)
        applied = asyncio.run(migrate_database(live))
        say(f"  servers: {', '.join(s.name for s in servers) or 'configured URLs'}; "
            f"migrations: {', '.join(applied) or 'none pending'}")  # fmt: skip
        supervisor = Supervisor(live, log_dir(settings), report)
        supervisor.start_all()
        api = f"http://{live.api_host}:{live.api_port}"
        ingest = f"http://{live.ingest_host}:{live.ingest_port}"
        wait_ready([f"{api}/readyz", f"{ingest}/readyz"], supervisor.processes(), READY_TIMEOUT_S)
        say(f"  services: api, ingest, worker (logs: {log_dir(settings)}/<service>.log)")
        _print_ready(live, api, ingest, _run_demo(live, api, ingest) if demo else None)
        say("Press Ctrl-C to stop.")
        supervisor.run_forever()
    except _Stop:
        say("stopping...")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_children(supervisor.processes() if supervisor else [])
        for server in reversed(servers):
            server.stop()
        state_path(settings).unlink(missing_ok=True)
    return 1  # unreachable: run_forever only leaves by _Stop


def _run_demo(live: Settings, api: str, ingest: str) -> str | None:
    """The demo key, or None when the demo data failed (the stack itself is fine: keep it up)."""
    try:
        return asyncio.run(seed_demo(live, api_url=api, ingest_url=ingest)).key
    except (RuntimeError, OSError, asyncpg.PostgresError) as err:
        print(f"error: demo data failed: {err}", file=sys.stderr, flush=True)
        return None


def ringready_command() -> str:
    """How to call `ringready` from here: the venv's script, relative when it is under the cwd."""
    script = Path(sys.executable).parent / "ringready"
    if not script.exists():
        return shutil.which("ringready") or f"{sys.executable} -m ops.cli.main"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _print_ready(live: Settings, api: str, ingest: str, key: str | None) -> None:
    say("RingReady is up.")
    say(f"  API:            {api}/api/v1")
    say(f"  Ingest:         {ingest}/webhooks/v1")
    say(f"  Webhook secret: {live.webhook_secrets[0]}")
    cli = ringready_command()
    say(f"  Logs:           {cli} logs [api|ingest|worker] [-f]")
    if key is None:
        return
    say(f"  Demo key:       {key}  (read+write; the same on every run)")
    say("Read the latest conversations:")
    say(f'  curl -s -H "Authorization: Bearer {key}" "{api}{DEMO_READ_PATH}"')
    say("Send a signed webhook (it shows up first in that read):")
    say(f"  {cli} send-demo-webhook")
