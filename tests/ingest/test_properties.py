"""Property: every mutated but correctly signed sample, on every source, is either refused with a
4xx naming the problem and nothing queued, or accepted (202/200) and then stored by the real
worker into real Postgres, content intact (NUL as U+FFFD). Never a 5xx; never a dead letter for
an accepted event (routing aside: a mutated number may name no agent).

The search is derandomized (the same examples on every run) and bounded so the file takes about a
minute on a slow 2-core machine. For a larger search, raise the number of examples per source and
lift pytest's per-test timeout, e.g.:

    INGEST_PROPERTY_EXAMPLES=500 .venv/bin/pytest tests/ingest/test_properties.py --timeout 0

Other examples than the fixed ones: add INGEST_PROPERTY_SEED=<n> (derandomize is then off).
(`INGEST_…`, not `RINGREADY_…`: Settings refuses unknown RINGREADY_ variables.)
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import hypothesis
import msgspec
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from shared.config import Settings
from shared.models import QueuedEvent
from tests.ingest.adapters.test_native import PHONE_CALL, WEB_CHAT
from tests.ingest.mutations import Target, mutated
from tests.ingest.signing import signed
from tests.ingest.stored import (
    agent_for_every_sample,
    dead_letters,
    provider_sample,
    store_queued,
    stored_rows,
)
from tests.ingest.webhooks import queued_events

# Hypothesis caches (constants found in the code, Unicode tables) under ./.hypothesis even without
# an example database; keep them out of the repository.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "ringready-hypothesis")
# A test knob, not a Setting: the run is derandomized unless a seed asks for other examples.
SEED = os.environ.get("INGEST_PROPERTY_SEED")
PROPERTIES = settings(
    max_examples=int(os.environ.get("INGEST_PROPERTY_EXAMPLES", "40")),  # a test knob, not a Setting
    derandomize=SEED is None,
    database=None,  # no .hypothesis directory in the repository
    deadline=None,  # a stored example runs a real worker: hundreds of ms on a busy machine
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the state is reset by hand before every example
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
NUL = "\x00"


def seeded(test: Any) -> Any:
    """The test with INGEST_PROPERTY_SEED's seed, when one is set."""
    return hypothesis.seed(int(SEED))(test) if SEED else test


@pytest.fixture
async def agent_id(pg: asyncpg.Pool) -> int:
    """The agent every sample routes to (kept across examples; only conversations are reset)."""
    return await agent_for_every_sample(pg)


def _targets(agent: int) -> dict[str, Target]:
    return {
        "phone": Target(
            "/webhooks/v1/phone",
            PHONE_CALL,
            ("transcript",),
            (("started_at",), ("ended_at",), ("updated_at",)),
            (),
        ),
        "web-chat": Target(
            "/webhooks/v1/web-chat",
            {**WEB_CHAT, "agent_id": agent},
            ("transcript",),
            (("started_at",), ("ended_at",), ("updated_at",)),
            (),
        ),
        "vapi": Target(
            "/webhooks/v1/vapi",
            provider_sample("vapi"),
            ("message", "artifact", "messages"),
            (("message", "startedAt"), ("message", "endedAt"), ("message", "call", "createdAt")),
            (("message", "timestamp"),),
        ),
        "retell": Target(
            "/webhooks/v1/retell",
            provider_sample("retell"),
            ("call", "transcript_object"),
            (),
            (("call", "start_timestamp"), ("call", "end_timestamp")),
        ),
        "elevenlabs": Target(
            "/webhooks/v1/elevenlabs",
            provider_sample("elevenlabs"),
            ("data", "transcript"),
            (),
            (
                ("data", "metadata", "start_time_unix_secs"),
                ("data", "metadata", "call_duration_secs"),
                ("event_timestamp",),
            ),
        ),
    }


