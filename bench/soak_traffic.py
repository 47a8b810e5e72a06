"""The soak's traffic: a steady stream of signed webhooks retried like a provider retries, and an
API reader that notes when each accepted call first shows up in `GET /api/v1/conversations`."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import msgspec

from bench.soak_events import Call, Secrets, Version, signed_headers

POST_TIMEOUT_S = 10.0
# A provider's retries, shortened to fit a bounded run: 1, 2, 4, 8, 8, ... s apart.
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 8.0
PAGE_LIMIT = 200
MAX_PAGES = 50
API_TIMEOUT_S = 5.0
# The reader stops looking for a call this long after its 2xx (reconciliation still checks it).
VISIBLE_WITHIN_S = 300.0


@dataclass
class Tally:
    """Counts of the whole run."""

    attempts: int = 0  # POSTs sent
    deliveries: int = 0  # deliveries started (a retried one counts once)
    accepted: int = 0  # deliveries that got a 2xx
    ignored: int = 0  # ... of which acknowledged as not stored (Vapi status-update)
    retried: int = 0  # deliveries that needed more than one attempt
    refused: int = 0  # attempts answered non-2xx or not at all (the sender retried)
    refused_by: Counter[str] = field(default_factory=Counter)  # "503", "connection", ...
    rejected: int = 0  # 4xx other than 408/429: the soak's own mistake, never retried
    rejected_examples: list[str] = field(default_factory=list)
    abandoned: int = 0  # deliveries given up on (still refused when retrying stopped)


class Sender:
    """Sends every call's deliveries at their times; retries refusals until `retry_until`."""

    def __init__(self, ingest_url: str, secrets: Secrets, retry_until: float) -> None:
        self.ingest_url = ingest_url
        self.secrets = secrets
        self.retry_until = retry_until  # monotonic; no new attempt after it
        self.tally = Tally()
        self.on_accepted: Callable[[Call], None] = lambda call: None
        self._due: list[tuple[float, int, Call, int]] = []
        self._seq = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, call: Call, first_send: float) -> None:
        """Queue the call's deliveries relative to its first send (monotonic)."""
        for offset, version in call.deliveries:
            heapq.heappush(self._due, (first_send + offset, next(self._seq), call, version))

    async def run(self, session: aiohttp.ClientSession, stop_at: float) -> None:
        """Start each delivery when due, until `stop_at`; later ones are never sent (nor counted)."""
        while time.monotonic() < stop_at:
            if not self._due or self._due[0][0] > time.monotonic():
                await asyncio.sleep(0.01)
                continue
            _, _, call, version = heapq.heappop(self._due)
            task = asyncio.create_task(self._deliver(session, call, version))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def pending(self) -> int:
        """Deliveries still being attempted."""
        return len(self._tasks)

    async def finish(self) -> None:
        """Wait for the deliveries in flight (each stops retrying at retry_until)."""
        if self._tasks:
            await asyncio.gather(*self._tasks)

    async def _deliver(self, session: aiohttp.ClientSession, call: Call, index: int) -> None:
        version = call.versions[index]
        tally = self.tally
        tally.deliveries += 1
        call.attempted.add(index)
        backoff = RETRY_FIRST_S
        for attempt in itertools.count():
            status = await self._post(session, version, vapi_hmac=call.n % 2 == 0)
            tally.attempts += 1
            if 200 <= status < 300:
                tally.accepted += 1
                tally.retried += attempt > 0
                if version.rank == 0:
                    tally.ignored += 1
                elif not call.first_accepted_at:
                    call.first_accepted_at = time.monotonic()
                    self.on_accepted(call)
                call.accepted.add(index)
                return
            if 400 <= status < 500 and status not in (408, 429):
                tally.rejected += 1
                if len(tally.rejected_examples) < 5:
                    tally.rejected_examples.append(f"{status} {version.path} {call.call_id}")
                return
            tally.refused += 1
            tally.refused_by[str(status) if status else "connection"] += 1
            if time.monotonic() + backoff > self.retry_until:
                tally.abandoned += 1
                return
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RETRY_MAX_S)

    async def _post(self, session: aiohttp.ClientSession, version: Version, *, vapi_hmac: bool) -> int:
        """One attempt: the status, or 0 when there was no answer (refused, reset, timed out)."""
        headers = signed_headers(version, self.secrets, vapi_hmac)
        try:
            async with session.post(
                f"{self.ingest_url}/webhooks/v1/{version.path}", data=version.body, headers=headers
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError, OSError):
            return 0


class _Item(msgspec.Struct):
    id: int
    channel: str
    from_: str | None = msgspec.field(default=None, name="from")
    web_chat: dict[str, str | None] | None = None


class _Page(msgspec.Struct):
    conversations: list[_Item]
    next_before_id: int | None


_page_decoder = msgspec.json.Decoder(_Page)


def marker_of(item: _Item) -> str | None:
    """The field that names a soak call in the list: caller number, or the chat's page."""
    if item.channel == "web_chat":
        return (item.web_chat or {}).get("origin_url")
    return item.from_


@dataclass
class Reader:
    """Polls the list for the accepted calls not yet seen, from the oldest of them (`since`)."""

    api_url: str
    api_key: str
    interval_s: float
    calls: dict[str, Call]  # by marker
    unseen: dict[int, Call] = field(default_factory=dict)  # accepted, not yet listed; by n
    seen_at: dict[int, float] = field(default_factory=dict)  # n -> monotonic time first listed
    polls: int = 0
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def accepted(self, call: Call) -> None:
        """The sender's hook: a storable version of this call just got its first 2xx."""
        self.unseen[call.n] = call

    def latencies(self) -> list[float]:
        """Seconds from each call's first 2xx to the poll response that first listed it."""
        by_n = {call.n: call for call in self.calls.values()}
        return [seen - by_n[n].first_accepted_at for n, seen in self.seen_at.items()]

    async def run(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Poll every interval_s until told to stop."""
        while not stop.is_set():
            started = time.monotonic()
            self._forget_overdue(started)
            if self.unseen:
                await self._poll(session)
            elapsed = time.monotonic() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, self.interval_s - elapsed))

    def _forget_overdue(self, now: float) -> None:
        for n, call in list(self.unseen.items()):
            if now - call.first_accepted_at > VISIBLE_WITHIN_S:
                del self.unseen[n]

    async def _poll(self, session: aiohttp.ClientSession) -> None:
        oldest = min(self.unseen.values(), key=lambda call: call.n)
        since = min(v.expected.started_at for v in oldest.versions if v.expected is not None)
        params: dict[str, str | int] = {"limit": PAGE_LIMIT, "since": since.strftime("%Y-%m-%dT%H:%M:%SZ")}
        self.polls += 1
        for _ in range(MAX_PAGES):
            try:
                async with session.get(f"{self.api_url}/api/v1/conversations", params=params) as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self.errors[type(exc).__name__] += 1
                return
            self.requests += 1
            if status != 200:
                self.errors[str(status)] += 1
                return
            page = _page_decoder.decode(body)
            now = time.monotonic()
            for item in page.conversations:
                call = self.calls.get(marker_of(item) or "")
                if call is not None and call.n not in self.seen_at and call.first_accepted_at:
                    self.seen_at[call.n] = now
                    self.unseen.pop(call.n, None)
            if page.next_before_id is None:
                return
            params["before_id"] = page.next_before_id
