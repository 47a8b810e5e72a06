"""The 2xx means "on the queue": Redis down is a 503 the sender retries, and Postgres is not needed."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest
import redis.asyncio as aioredis
import redis.exceptions
from aiohttp.test_utils import TestClient

from services.ingest.app import create_app
from services.ingest.enqueue import queue_pipe
from shared.config import Settings
from tests.helpers import Servers, eventually
from tests.ingest.webhooks import assert_nothing_queued, post, queued_events, sample, vapi_secret_headers

REPORT = sample("vapi-end-of-call-report.json")
CLOSED = "127.0.0.1:1"
PING = b"*1\r\n$4\r\nPING\r\n"
ECHO = b"*1\r\n$4\r\nECHO\r\n"


async def test_redis_unreachable_is_503_and_nothing_is_queued(
    aiohttp_client,
    redis_client: aioredis.Redis,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    # The app starts although Redis is unreachable: the queue client connects on first use.
    broken = msgspec.structs.replace(settings, redis_url=f"redis://{CLOSED}/0")
    client: TestClient = await aiohttp_client(create_app(broken))
    started = time.monotonic()
    reply = await client.post("/webhooks/v1/vapi", data=REPORT, headers=vapi_secret_headers())
    assert reply.status == 503
    assert await reply.json() == {"detail": "the queue is unavailable; retry later"}
    assert reply.headers["Retry-After"] == "5"
    assert time.monotonic() - started < 5  # answered quickly, within the enqueue timeout
    await assert_nothing_queued(redis_client, settings)


async def test_postgres_is_not_needed_to_accept(
    aiohttp_client,
    redis_client: aioredis.Redis,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    no_pg = msgspec.structs.replace(settings, database_url=f"postgresql://x@{CLOSED}/none")
    client: TestClient = await aiohttp_client(create_app(no_pg))
    reply = await post(client, "/webhooks/v1/vapi", REPORT, vapi_secret_headers(), 202)
    assert list(await queued_events(redis_client, settings)) == [reply["job_id"]]


async def _post_until_accepted(client: TestClient, deadline_s: float) -> int:
    """Retry as a sender would, until a 202 or the deadline; returns the number of 503s seen."""
    refusals = 0

    async def accepted() -> bool:
        nonlocal refusals
        reply = await client.post("/webhooks/v1/vapi", data=REPORT, headers=vapi_secret_headers())
        if reply.status == 202:
            return True
        assert reply.status == 503
        refusals += 1
        return False

    await eventually(accepted, deadline_s, "ingest to accept after Redis came back")
    return refusals


@pytest.mark.slow
async def test_redis_restart_503_then_accepts(
    client: TestClient, servers: Servers, redis_client: aioredis.Redis, settings: Settings
) -> None:
    if servers.redis is None:
        pytest.skip("external Redis: cannot stop it")
    await post(client, "/webhooks/v1/vapi", REPORT, vapi_secret_headers(), 202)  # warm connection
    await redis_client.flushdb()
    # On this thread, not a worker thread: the server dies with the thread that spawned it (PDEATHSIG).
    servers.redis.stop()
    try:
        reply = await client.post("/webhooks/v1/vapi", data=REPORT, headers=vapi_secret_headers())
        assert reply.status == 503
    finally:
        servers.redis.start()
    await _post_until_accepted(client, 10)
    assert len(await queued_events(redis_client, settings)) == 1


def _report(call_id: str) -> bytes:
    """The Vapi sample as another call: a distinct job."""
    return REPORT.replace(b"3f9c2e71-6b4d-4a8e-9d15-7c0a4b2e8f63", call_id.encode())


async def test_concurrent_deliveries_are_each_queued_once(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    # Group commit sends these in a few pipelined batches; every 202 must still be its own job.
    bodies = [_report(f"call-{n:03d}") for n in range(40)]
    copies = [REPORT] * 20
    replies = await asyncio.gather(
        *(post(client, "/webhooks/v1/vapi", body, vapi_secret_headers(), 202) for body in bodies + copies)
    )
    queued = await queued_events(redis_client, settings)
    assert {reply["job_id"] for reply in replies} == set(queued)
    assert len(queued) == 41
    assert len({reply["job_id"] for reply in replies[40:]}) == 1
    assert {event.conversation.provider_call_id for event in queued.values()} >= {"call-000", "call-039"}


async def test_script_cache_flushed_still_accepts(
    client: TestClient, redis_client: aioredis.Redis, settings: Settings
) -> None:
    first = await post(client, "/webhooks/v1/vapi", _report("call-a"), vapi_secret_headers(), 202)
    await redis_client.script_flush()  # as after a Redis restart: the next EVALSHA gets NOSCRIPT
    second = await post(client, "/webhooks/v1/vapi", _report("call-b"), vapi_secret_headers(), 202)
    assert set(await queued_events(redis_client, settings)) == {first["job_id"], second["job_id"]}


class SilentRedis:
    """A loopback server that accepts connections and reads commands but never answers."""

    def __init__(self) -> None:
        self.received: list[bytearray] = []
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.arrived = asyncio.Event()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = bytearray()
        self.received.append(data)
        self.writers.append(writer)
        while chunk := await reader.read(65536):
            data += chunk
            self.arrived.set()

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}/0"

    async def wait_for(self, *commands: bytes) -> list[bytes]:
        """Until each command has arrived last on some connection (bounded); those connections' bytes."""
        async with asyncio.timeout(5):
            while True:
                found = [bytes(data) for data in self.received if data.endswith(commands)]
                if all(any(data.endswith(command) for data in found) for command in commands):
                    return found
                self.arrived.clear()
                await self.arrived.wait()


async def test_a_batch_does_not_wait_for_the_one_in_flight(settings: Settings) -> None:
    silent = SilentRedis()
    pipe = queue_pipe(msgspec.structs.replace(settings, redis_url=await silent.start()), timeout_s=5)
    first = pipe.call(PING)
    await silent.wait_for(PING)
    second = pipe.call(ECHO)
    # Sent at once, on another connection, while the first is unanswered.
    assert len(await silent.wait_for(PING, ECHO)) == 2
    await pipe.aclose()
    for call in (first, second):
        with pytest.raises(redis.exceptions.ConnectionError):
            await call
    await silent.stop()


async def test_redis_that_never_answers_is_a_timeout(settings: Settings) -> None:
    silent = SilentRedis()
    pipe = queue_pipe(msgspec.structs.replace(settings, redis_url=await silent.start()), timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(redis.exceptions.TimeoutError):
        await pipe.call(PING)
    assert time.monotonic() - started < 1
    await silent.wait_for(PING)  # the command had really been sent
    await pipe.aclose()
    await silent.stop()
