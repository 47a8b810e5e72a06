"""The ingest's /metrics: webhooks by source and outcome, the queue's depth and oldest job's age
(no worker runs here, so the queue only grows), requests by route and status."""

from __future__ import annotations

import msgspec
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from ops.embedded import free_port
from services.ingest.app import create_app
from shared.config import Settings
from tests.helpers import TEST_WEBHOOK_SECRET, eventually
from tests.ingest.adapters.test_native import PHONE_CALL
from tests.ingest.webhooks import post, sample, standard_headers, vapi_secret_headers
from tests.shared.scrape import Samples, scrape, value

PHONE_BODY = msgspec.json.encode(PHONE_CALL)
WEBHOOKS = "ringready_webhooks_total"


async def test_webhooks_by_source_and_outcome(client: TestClient) -> None:
    before = await scrape(client)
    await post(client, "/webhooks/v1/phone", PHONE_BODY, standard_headers(PHONE_BODY), 202)
    await post(
        client, "/webhooks/v1/phone", PHONE_BODY, standard_headers(PHONE_BODY, secret="whsec_d3Jvbmc="), 401
    )
    update = b'{"message": %s}' % sample("vapi-conversation-update.json")  # not end-of-call: ignored
    await post(client, "/webhooks/v1/vapi", update, vapi_secret_headers(), 200)
    await post(client, "/webhooks/v1/phone", b"{}", standard_headers(b"{}"), 422)
    await post(client, "/webhooks/v1/no-such-source", PHONE_BODY, {}, 404)
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved(WEBHOOKS, source="phone", outcome="queued") == 1
    assert moved(WEBHOOKS, source="phone", outcome="unauthenticated") == 1
    assert moved(WEBHOOKS, source="phone", outcome="invalid_input") == 1
    assert moved(WEBHOOKS, source="vapi", outcome="ignored") == 1
    assert not any(name == WEBHOOKS and ("source", "no-such-source") in labels for name, labels in after)
    requests = "ringready_http_requests_total"
    route = "/webhooks/v1/{source}"
    assert moved(requests, route=route, method="POST", status="202") == 1
    assert moved(requests, route=route, method="POST", status="404") == 1
    assert TEST_WEBHOOK_SECRET not in str(after)


async def test_queue_depth_and_age_grow_without_a_worker(client: TestClient, settings: Settings) -> None:
    labels = {"queue": settings.queue_name}
    empty = await scrape(client)
    assert value(empty, "ringready_queue_depth", **labels) == 0
    assert value(empty, "ringready_queue_oldest_job_age_seconds", **labels) == 0
    for n in range(3):
        body = msgspec.json.encode({**PHONE_CALL, "call_id": f"call-depth-{n}"})
        await post(client, "/webhooks/v1/phone", body, standard_headers(body, msg_id=f"msg_{n}"), 202)

    async def aged() -> Samples | None:
        samples = await scrape(client)
        return samples if value(samples, "ringready_queue_oldest_job_age_seconds", **labels) >= 0.05 else None

    waiting = await eventually(aged, 5, "the oldest job's age to pass 50 ms")
    assert value(waiting, "ringready_queue_depth", **labels) == 3


async def test_scrape_answers_without_redis(aiohttp_client: AiohttpClient, settings: Settings) -> None:
    broken = msgspec.structs.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client: TestClient = await aiohttp_client(create_app(broken))
    samples = await scrape(client)
    assert ("ringready_queue_depth", frozenset({("queue", settings.queue_name)})) not in samples
