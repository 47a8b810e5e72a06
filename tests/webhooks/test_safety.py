"""Secret rotation (both signatures during the overlap) and SSRF refusals, at check and at delivery."""

from __future__ import annotations

import ipaddress
from typing import Any

import asyncpg
import msgspec
import pytest

from shared.config import Settings
from shared.db.webhook_endpoints import rotate_secret
from shared.webhooks.addresses import BlockedAddress, PublicOnlyResolver, check_address, check_url
from shared.webhooks.signing import generate_secret
from tests.helpers import eventually
from tests.webhooks.conftest import Listener, running_worker, store
from tests.webhooks.verify import Webhook

DAY_S = 24 * 3600.0


async def _attempt_error(pg: asyncpg.Pool) -> Any:
    return await pg.fetchval("SELECT error FROM webhook_attempts ORDER BY id LIMIT 1")


async def test_rotation_signs_with_both_secrets_during_the_overlap(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    endpoint = await listener.endpoint()
    new_secret = generate_secret()
    assert await rotate_secret(pg, listener.account_id, endpoint.id, new_secret, DAY_S)
    async with running_worker(settings):
        await store(pg, "call-rotated")
        await eventually(lambda: _count(endpoint.receiver.received), 10, "a delivery")
    received = endpoint.receiver.received[0]
    assert len(received.headers["webhook-signature"].split(" ")) == 2
    for secret in (endpoint.secret, new_secret):  # a receiver on either secret accepts it
        assert Webhook(secret).verify(received.body, received.headers)["type"] == "conversation.created"


async def test_after_the_overlap_only_the_new_secret_signs(
    settings: Settings, pg: asyncpg.Pool, listener: Listener
) -> None:
    endpoint = await listener.endpoint()
    new_secret = generate_secret()
    assert await rotate_secret(pg, listener.account_id, endpoint.id, new_secret, 0.0)
    assert not await rotate_secret(pg, listener.account_id + 1, endpoint.id, generate_secret(), 0.0)
    async with running_worker(settings):
        await store(pg, "call-rotated")
        await eventually(lambda: _count(endpoint.receiver.received), 10, "a delivery")
    received = endpoint.receiver.received[0]
    assert Webhook(new_secret).verify(received.body, received.headers)
    with pytest.raises(Exception, match="(?i)signature"):
        Webhook(endpoint.secret).verify(received.body, received.headers)


async def _count(items: list[Any]) -> bool:
    return len(items) > 0


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",  # http without the setting
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
        "https:///no-host",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://10.0.0.8/hook",
        "https://192.168.1.1/hook",
        "https://172.16.0.1/hook",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata (link-local)
        "https://[fd00:ec2::254]/",  # AWS's IPv6 metadata
        "https://[::ffff:10.0.0.1]/",  # a private IPv4 dressed as IPv6
        "https://100.64.0.1/",  # carrier-grade NAT
        "https://0.0.0.0/",
        "https://" + "0" * 64 + "/",  # a label DNS cannot carry
        "https://" + "a." * 127 + "com/",  # a name longer than DNS allows
        "https://xn--zz.com/",  # broken punycode
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(BlockedAddress):
        check_url(url, allow_http=False, allow_loopback=False)


def test_accepted_urls_and_the_loopback_setting() -> None:
    assert (
        check_url("https://hooks.example.com/in", allow_http=False, allow_loopback=False).host
        == "hooks.example.com"
    )
    assert check_url("https://93.184.215.14/in", allow_http=False, allow_loopback=False)
    assert check_url("http://127.0.0.1:8000/in", allow_http=True, allow_loopback=True)
    with pytest.raises(BlockedAddress):  # loopback only: never the private ranges
        check_address(ipaddress.ip_address("10.1.2.3"), allow_loopback=True)


async def test_the_resolver_refuses_names_of_internal_addresses() -> None:
    resolver = PublicOnlyResolver(allow_loopback=False)
    try:
        with pytest.raises(BlockedAddress):
            await resolver.resolve("localhost", 443)
    finally:
        await resolver.close()
    allowing = PublicOnlyResolver(allow_loopback=True)
    try:
        assert await allowing.resolve("localhost", 443)
    finally:
        await allowing.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_delivery_time_check_refuses_internal_addresses(
    settings: Settings, pg: asyncpg.Pool, listener: Listener, host: str
) -> None:
    """An endpoint that got in (created earlier, or its name now resolves inward) is refused on send."""
    endpoint = await listener.endpoint()
    url = endpoint.receiver.url.replace("127.0.0.1", host)
    await pg.execute("UPDATE webhook_endpoints SET url = $2 WHERE id = $1", endpoint.id, url)
    strict = msgspec.structs.replace(settings, webhook_allow_loopback=False)
    async with running_worker(strict):
        await store(pg, "call-ssrf")
        error = await eventually(lambda: _attempt_error(pg), 10, "the refused attempt")
    assert error.startswith("blocked:")
    assert endpoint.receiver.received == []
