"""The end-to-end bench's two child processes: an open-loop webhook sender and an API poller.

Each runs in its own process (its own core time and event loop), so neither delays the other's
clocks. Both stamp events with time.monotonic(), which is CLOCK_MONOTONIC on Linux: one clock
for every process on the machine. They share one byte per conversation (`state`): the sender
marks it ACCEPTED or REFUSED, the poller marks it SEEN; the poller also uses it to know which
conversations will never appear (refused) so it can stop.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import MutableSequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from bench.worker_bench import AGENT_PHONE

PENDING, ACCEPTED, REFUSED = 0, 1, 2
PATH = "/webhooks/v1/phone"
CONNECTIONS = 256
POST_TIMEOUT_S = 30.0
PAGE_LIMIT = 200
MAX_PAGES = 100  # a poll never pages further than this (20,000 rows)


@dataclass(frozen=True)
class Plan:
    """One run: `count` conversations at `rate`/s; conversation i starts at base + i / rate."""

    run: int
    count: int
    rate: float
    base_started_at: float  # epoch seconds
    ingest_url: str
    api_url: str
    api_key: str
    secret: str
    poll_interval_s: float
    start_at: float  # monotonic time of the first send (both processes wait for it)
    settle_s: float  # how long after the last send the poller keeps looking


def from_number(run: int, n: int) -> str:
    """The field that names conversation n of a run in the API's list (E.164, unique)."""
    return f"+1555{run:02d}{n:06d}"


def parse_from_number(number: str | None, run: int) -> int | None:
    """Inverse of from_number for this run's numbers; None for anything else."""
    prefix = f"+1555{run:02d}"
    if number is None or not number.startswith(prefix) or len(number) != len(prefix) + 6:
        return None
    return int(number[len(prefix) :])


def started_at(plan: Plan, n: int) -> datetime:
    """Conversation n's started_at: increasing with n, so newest first is (roughly) latest sent."""
    return datetime.fromtimestamp(plan.base_started_at, UTC) + timedelta(seconds=n / plan.rate)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def phone_body(plan: Plan, n: int) -> bytes:
    """A finished native phone call to the bench agent, distinct per (run, n)."""
    start = started_at(plan, n)
    return json.dumps({
        "call_id": f"e2e-{plan.run:02d}-{n:06d}",
        "from": from_number(plan.run, n),
        "to": AGENT_PHONE,
        "started_at": _iso(start),
        "ended_at": _iso(start + timedelta(seconds=95)),
        "end_reason": "caller_hangup",
        "transcript": [
            {"role": "agent", "content": "Bright Smiles, how can I help?", "elapsed_s": 0.5},
            {"role": "caller", "content": "Hi, this is Dana, how much is a cleaning?", "elapsed_s": 3.0},
            {"role": "agent", "content": "A cleaning is $120. Shall I book you in?", "elapsed_s": 6.0},
            {"role": "caller", "content": "Yes please, Saturday morning.", "elapsed_s": 9.0},
        ],
    }).encode()  # fmt: skip


def signed_requests(plan: Plan) -> list[tuple[bytes, dict[str, str]]]:
    """Every body with its Standard Webhooks headers, signed before the clock starts."""
    from services.ingest.signatures import sign_standard

    ts = int(time.time())
    requests = []
    for n in range(plan.count):
        body, msg_id = phone_body(plan, n), f"msg_e2e_{plan.run:02d}_{n:06d}"
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(ts),
            "webhook-signature": sign_standard(plan.secret, msg_id, ts, body),
            "content-type": "application/json",
        }
        requests.append((body, headers))
    return requests


def _uvloop() -> None:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


# ---------------------------------------------------------------------------------------------
# Sender


def send(plan: Plan, state: MutableSequence[int], results: Any) -> None:
    """Process entry point: run the schedule, put the per-conversation record on `results`."""
    _uvloop()
    results.put(asyncio.run(_send(plan, state)))


