"""The store_conversation job: route, enrich, upsert exactly once; never drop an event.

Every way out of the job is one of: stored (or already stored), a dead letter with a reason,
or arq.Retry for a transient error. No exception reaches arq, because arq drops a job whose
function raises.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import structlog
from arq import Retry

from services.worker.enrich.pipeline import enrich
from services.worker.retries import (
    backoff_s,
    count_transient_retry,
    forget_transient_retries,
    is_transient,
    transient_retries,
)
from services.worker.state import STATE_CTX, WorkerState
from services.worker.store import Item
from shared.db.dead_letters import insert_dead_letter
from shared.db.routing import RouteQuery
from shared.models import QueuedEvent
from shared.queue import job_id_for, queued_event_decoder

log = structlog.get_logger(__name__)


async def store_conversation(ctx: dict[str, Any], payload: bytes) -> str:
    """Store one finished conversation exactly once; returns what happened to it."""
    state: WorkerState = ctx[STATE_CTX]
    job_id: str = ctx["job_id"]
    try:
        async with asyncio.timeout(state.job_budget_s):
            outcome = await _handle(ctx, state, job_id, payload)
    except Exception as err:
        if not is_transient(err):
            # Only a failure to write the dead letter itself gets here: keep the job alive.
            log.exception("dead_letter_failed", job_id=job_id)
        count = await count_transient_retry(ctx["redis"], job_id)
        log.warning("transient_error_retrying", error=repr(err), transient_retries=count)
        raise Retry(defer=backoff_s(count)) from err
    if ctx["job_try"] > 1:  # a first try has no counter to forget (saves a round trip)
        await forget_transient_retries(ctx["redis"], job_id)
    return outcome


async def _handle(ctx: dict[str, Any], state: WorkerState, job_id: str, payload: bytes) -> str:
    try:
        event = queued_event_decoder.decode(payload)
    except msgspec.DecodeError as err:
        await _dead_letter_raw(state, job_id, payload, f"{type(err).__name__}: {err}")
        return "invalid"
    tries = ctx["job_try"]
    if tries > 1:
        tries -= await transient_retries(ctx["redis"], job_id)
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
        job_id=_text(job_id_for(event)),
        source=conv.source,
        provider_call_id=_text(conv.provider_call_id),
        reason=reason,
        detail=_text(detail),
        payload=payload,
    )
    log.warning("dead_lettered", reason=reason, detail=detail, dead_letter_id=dead_letter_id)
    return reason


async def _dead_letter_raw(state: WorkerState, job_id: str, payload: bytes, detail: str) -> None:
    """A payload we cannot decode: keep it under the ids its job id still tells us."""
    source, call_id = parse_job_id(job_id)
    await insert_dead_letter(
        state.pool,
        job_id=_text(job_id),
        source=_text(source),
        provider_call_id=call_id and _text(call_id),
        reason="invalid",
        detail=_text(detail),
        payload=payload,
    )
    log.warning("dead_lettered", reason="invalid", detail=detail)


def _text(value: str) -> str:
    """Postgres text cannot hold NUL: a dead letter must be writable whatever the event held (ingest
    replaces NUL since #11, but jobs queued before that, or by other producers, may still carry it)."""
    return value.replace("\x00", "\ufffd")


def parse_job_id(job_id: str) -> tuple[str, str | None]:
    """(source, provider call id) from conv:<source>:<call id>:<rank>:<digest>[suffix]."""
    parts = job_id.split(":")
    if len(parts) >= 5 and parts[0] == "conv":
        # Call ids may themselves contain colons; rank and digest are the two after them.
        head = job_id.split(":replay:")[0].split(":")
        return head[1], ":".join(head[2:-2])
    return "unknown", None
