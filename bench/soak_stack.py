"""The soak's stack: embedded (or given) Postgres and Valkey, the three services as real processes,
the demo data the soak needs, and the faults the controller inflicts on them.

Every process is started by us and stopped by `close()`, which the soak calls in a `finally`;
each fault restores what it stopped in its own `finally` (SIGCONT after SIGSTOP, a start after
a stop), so an exception in the middle of one still leaves the stack whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.data import unlimited_read_key
from bench.soak_events import AGENT_PHONE, PROVIDER_IDS, Secrets
from ops.embedded import (
    ManagedServer,
    free_port,
    killed_with_parent,
    port_open,
    postgres_server,
    valkey_server,
)
from ops.runner import stop_children
from shared.db.accounts import insert_account
from shared.db.agents import add_provider_id, insert_agent
from shared.db.migrate import migrate

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("api", "ingest", "worker")
PORT_WAIT_S = 60.0


@dataclass(frozen=True)
class Demo:
    """What the soak routes to and reads with."""

    account_id: int
    phone_agent_id: int
    chat_agent_id: int
    api_key: str


async def create_demo(database_url: str) -> Demo:
    """Migrate; one account, a phone agent (number + provider ids) and a chat agent, a read key."""
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)
        account_id = await insert_account(conn, f"soak-{uuid.uuid4().hex[:8]}@example.com", "agency")
        phone_agent = await insert_agent(
            conn, account_id=account_id, phone_number=AGENT_PHONE, business_name="Soak Plumbing"
        )
        for source, provider_id in PROVIDER_IDS.items():
            await add_provider_id(conn, phone_agent, source, provider_id)
        chat_agent = await insert_agent(
            conn, account_id=account_id, phone_number=None, business_name="Soak Chat"
        )
        key = await unlimited_read_key(conn, account_id, "soak")
        return Demo(account_id, phone_agent, chat_agent, key)
    finally:
        await conn.close()


async def _create_database(admin_url: str) -> str:
    """A fresh database on a server we were given (its URL)."""
    name = f"ringready_soak_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


async def _drop_database(admin_url: str, database_url: str) -> None:
    name = database_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _children(parent: int) -> list[int]:
    """The pids whose parent is `parent` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == parent:
                found.append(int(stat.parent.name))
    return found


