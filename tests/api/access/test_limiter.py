"""The Redis sliding-window limiter against the real Redis: exactness, isolation, state, memory, reloads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from ops.embedded import free_port
from services.api.access.limiter import (
    IP_POLICY,
    KEY_POLICY,
    Decision,
    RateLimiter,
    api_key_bucket,
    ip_bucket,
    limit_for,
)
from shared.config import Settings
from shared.redis_pipe import RedisPipe
from tests.api.factories import pipe_to
from tests.helpers import eventually

PROCESSES = 4


@pytest.fixture
async def clients(settings: Settings) -> AsyncIterator[list[RedisPipe]]:
    """One Redis connection per simulated API process."""
    made = [pipe_to(settings.redis_url) for _ in range(PROCESSES)]
    yield made
    for client in made:
        await client.aclose()


async def sent_batches(limiter: RateLimiter, count: int, within_s: float = 5.0) -> None:
    """Yield to the loop until the limiter has sent `count` EVALSHAs (bounded)."""

    async def sent() -> bool:
        # Tick by tick, not eventually()'s 50 ms: the caller acts before the EVALSHA's reply is read.
        for _ in range(1000):
            if limiter.batches >= count:
                return True
            await asyncio.sleep(0)
        return False

    await eventually(sent, within_s, f"the limiter to send {count} batches")


def limiter_on(client: RedisPipe, ip_limit: int = 30, period_s: int | None = None) -> RateLimiter:
    if period_s is None:  # the production window: limits are per 60 s
        return RateLimiter(client, ip_limit_per_min=ip_limit)
    return RateLimiter(client, ip_limit_per_min=ip_limit, period_s=period_s)


async def stored(redis_client: aioredis.Redis, bucket: str) -> list[tuple[bytes, float]]:
    """A bucket's log: one (member, stamp) per admitted request still in the window."""
    return await redis_client.zrange(bucket, 0, -1, withscores=True)  # type: ignore[no-any-return]


async def test_concurrent_burst_from_four_processes_admits_exactly_the_limit(
    clients: list[RedisPipe],
) -> None:
    limit = 20
    limiters = [limiter_on(client) for client in clients]
    started = time.monotonic()
    decisions = await asyncio.gather(
        *(limiters[i % PROCESSES].hit_key(7, limit) for i in range(PROCESSES * limit))
    )
    elapsed = time.monotonic() - started
    admitted = [d for d in decisions if d.allowed]
    denied = [d for d in decisions if not d.allowed]
    assert len(admitted) == limit
    assert sorted(d.remaining for d in admitted) == list(range(limit))
    assert all(d.source == "redis" for d in decisions)
    # Nothing comes back before the first admitted request leaves the 60 s window.
    assert all(60 - elapsed - 1 < d.retry_after_s <= 60 and d.remaining == 0 for d in denied)
    assert all(d.window_s == 60 for d in denied)


async def test_nothing_is_admitted_again_within_the_window(clients: list[RedisPipe]) -> None:
    # The policy says q=L;w=60: at most L in any 60 s. A refilling bucket (GCRA, before) admitted
    # one more request every 60/L s after the burst, here every 10 ms.
    limiter = limiter_on(clients[0])
    limit = 6000
    burst = await asyncio.gather(*(limiter.hit_key(1, limit) for _ in range(limit + 5)))
    assert [d.allowed for d in burst] == [True] * limit + [False] * 5
    started = burst[0].now_epoch_s
    later: list[Decision] = []
    while not later or later[-1].now_epoch_s < started + 0.2:  # 20 intervals of the old refill
        later.append(await limiter.hit_key(1, limit))
        await asyncio.sleep(0.005)
    assert not any(d.allowed for d in later)
    assert all(d.retry_after_s == pytest.approx(60 - (d.now_epoch_s - started), abs=0.01) for d in later)


