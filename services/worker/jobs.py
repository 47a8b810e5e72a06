"""The store_conversation job: route, enrich, upsert exactly once; never drop an event.

Every way out of the job is one of: stored (or already stored), a dead letter with a reason,
or arq.Retry for a transient error. No exception reaches arq, because arq drops a job whose
function raises.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec
import structlog
from arq import Retry

from services.worker.deliveries.state import wake_dispatcher
from services.worker.enrich.pipeline import enrich
from services.worker.retries import backoff_s, is_transient
from services.worker.state import STATE_CTX, WorkerState
from services.worker.store import Item
from shared.db.dead_letters import insert_dead_letter, insert_job_dead_letter
from shared.db.routing import RouteQuery
from shared.metrics.series import DEAD_LETTERS, JOB_LATENCY, JOBS
from shared.models import QueuedEvent
from shared.queue import (
    count_transient_retry,
    counted_tries,
    forget_transient_retries,
    job_id_for,
    queued_event_decoder,
)

log = structlog.get_logger(__name__)


async def store_conversation(ctx: dict[str, Any], payload: bytes) -> str:
    """Store one finished conversation exactly once; returns what happened to it."""
    state: WorkerState = ctx[STATE_CTX]
    job_id: str = ctx["job_id"]
    started = time.perf_counter()
    try:
        async with asyncio.timeout(state.job_budget_s):
            outcome = await _handle(ctx, state, job_id, payload)
    except Exception as err:
        _count_job("retry", started)
        if not is_transient(err):
            # Only a failure to write the dead letter itself gets here: keep the job alive.
            log.exception("dead_letter_failed", job_id=job_id)
        count = await count_transient_retry(ctx["redis"], job_id)
        log.warning("transient_error_retrying", error=repr(err), transient_retries=count)
        raise Retry(defer=backoff_s(count)) from err
    _count_job(outcome, started)
    if outcome == "stored":
        wake_dispatcher(ctx)
    await forget_transient_retries(ctx["redis"], job_id, ctx["job_try"])
    return outcome


def _count_job(outcome: str, started: float) -> None:
    JOBS.labels(outcome).inc()
    JOB_LATENCY.labels(outcome).observe(time.perf_counter() - started)


async def _handle(ctx: dict[str, Any], state: WorkerState, job_id: str, payload: bytes) -> str:
    try:
        event = queued_event_decoder.decode(payload)
    except msgspec.DecodeError as err:
        detail = f"{type(err).__name__}: {err}"
        await insert_job_dead_letter(state.pool, job_id, reason="invalid", detail=detail, payload=payload)
        DEAD_LETTERS.labels("invalid").inc()
        log.warning("dead_lettered", reason="invalid", detail=detail)
        return "invalid"
    tries = await counted_tries(ctx["redis"], job_id, ctx["job_try"])
    if tries > state.settings.job_max_tries:
        detail = f"{tries - 1} tries ended without a result (killed or timed out)"
        return await _dead_letter(state, event, payload, "max_tries", detail)
    try:
        outcome = await _store(state, event)
    except Exception as err:
        if is_transient(err):
            raise
        log.exception("store_failed")
        return await _dead_letter(state, event, payload, "failed", f"{type(err).__name__}: {err}")
    if outcome in ("no_agent", "agent_suspended"):
        return await _dead_letter(state, event, payload, outcome, _route_detail(event))
    log.info("conversation_handled", outcome=outcome, source=event.conversation.source)
    return outcome


async def _store(state: WorkerState, event: QueuedEvent) -> str:
    conv = event.conversation
    query = RouteQuery(conv.source, conv.agent_id, conv.to_number, conv.provider_assistant_id)
    write = await enrich(conv, event.raw_body, state.summarizer)
    return await state.batcher.submit(Item(query, write))


def _route_detail(event: QueuedEvent) -> str:
    conv = event.conversation
    return (
        f"agent_id={conv.agent_id} to_number={conv.to_number} "
        f"provider_assistant_id={conv.provider_assistant_id}"
    )


async def _dead_letter(
    state: WorkerState, event: QueuedEvent, payload: bytes, reason: str, detail: str
) -> str:
    conv = event.conversation
    dead_letter_id = await insert_dead_letter(
        state.pool,
        job_id=job_id_for(event),
        source=conv.source,
        provider_call_id=conv.provider_call_id,
        reason=reason,
        detail=detail,
        payload=payload,
    )
    DEAD_LETTERS.labels(reason).inc()
    log.warning("dead_lettered", reason=reason, detail=detail, dead_letter_id=dead_letter_id)
    return reason