@dataclass
class Stack:
    """Servers and services of one soak; faults on them; everything stopped by close()."""

    root: Path
    secrets: Secrets
    job_timeout_s: int
    external_database_url: str = ""
    external_redis_url: str = ""
    postgres: ManagedServer | None = None
    valkey: ManagedServer | None = None
    database_url: str = ""
    redis_url: str = ""
    queue_name: str = "ringready:queue"
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    paused: list[int] = field(default_factory=list)  # Postgres pids we stopped

    # -- set-up ----------------------------------------------------------------------------------

    async def start_servers(self) -> None:
        """Embedded servers for what the environment does not name; a fresh database either way."""
        if self.external_database_url:
            self.database_url = await _create_database(self.external_database_url)
        else:
            self.postgres = postgres_server(self.root, durable=True)
            self.postgres.start()
            self.database_url = self.postgres.url
        if self.external_redis_url:
            self.redis_url = self.external_redis_url
            self.queue_name = f"ringready:soak:{uuid.uuid4().hex[:8]}"  # not the shared queue
        else:
            self.valkey = valkey_server(self.root)
            self.valkey.start()
            self.redis_url = self.valkey.url

    def env(self) -> dict[str, str]:
        """Every service's settings: our servers, secrets and ports; defaults otherwise."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("RINGREADY_")}
        return (
            base
            | self.secrets.env()
            | {
                "RINGREADY_DATABASE_URL": self.database_url,
                "RINGREADY_REDIS_URL": self.redis_url,
                "RINGREADY_QUEUE_NAME": self.queue_name,
                "RINGREADY_DATA_DIR": str(self.root),
                "RINGREADY_API_PORT": str(self.ports["api"]),
                "RINGREADY_INGEST_PORT": str(self.ports["ingest"]),
                "RINGREADY_JOB_TIMEOUT_S": str(self.job_timeout_s),
                "RINGREADY_LOG_FORMAT": "json",
                "RINGREADY_LOG_LEVEL": "warning",
            }
        )

    def start(self, name: str) -> None:
        """`python -m services.<name>`, output appended to <root>/<name>.log; SIGKILLed if we die."""
        self.starts[name] = self.starts.get(name, 0) + 1
        with (self.root / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", f"services.{name}"],
                cwd=REPO,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=killed_with_parent,  # called from the main thread only
            )

    async def wait_port(self, name: str) -> None:
        """Until the service's port accepts connections (bounded)."""
        deadline = time.monotonic() + PORT_WAIT_S
        while not port_open("127.0.0.1", self.ports[name]):
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see {self.root}/{name}.log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not listen within {PORT_WAIT_S:.0f} s")
            await asyncio.sleep(0.05)

    async def start_services(self) -> None:
        """api, ingest and worker, and wait for the two ports."""
        self.ports = {"api": free_port(), "ingest": free_port()}
        for name in SERVICES:
            self.start(name)
        await self.wait_port("api")
        await self.wait_port("ingest")

    def exited(self) -> list[str]:
        """Services that exited when nobody stopped them (the soak fails on any)."""
        return [name for name, p in self.processes.items() if p.poll() is not None]

    # -- faults ----------------------------------------------------------------------------------

    async def _signal_service(self, name: str, signum: int) -> None:
        process = self.processes[name]
        if process.poll() is None:
            process.send_signal(signum)
        try:
            await asyncio.wait_for(asyncio.to_thread(process.wait), 40)
        except TimeoutError:
            process.kill()
            await asyncio.to_thread(process.wait)

    async def restart_service(self, name: str, signum: int, down_s: float) -> None:
        """Signal a service, wait for it to exit, leave it down a moment, start it again."""
        try:
            await self._signal_service(name, signum)
            await asyncio.sleep(down_s)
        finally:
            if self.processes[name].poll() is not None:
                self.start(name)
        if name in self.ports:
            await self.wait_port(name)

    async def restart_valkey(self, kill: bool, down_s: float) -> None:
        """SIGKILL (a crash) or SIGTERM Valkey, wait, start it on the same AOF and port."""
        valkey = self.valkey
        if valkey is None:
            return
        try:
            await asyncio.to_thread(valkey.kill if kill else valkey.stop)
            await asyncio.sleep(down_s)
        finally:
            valkey.start()  # main thread: the death signal applies; blocks until it listens

    def _postgres_pids(self) -> list[int]:
        """The postmaster, then its children. Each child is its own process group (Postgres calls
        setsid in every child), so a signal to the postmaster's group would reach it alone."""
        postgres = self.postgres
        if postgres is None or postgres.process is None:
            return []
        return [postgres.process.pid, *_children(postgres.process.pid)]

    def _resume_postgres(self) -> None:
        for pid in reversed(self.paused):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        self.paused = []

    async def pause_postgres(self, seconds: float) -> None:
        """SIGSTOP the whole Postgres (postmaster, backends, writers) for `seconds`, then SIGCONT."""
        try:
            for pid in self._postgres_pids():  # the postmaster first: it forks no more children
                self.paused.append(pid)
                os.kill(pid, signal.SIGSTOP)
            await asyncio.sleep(seconds)
        finally:
            self._resume_postgres()

    # -- tear-down -------------------------------------------------------------------------------

    async def close(self) -> None:
        """Restore, then stop everything we started: services first, then the servers."""
        self._resume_postgres()
        stop_children(list(self.processes.values()))
        if self.valkey is not None:
            self.valkey.stop()
        if self.postgres is not None:
            self.postgres.stop()
        elif self.database_url and self.external_database_url:
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await _drop_database(self.external_database_url, self.database_url)