async def test_key_is_admitted_again_when_its_requests_leave_the_window(clients: list[RedisPipe]) -> None:
    limiter = limiter_on(clients[0], period_s=1)  # the same script with a 1 s window
    limit = 3
    burst = await asyncio.gather(*(limiter.hit_key(1, limit) for _ in range(limit + 1)))  # one Redis TIME
    assert [d.allowed for d in burst] == [True] * limit + [False]
    denied = await limiter.hit_key(1, limit)
    assert not denied.allowed and 0 < denied.retry_after_s <= 1
    started = time.monotonic()
    admitted: list[Decision] = []

    async def admitted_again() -> bool:
        admitted.append(await limiter.hit_key(1, limit))
        return admitted[-1].allowed

    await eventually(admitted_again, 5, "the key to be admitted again")
    decision = admitted[-1]
    waited = time.monotonic() - started
    assert waited >= denied.retry_after_s - 0.05
    assert decision.remaining == limit - 1  # the whole burst (stamps 1 µs apart) left the window together


async def test_at_most_the_limit_in_any_window(clients: list[RedisPipe]) -> None:
    # The promise of RateLimit-Policy q=5;w=1, checked on the limiter's own clock over 3 windows
    # of steady traffic, single hits and batches from two processes mixed.
    limit, period = 5, 1
    limiters = [limiter_on(client, period_s=period) for client in clients[:2]]
    decisions: list[Decision] = []
    while not decisions or decisions[-1].now_epoch_s < decisions[0].now_epoch_s + 3 * period:
        decisions += await asyncio.gather(
            *(limiters[n % 2].hit_key(2, limit) for n in range(len(decisions) % 3 + 1))
        )
        await asyncio.sleep(0.01)
    admitted = sorted(d.now_epoch_s for d in decisions if d.allowed)
    for start in admitted:
        assert len([at for at in admitted if start <= at < start + period]) <= limit
    assert 3 * limit <= len(admitted) <= 4 * limit  # and not stricter than promised
    assert all(0 < d.retry_after_s <= period for d in decisions if not d.allowed)


async def test_denied_requests_do_not_consume(clients: list[RedisPipe], redis_client: aioredis.Redis) -> None:
    limiter = limiter_on(clients[0])
    for _ in range(3):
        await limiter.hit_key(2, 3)
    log = await stored(redis_client, api_key_bucket(2))
    assert len(log) == 3
    for _ in range(20):
        assert not (await limiter.hit_key(2, 3)).allowed
    assert await stored(redis_client, api_key_bucket(2)) == log


async def test_keys_do_not_share_budgets(clients: list[RedisPipe]) -> None:
    limiter = limiter_on(clients[0])
    for _ in range(5):
        await limiter.hit_key(10, 5)
    assert not (await limiter.hit_key(10, 5)).allowed
    other = await limiter.hit_key(11, 5)
    assert other.allowed and other.remaining == 4
    ip = await limiter.hit_ip("10")  # same digits, different bucket
    assert ip.allowed and ip.remaining == 29


async def test_state_moves_by_one_per_request(clients: list[RedisPipe]) -> None:
    limiter = limiter_on(clients[0])
    limit = 10
    decisions = [await limiter.hit_key(3, limit) for _ in range(limit)]
    assert [d.remaining for d in decisions] == list(range(limit - 1, -1, -1))
    first = decisions[0].now_epoch_s  # t: until the first request leaves the window
    assert all(d.t_s == pytest.approx(60 - (d.now_epoch_s - first), abs=1e-5) for d in decisions)
    assert all(d.window_s == 60 and d.period_s == 60 for d in decisions)
    assert all(d.policy == KEY_POLICY and d.limit == limit and d.retry_after_s == 0 for d in decisions)
    assert abs(decisions[-1].now_epoch_s - time.time()) < 5  # Redis's clock, in epoch seconds
    denied = await limiter.hit_key(3, limit)
    assert denied.retry_after_s == denied.t_s == pytest.approx(60 - (denied.now_epoch_s - first), abs=1e-5)
    assert denied.reset_epoch_s - denied.window_s == pytest.approx(denied.now_epoch_s, abs=1)


