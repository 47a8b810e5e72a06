"""An endpoint disabled after its failure window is announced: one `webhook_endpoint.disabled` event
to each of the account's other enabled endpoints that take it, none elsewhere; a warning log line
and a counter."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
from prometheus_client import generate_latest
from structlog.testing import capture_logs

from services.api.webhooks.endpoints import endpoint_from
from services.api.webhooks.inputs import EVENT_TYPES
from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.webhook_endpoints import get_endpoint, insert_endpoint
from shared.metrics.series import REGISTRY
from shared.webhooks.signing import generate_secret
from tests.api.contract import Api
from tests.api.factories import Tenant
from tests.helpers import eventually
from tests.shared.scrape import parse, value
from tests.webhooks.conftest import Listener, running_worker, store
from tests.webhooks.receiver import Receiver, always
from tests.webhooks.test_api import ENDPOINTS, ONE, api, receiver, tenant
from tests.webhooks.verify import Webhook

__all__ = ["api", "receiver", "tenant"]  # the fixtures, imported so this module can use them

DISABLED = "webhook_endpoint.disabled"


def _disabled_counter() -> float:
    return value(parse(generate_latest(REGISTRY).decode()), "ringready_webhook_endpoints_disabled_total",
                 reason="failure_window")  # fmt: skip


def _notices(receiver: Receiver) -> list[dict[str, Any]]:
    return [got.event for got in receiver.received if got.event["type"] == DISABLED]


async def _settled(pg: asyncpg.Pool) -> bool:
    """Every event fanned out and nothing left to deliver to an enabled endpoint."""
    left = await pg.fetchval(
        "SELECT (SELECT count(*) FROM webhook_events WHERE dispatched_at IS NULL)"
        " + (SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id"
        "    WHERE d.status = 'pending' AND w.enabled)"
    )
    return left == 0


async def test_a_disable_is_announced_once_to_the_accounts_other_endpoints(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    settings = msgspec.structs.replace(settings, webhook_retry_scale=0.0001, webhook_disable_after_s=0.3)
    failing = await listener.endpoint(always(503))
    # a credential in the query: the log line must not carry it
    await pg.execute("UPDATE webhook_endpoints SET url = url || $2 WHERE id = $1", failing.id, "?token=s3")
    everything = await listener.endpoint()
    only_notices = await listener.endpoint(event_types=[DISABLED])
    only_conversations = await listener.endpoint(event_types=["conversation.created"])
    other_account = await insert_account(pg, "other@example.com", "growth")
    elsewhere = Receiver(always(200))
    await elsewhere.start()
    listener.receivers.append(elsewhere)
    await insert_endpoint(pg, other_account, url=elsewhere.url, secret=generate_secret())
    counted_before = _disabled_counter()

    with capture_logs() as logs:
        async with running_worker(settings):
            await store(pg, "call-1")
            await eventually(lambda: _got_notice(everything.receiver), 15, "the disabled endpoint's notice")
            await eventually(lambda: _settled(pg), 10, "every event delivered")

    assert len(_notices(everything.receiver)) == 1
    assert len(_notices(only_notices.receiver)) == 1
    assert _notices(only_conversations.receiver) == []
    assert _notices(failing.receiver) == []
    assert elsewhere.received == []
    assert await pg.fetchval("SELECT count(*) FROM webhook_events WHERE type = $1", DISABLED) == 1

    notice = everything.receiver.received[-1]
    assert Webhook(everything.secret).verify(notice.body, notice.headers)["type"] == DISABLED
    event = notice.event
    assert event["id"] == notice.headers["webhook-id"] == _notices(only_notices.receiver)[0]["id"]
    assert set(event) == {"id", "type", "timestamp", "data"}
    shown = endpoint_from(await get_endpoint(pg, listener.account_id, failing.id))
    assert event["data"] == msgspec.to_builtins(shown)  # what GET .../endpoints/{id} shows
    assert event["data"]["enabled"] is False
    assert "failed; last: HTTP 503" in event["data"]["disabled_reason"]

    warnings = [line for line in logs if line["event"] == "webhook_endpoint_disabled"]
    assert warnings == [
        {"event": "webhook_endpoint_disabled", "log_level": "warning",
         "account_id": listener.account_id, "endpoint_id": failing.id}
    ]  # fmt: skip
    assert _disabled_counter() - counted_before == 1


async def test_no_notice_without_another_enabled_endpoint_or_for_a_manual_disable(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    alone = await listener.endpoint()
    await pg.execute(
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'failed' WHERE id = $1", alone.id
    )
    second = await listener.endpoint()
    # The API's PATCH {"enabled": false}: the account did it, no reason is set, nothing to announce.
    await pg.execute("UPDATE webhook_endpoints SET enabled = false WHERE id = $1", second.id)
    assert await pg.fetchval("SELECT count(*) FROM webhook_events") == 0
    assert await pg.fetchval("SELECT count(*) FROM webhook_endpoints WHERE disabled_at IS NOT NULL") == 2


async def _got_notice(receiver: Receiver) -> bool:
    return bool(_notices(receiver))


async def test_the_api_filters_on_the_new_type_and_a_patch_announces_nothing(
    api: Api, tenant: Tenant, receiver: Receiver, pg: asyncpg.Pool
) -> None:
    every = list(EVENT_TYPES)
    assert DISABLED in every
    created = await api.call(
        "POST", ENDPOINTS, key=tenant.key, status=201, json={"url": receiver.url, "event_types": every}
    )
    assert created["event_types"] == every
    await api.call("POST", ENDPOINTS, key=tenant.key, status=201, json={"url": receiver.url})
    changed = await api.call(
        "PATCH", ONE, key=tenant.key, status=200, path_id=created["id"], json={"enabled": False}
    )
    assert changed["enabled"] is False and changed["disabled_reason"] is None
    assert await pg.fetchval("SELECT count(*) FROM webhook_events") == 0  # the account did it
    await api.call(
        "POST", ENDPOINTS, key=tenant.key, status=422,
        json={"url": receiver.url, "event_types": ["webhook_endpoint.enabled"]},
    )  # fmt: skip