def _strings(value: Any) -> list[str]:
    """Every string in a JSON value, keys included (iterative: metadata may nest ~900 deep)."""
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _same(stored: Any, sent: Any) -> bool:
    """JSON equality as jsonb keeps it: numbers compare by value (1e19 comes back as an int)."""
    stack = [(stored, sent)]
    while stack:
        a, b = stack.pop()
        if isinstance(b, float) or isinstance(a, float):
            if not (isinstance(a, int | float) and float(a) == float(b)):
                return False
        elif isinstance(b, dict):
            if not (isinstance(a, dict) and a.keys() == b.keys()):
                return False
            stack.extend((a[key], b[key]) for key in b)
        elif isinstance(b, list):
            if not (isinstance(a, list) and len(a) == len(b)):
                return False
            stack.extend(zip(a, b, strict=True))
        elif a != b or type(a) is not type(b):
            return False
    return True


async def _reset(pg: asyncpg.Pool, redis_client: aioredis.Redis) -> None:
    await pg.execute("TRUNCATE conversations, conversation_details, dead_letters RESTART IDENTITY CASCADE")
    await redis_client.flushdb()


async def _check_stored(pg: asyncpg.Pool, event: QueuedEvent, body: bytes) -> None:
    conv = event.conversation
    letters = await dead_letters(pg)
    # A mutated number or assistant id may route nowhere; nothing else may end as a dead letter.
    assert all(reason == "no_agent" for reason, _ in letters), letters
    rows = await stored_rows(pg)
    assert len(rows) == (0 if letters else 1)
    if letters:
        return
    row = rows[0]
    assert row["raw_body"] == body
    assert (row["source"], row["provider_call_id"], row["channel"]) == (
        conv.source,
        conv.provider_call_id,
        conv.channel,
    )
    assert (row["started_at"], row["ended_at"], row["event_at"]) == (
        conv.started_at,
        conv.ended_at,
        conv.event_at,
    )
    for name in ("from_number", "to_number", "end_reason_raw", "device_type", "origin_url"):
        assert row[name] == getattr(conv, name), name
    for name in ("summary", "caller_name", "label"):  # derived locally when not given (or "")
        assert not getattr(conv, name) or row[name] == getattr(conv, name), name
    assert (row["recording_url"], row["visitor_ip"]) == (conv.recording_url, conv.visitor_ip)
    assert _same(row["transcript"], msgspec.to_builtins(conv.transcript))
    assert _same(row["provider_metadata"], msgspec.to_builtins(conv.provider_metadata))


async def _property(
    client: TestClient,
    pg: asyncpg.Pool,
    redis_client: aioredis.Redis,
    settings: Settings,
    path: str,
    body: bytes,
) -> None:
    await _reset(pg, redis_client)
    reply = await client.post(
        path, data=io.BytesIO(body), headers={"Content-Type": "application/json", **signed(path, body)}
    )
    payload = await reply.json()
    hypothesis.event(f"status {reply.status}")  # --hypothesis-show-statistics tallies them
    assert reply.status < 500, (reply.status, payload)
    events = await queued_events(redis_client, settings)
    if reply.status >= 400:
        assert set(payload) == {"detail"} and payload["detail"], payload
        assert events == {} and await redis_client.keys("arq:job:*") == []
        return
    assert reply.status in (200, 202), payload
    if reply.status == 200:
        assert payload["status"] == "ignored" and events == {}
        return
    assert list(events) == [payload["job_id"]]
    event = events[payload["job_id"]]
    assert not any(NUL in text for text in _strings(msgspec.to_builtins(event.conversation)))
    await store_queued(settings)
    await _check_stored(pg, event, body)


@pytest.mark.parametrize("source", ["phone", "web-chat", "vapi", "retell", "elevenlabs"])
@PROPERTIES
@seeded
@given(data=st.data())
async def test_mutated_signed_samples_are_refused_or_stored(
    client: TestClient,
    pg: asyncpg.Pool,
    redis_client: aioredis.Redis,
    settings: Settings,
    agent_id: int,
    source: str,
    data: st.DataObject,
) -> None:
    target = _targets(agent_id)[source]
    body = data.draw(mutated(target), label="body")
    await _property(client, pg, redis_client, settings, target.path, body)