async def test_ip_budget_is_separate_and_stricter(clients: list[RedisPipe]) -> None:
    limiter = limiter_on(clients[0], ip_limit=4)
    results = [await limiter.hit_ip("192.0.2.7") for _ in range(5)]
    assert [d.allowed for d in results] == [True] * 4 + [False]
    assert all(d.policy == IP_POLICY and d.limit == 4 for d in results)
    assert (await limiter.hit_ip("192.0.2.8")).allowed
    assert (await limiter.hit_key(1, 60)).remaining == 59


async def test_bucket_is_small_and_expires(clients: list[RedisPipe], redis_client: aioredis.Redis) -> None:
    limiter = limiter_on(clients[0])
    await limiter.hit_key(123456, 1000)
    await limiter.hit_ip("2001:db8::1")
    for bucket in (api_key_bucket(123456), ip_bucket("2001:db8::1")):
        usage = await redis_client.memory_usage(bucket)
        assert usage is not None and usage <= 120
        # Gone one full window after the last admitted request: the log is empty by then.
        assert 59_000 < await redis_client.pttl(bucket) <= 60_000
    for _ in range(59):
        await limiter.hit_key(123456, 60)  # a free-plan key at its limit: 60 entries, one listpack
    usage = await redis_client.memory_usage(api_key_bucket(123456))
    assert usage is not None and usage <= 1_500
    assert api_key_bucket(5) == "rl:{k5}"  # hash tag: one Cluster slot per bucket


async def test_limiter_state_is_never_written_to_the_aof(
    clients: list[RedisPipe], redis_client: aioredis.Redis
) -> None:
    # The queue's Redis runs appendfsync always: a propagated write per batch would cost an fsync.
    persistence = await redis_client.info("persistence")
    if not persistence["aof_enabled"]:
        pytest.skip("this Redis has no AOF")
    limiter = limiter_on(clients[0])
    await limiter.hit_key(31, 10**9)  # refills within a microsecond: must not expire at once either
    size = (await redis_client.info("persistence"))["aof_current_size"]
    for wave in range(20):
        await asyncio.gather(*(limiter.hit_key(31 + n % 3, 10**9) for n in range(wave + 1)))
        await limiter.hit_ip("198.51.100.20")
    assert (await redis_client.info("persistence"))["aof_current_size"] == size
    assert await redis_client.zcard(api_key_bucket(31)) > 0


async def test_script_is_reloaded_after_script_flush(
    clients: list[RedisPipe], redis_client: aioredis.Redis
) -> None:
    limiter = limiter_on(clients[0])
    assert (await limiter.hit_key(4, 10)).remaining == 9
    await redis_client.script_flush()
    after = await limiter.hit_key(4, 10)
    assert after.source == "redis" and after.remaining == 8


def test_limit_comes_from_override_then_plan_then_default(settings: Settings) -> None:
    custom = msgspec.structs.replace(settings, plans={"free": 60, "pro": 300}, default_plan="free")
    assert limit_for(custom, "pro", None) == 300
    assert limit_for(custom, "pro", 7) == 7
    assert limit_for(custom, "retired-plan", None) == 60


# Coalescing: the hits of one bucket within one event-loop tick share one EVALSHA, and hits that
# arrive while it is in flight share the next; each request still gets its own exact decision.


async def test_hits_of_one_tick_share_one_evalsha_and_step_by_one(clients: list[RedisPipe]) -> None:
    limiter = limiter_on(clients[0])
    limit = 30
    decisions = await asyncio.gather(*(limiter.hit_key(21, limit) for _ in range(10)))
    assert limiter.batches == 1
    assert [d.remaining for d in decisions] == list(range(limit - 1, limit - 11, -1))  # in call order
    assert all(d.allowed and d.source == "redis" and d.retry_after_s == 0 for d in decisions)
    assert len({d.now_epoch_s for d in decisions}) == 1  # decided at one Redis TIME
    assert {d.t_s for d in decisions} == {60.0}  # the first of them leaves the window in 60 s
    after_batch = await limiter.hit_key(21, limit)  # the batch wrote the state of all ten hits
    assert after_batch.remaining == limit - 11 and limiter.batches == 2


