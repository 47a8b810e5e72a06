"""With sentinels, the ingest's 2xx waits for a replica's acknowledgement (WAIT): a 202 means the
job is on a replica too; too few replicas within the timeout is a 503 the sender retries, and
that retry of a job already on the primary is a success."""

from __future__ import annotations

import msgspec
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from ops.embedded.sentinel import SentinelGroup
from services.ingest.app import create_app
from shared.config import Settings
from tests.ingest.webhooks import post, queued_events, sample, vapi_secret_headers
from tests.shared.sentinels import primary_port

REPORT = sample("vapi-end-of-call-report.json")


def _replica(sentinel_group: SentinelGroup) -> aioredis.Redis:
    node = next(n for n in sentinel_group.nodes if n.port != primary_port(sentinel_group))
    return aioredis.Redis(port=node.port)


async def test_a_202_means_the_job_is_on_the_replica(
    aiohttp_client,
    ha_settings: Settings,
    sentinel_group: SentinelGroup,  # type: ignore[no-untyped-def]
) -> None:
    client: TestClient = await aiohttp_client(create_app(ha_settings))
    reply = await post(client, "/webhooks/v1/vapi", REPORT, vapi_secret_headers(), 202)
    replica = _replica(sentinel_group)
    try:  # read at once: WAIT returned only after the replica had applied the enqueue
        assert list(await queued_events(replica, ha_settings)) == [reply["job_id"]]
    finally:
        await replica.aclose()


async def test_too_few_replicas_is_503_and_the_retry_is_a_success(
    aiohttp_client,
    ha_settings: Settings,
    sentinel_group: SentinelGroup,  # type: ignore[no-untyped-def]
) -> None:
    # Two replicas wanted, one runs: WAIT answers 1 after its timeout.
    short = msgspec.structs.replace(ha_settings, redis_wait_replicas=2, redis_wait_timeout_ms=100)
    client: TestClient = await aiohttp_client(create_app(short))
    refused = await client.post("/webhooks/v1/vapi", data=REPORT, headers=vapi_secret_headers())
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "5"
    primary = aioredis.Redis(port=primary_port(sentinel_group))
    try:
        queued = list(await queued_events(primary, ha_settings))
        assert len(queued) == 1  # the job is on the primary all the same ...
    finally:
        await primary.aclose()
    enough: TestClient = await aiohttp_client(create_app(ha_settings))
    retried = await post(enough, "/webhooks/v1/vapi", REPORT, vapi_secret_headers(), 202)
    assert [retried["job_id"]] == queued  # ... and the sender's retry is a duplicate: accepted


async def test_without_sentinels_nothing_waits(
    aiohttp_client,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    # The session's Valkey has no replica: a WAIT 1 would make every enqueue a 503.
    client: TestClient = await aiohttp_client(create_app(settings))
    await post(client, "/webhooks/v1/vapi", REPORT, vapi_secret_headers(), 202)