async def _send(plan: Plan, state: MutableSequence[int]) -> dict[str, Any]:
    """Open loop: request n leaves at start_at + n / rate whether or not earlier ones answered."""
    import aiohttp

    requests = signed_requests(plan)
    sent_at = [0.0] * plan.count
    answered_at = [0.0] * plan.count  # monotonic time the 2xx arrived
    answered_wall = [0.0] * plan.count  # the same moment on the wall clock (Postgres compares)
    statuses = [0] * plan.count
    url = plan.ingest_url + PATH
    timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def post(n: int) -> None:
            body, headers = requests[n]
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    answered_at[n], answered_wall[n] = time.monotonic(), time.time()
                    statuses[n] = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError):
                statuses[n] = 0
            state[n] = ACCEPTED if 200 <= statuses[n] < 300 else REFUSED

        tasks = []
        loop = asyncio.get_running_loop()
        for n in range(plan.count):
            due = plan.start_at + n / plan.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at[n] = time.monotonic()
            tasks.append(loop.create_task(post(n)))
        await asyncio.wait_for(asyncio.gather(*tasks), POST_TIMEOUT_S + 5)
    lateness = [sent - (plan.start_at + n / plan.rate) for n, sent in enumerate(sent_at)]
    return {
        "sent_at": sent_at,
        "answered_at": answered_at,
        "answered_wall": answered_wall,
        "statuses": statuses,
        "max_lateness_s": max(lateness),
    }


# ---------------------------------------------------------------------------------------------
# Poller


class _Item(msgspec.Struct):
    id: int
    from_: str | None = msgspec.field(default=None, name="from")


class _Page(msgspec.Struct):
    conversations: list[_Item]
    next_before_id: int | None


_page_decoder = msgspec.json.Decoder(_Page)


def poll(plan: Plan, state: MutableSequence[int], results: Any) -> None:
    """Process entry point: poll until every accepted conversation is seen or time runs out."""
    _uvloop()
    results.put(asyncio.run(_poll(plan, state)))


async def _poll(plan: Plan, state: MutableSequence[int]) -> dict[str, Any]:
    """Every poll_interval_s: the conversations started at or after the oldest one not yet seen.

    Not "page until a known id": the worker commits batches concurrently, so a conversation can
    become visible after newer ones were already listed, below them. `since` = the oldest
    unseen started_at (the frontier), paged to the end, lists every row that can still be new.
    """
    import aiohttp

    seen_at = [0.0] * plan.count  # monotonic time the poll that first listed it returned
    seen_before = [0.0] * plan.count  # ... and the time that poll was sent (lower bound)
    polls: list[tuple[float, float, int, int]] = []  # (sent, returned, pages, rows)
    frontier = 0  # every conversation below this index is seen or refused
    deadline = plan.start_at + plan.count / plan.rate + plan.settle_s
    headers = {"Authorization": f"Bearer {plan.api_key}"}
    errors: list[str] = []
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=10)) as session:
        await asyncio.sleep(max(0.0, plan.start_at - time.monotonic()))
        next_poll = time.monotonic()
        while time.monotonic() < deadline:
            while frontier < plan.count and (seen_at[frontier] or state[frontier] == REFUSED):
                frontier += 1
            if frontier == plan.count:
                break
            since = _iso(started_at(plan, frontier))
            sent = time.monotonic()
            pages, rows, before_id = 0, 0, None
            while pages < MAX_PAGES:
                params: dict[str, str | int] = {"limit": PAGE_LIMIT, "since": since}
                if before_id is not None:
                    params["before_id"] = before_id
                async with session.get(plan.api_url + "/api/v1/conversations", params=params) as response:
                    body = await response.read()
                if response.status != 200:
                    errors.append(f"{response.status}: {body[:200]!r}")
                    break
                page = _page_decoder.decode(body)
                pages, rows = pages + 1, rows + len(page.conversations)
                returned = time.monotonic()
                for item in page.conversations:
                    n = parse_from_number(item.from_, plan.run)
                    if n is not None and not seen_at[n]:
                        seen_at[n], seen_before[n] = returned, sent
                before_id = page.next_before_id
                if before_id is None:
                    break
            polls.append((sent, time.monotonic(), pages, rows))
            if len(errors) > 20:
                break
            next_poll = max(next_poll + plan.poll_interval_s, time.monotonic())
            await asyncio.sleep(next_poll - time.monotonic())
    return {"seen_at": seen_at, "seen_before": seen_before, "polls": polls, "errors": errors[:5]}