async def test_a_batch_across_the_limit_admits_exactly_the_rest(
    clients: list[RedisPipe], redis_client: aioredis.Redis
) -> None:
    limiter = limiter_on(clients[0])
    await limiter.hit_key(22, 5)
    await limiter.hit_key(22, 5)
    decisions = await asyncio.gather(*(limiter.hit_key(22, 5) for _ in range(6)))
    assert limiter.batches == 3  # two single hits, then the six together
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 2), (True, 1), (True, 0)] + [
        (False, 0)
    ] * 3
    denied = decisions[3:]
    assert all(d.retry_after_s == denied[0].retry_after_s > 0 for d in denied)
    assert all(d.t_s == decisions[2].t_s for d in denied)  # denials changed nothing
    log = await stored(redis_client, api_key_bucket(22))
    assert len(log) == 5
    assert not any(d.allowed for d in await asyncio.gather(*(limiter.hit_key(22, 5) for _ in range(4))))
    assert await stored(redis_client, api_key_bucket(22)) == log


async def test_hits_during_an_evalsha_ride_the_next_one(clients: list[RedisPipe]) -> None:
    limiter = limiter_on(clients[0])
    first = asyncio.ensure_future(limiter.hit_key(23, 50))
    await sent_batches(limiter, 1)  # the first hit's EVALSHA is on its way; its reply is not read yet
    rest = [asyncio.ensure_future(limiter.hit_key(23, 50)) for _ in range(7)]
    other_bucket = asyncio.ensure_future(limiter.hit_key(24, 50))
    decisions = await asyncio.gather(first, *rest)
    assert limiter.batches == 3  # {first}, {the seven}, and bucket 24's own
    assert [d.remaining for d in decisions] == list(range(49, 41, -1))
    assert (await other_bucket).remaining == 49


async def test_waves_from_four_processes_admit_exactly_the_limit_once_each(
    clients: list[RedisPipe],
) -> None:
    limit = 40
    limiters = [limiter_on(client) for client in clients]
    started = time.monotonic()
    decisions: list[Decision] = []
    for wave in range(6):  # uneven batches: 4, 8, ... 24 hits per process in one tick
        hits = [
            limiters[p].hit_key(25, limit)
            for _ in range(4)
            for p in range(PROCESSES)
            for _ in range(wave + 1)
        ]
        decisions += await asyncio.gather(*hits)
    assert time.monotonic() - started < 60, "a request may have left the window during the waves"
    admitted = [d for d in decisions if d.allowed]
    assert len(decisions) == 4 * PROCESSES * 21 and len(admitted) == limit
    assert sorted(d.remaining for d in admitted) == list(range(limit))  # every state exactly once
    assert all(d.remaining == 0 and d.retry_after_s > 0 for d in decisions if not d.allowed)
    assert sum(limiter.batches for limiter in limiters) < len(decisions)


async def test_a_failed_batch_falls_back_for_each_of_its_requests() -> None:
    client = pipe_to(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2)
    limiter = limiter_on(client)
    try:
        decisions = await asyncio.gather(*(limiter.hit_key(26, 3) for _ in range(5)))
    finally:
        await client.aclose()
    assert [(d.allowed, d.remaining, d.source) for d in decisions] == [
        (True, 2, "fallback"),
        (True, 1, "fallback"),
        (True, 0, "fallback"),
        (False, 0, "fallback"),
        (False, 0, "fallback"),
    ]
    assert limiter.redis_failures == 1 and limiter.fallback_count == 5
