"""SIGTERM to a real ingest or api process in the middle of a steady stream (issue #13, item 2).

Two requests are held in flight across the signal, their bodies half sent: one is finished after
SIGTERM and must be answered and take effect; the other never is, and must not keep the process
past RINGREADY_SHUTDOWN_TIMEOUT_S. A fresh connection after SIGTERM must find nobody listening.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import asyncpg
import msgspec
import pytest
from arq.connections import ArqRedis

from ops.embedded import port_open
from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.agents import insert_agent
from shared.queue import create_arq_pool
from shared.queue.job_ids import parse_job_id
from tests.api.factories import make_key
from tests.faults.processes import stop
from tests.faults.shutdown import (
    SHUTDOWN_S,
    SLACK_S,
    HeldRequest,
    HttpService,
    Stream,
    fresh_connection_status,
    http_head,
    sigterm_and_wait,
    start_http_service,
)
from tests.faults.webhooks import phone_body, post_call, signed_headers
from tests.helpers import eventually
from tests.shared.scrape import parse

ANSWERED_BEFORE_SIGTERM = 50
LISTENER_CLOSED_WITHIN_S = 2.0  # after SIGTERM; the stuck request keeps the process alive longer


class Outcome(msgspec.Struct):
    """What the test saw around the SIGTERM."""

    fresh_status: int  # a new connection once the listener has closed after the signal
    alive_then: bool  # the process was still draining at that moment
    held_status: int  # the request finished after the signal
    exit_s: float
    returncode: int | None
    sigterm_at: float


async def _sigterm_mid_stream(
    service: HttpService, stream: Stream, held: HeldRequest, stuck: HeldRequest, ok: int
) -> Outcome:
    """Stream, hold two requests, SIGTERM, look, finish one; until the process has exited."""
    streaming = asyncio.create_task(stream.run())
    try:
        await eventually(lambda: _answered(stream, ok), 30, lambda: f"{ANSWERED_BEFORE_SIGTERM} answers {ok}")
        async with stream.paused():  # so that what is in flight at the service is ours alone
            await held.start(service.port)
            await stuck.start(service.port)
            await eventually(lambda: _in_flight(service, 2), 10, "both held requests to be in flight")
        sigterm_at = time.monotonic()
        exiting = asyncio.create_task(sigterm_and_wait(service.process, SHUTDOWN_S + SLACK_S))
        await eventually(lambda: _listener_closed(service), LISTENER_CLOSED_WITHIN_S, "the listener to close")
        fresh_status = await fresh_connection_status(stream.send, f"{stream.prefix}-fresh")
        alive_then = service.process.poll() is None
        held_status = await held.finish()
        exit_s = await exiting
    finally:
        stream.stopped.set()
        await streaming
        stuck.abandon()
        stop(service.process)
    return Outcome(fresh_status, alive_then, held_status, exit_s, service.process.returncode, sigterm_at)


async def _in_flight(service: HttpService, expected: int) -> bool:
    """The service counts `expected` requests in flight, its /metrics scrape aside."""
    async with aiohttp.ClientSession() as session, session.get(f"{service.base_url}/metrics") as reply:
        samples = parse(await reply.text())
    running = sum(
        count for (name, labels), count in samples.items()
        if name == "ringready_http_requests_in_flight" and ("route", "/metrics") not in labels
    )  # fmt: skip
    return running == expected


async def _listener_closed(service: HttpService) -> bool:
    """Nothing accepts on the port (a bare connect: no request is sent, so none can be served)."""
    return not await asyncio.to_thread(port_open, "127.0.0.1", service.port)


async def _answered(stream: Stream, ok: int) -> bool:
    return stream.count(ok) >= ANSWERED_BEFORE_SIGTERM


def _assert_graceful(outcome: Outcome, stream: Stream, ok: int, log: str) -> None:
    """The HTTP half of the contract, the same for both services."""
    assert outcome.returncode == 0, log
    assert outcome.exit_s <= SHUTDOWN_S + SLACK_S  # bounded although `stuck` never finished
    assert outcome.alive_then, "the process had already exited: nothing was drained"
    assert outcome.fresh_status in (0, 503), "a connection opened after SIGTERM was served"
    assert outcome.held_status == ok, f"a request in flight at SIGTERM was not finished: {log}"
    statuses = {answer.status for answer in stream.answers}
    assert statuses <= {ok, 0, 503}, f"the stream saw {statuses}: {log}"
    assert stream.count(ok) >= ANSWERED_BEFORE_SIGTERM


async def _queued_call_ids(arq: ArqRedis, settings: Settings) -> set[str]:
    call_ids = set()
    for job_id in await arq.zrange(settings.queue_name, 0, -1):
        parts = parse_job_id(job_id.decode())
        if parts is not None:
            call_ids.add(parts.provider_call_id)
    return call_ids


def _held_webhook(port: int, call_id: str) -> HeldRequest:
    body = phone_body(call_id)
    headers = signed_headers(body, f"msg_{call_id}")
    return HeldRequest(http_head("POST", "/webhooks/v1/phone", port, body, headers), body)


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
async def test_sigterm_ingest_loses_no_acknowledged_webhook(
    settings: Settings, tmp_path: Path, processes: int
) -> None:
    service = await start_http_service(settings, tmp_path, "services.ingest", processes)

    async def send(session: aiohttp.ClientSession, call_id: str) -> int:
        return await post_call(session, service.base_url, call_id)

    stream = Stream(send, "term")
    held, stuck = _held_webhook(service.port, "held"), _held_webhook(service.port, "stuck")
    outcome = await _sigterm_mid_stream(service, stream, held, stuck, 202)

    _assert_graceful(outcome, stream, 202, service.log_tail())
    arq = await create_arq_pool(settings)
    try:
        queued = await _queued_call_ids(arq, settings)
    finally:
        await arq.aclose()
    acknowledged = {answer.request_id for answer in stream.answers if answer.status == 202}
    assert acknowledged | {"held"} <= queued, "a webhook answered 202 is not on the queue"
    assert "stuck" not in queued
    assert any(answer.at > outcome.sigterm_at for answer in stream.answers)  # mid-stream


@pytest.mark.slow
async def test_sigterm_api_finishes_requests_in_flight(
    settings: Settings, pg: asyncpg.Pool, tmp_path: Path
) -> None:
    account_id = await insert_account(pg, "sigterm@example.com", "growth")
    agent_id = await insert_agent(
        pg, account_id=account_id, phone_number="+14155550142", business_name="Before Co"
    )
    key, _ = await make_key(pg, account_id, ["read", "write"], rate_limit_per_min=1_000_000)
    bearer = {"Authorization": f"Bearer {key}"}
    service = await start_http_service(settings, tmp_path, "services.api")

    async def send(session: aiohttp.ClientSession, _request_id: str) -> int:
        try:
            async with session.get(f"{service.base_url}/api/v1/whoami", headers=bearer) as response:
                await response.read()
                return response.status
        except aiohttp.ClientError:
            return 0

    def held_patch(business_name: str) -> HeldRequest:
        body = msgspec.json.encode({"business_name": business_name})
        headers = bearer | {"Content-Type": "application/json"}
        path = f"/api/v1/agents/{agent_id}"
        return HeldRequest(http_head("PATCH", path, service.port, body, headers), body)

    stream: Stream = Stream(send, "read")
    outcome = await _sigterm_mid_stream(service, stream, held_patch("Held Co"), held_patch("Stuck Co"), 200)

    _assert_graceful(outcome, stream, 200, service.log_tail())
    stored = await pg.fetchval("SELECT business_name FROM agents WHERE id = $1", agent_id)
    assert stored == "Held Co"  # the held PATCH took effect; the stuck one did not
