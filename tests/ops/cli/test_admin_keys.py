from __future__ import annotations

import asyncio
import hashlib
import json
import re

import asyncpg
import pytest
import redis.asyncio as aioredis

from ops.cli import admin_keys
from ops.embedded import free_port
from shared.keys import KEYS_CHANGED_CHANNEL
from tests.ops.cli.conftest import Run, one_error_line

KEY_LINE = re.compile(r"^rr_live_[A-Za-z0-9]{32,}$")


@pytest.fixture
async def account(ringready: Run) -> None:
    assert (await ringready("accounts", "create", "--email", "owner@acme.test", "--plan", "pro")).code == 0


async def create(ringready: Run, *extra: str) -> str:
    """Create a key and return the full key from the output."""
    result = await ringready(
        "keys", "create", "--account", "1", "--scopes", "read,write", "--name", "ci", *extra
    )
    assert result.code == 0, result
    keys = [line for line in result.out.splitlines() if KEY_LINE.match(line)]
    assert len(keys) == 1, result.out
    return keys[0]


async def test_key_is_printed_once_and_stored_only_as_its_hash(
    ringready: Run, pg: asyncpg.Pool, account: None
) -> None:
    result = await ringready("keys", "create", "--account", "owner@acme.test", "--scopes", "write,read",
                             "--name", "ci")  # fmt: skip
    key = next(line for line in result.out.splitlines() if KEY_LINE.match(line))
    assert result.out.count(key) == 1
    row = await pg.fetchrow("SELECT * FROM api_keys")
    assert row["key_hash"] == hashlib.sha256(key.encode()).digest()
    assert row["prefix"] == key[:12]
    assert (row["name"], list(row["scopes"]), row["rate_limit_per_min"]) == ("ci", ["read", "write"], None)
    assert f"Created API key {row['id']} ({row['prefix']}) for account 1" in result.out
    for column, value in dict(row).items():
        text = value.hex() if isinstance(value, bytes) else str(value)
        assert key not in text and key[12:] not in text, column
    secret = key[len("rr_live_") :]
    raw = await pg.fetchval("SELECT string_agg(t::text, '|') FROM api_keys t")
    assert secret not in raw


async def test_rate_limit_override_on_create(ringready: Run, pg: asyncpg.Pool, account: None) -> None:
    await create(ringready, "--rate-limit", "100/min")
    await create(ringready, "--rate-limit", "7")
    await create(ringready, "--rate-limit", "none")
    limits = [r[0] for r in await pg.fetch("SELECT rate_limit_per_min FROM api_keys ORDER BY id")]
    assert limits == [100, 7, None]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--account", "1", "--scopes", "", "--name", "x"], "scopes must be a non-empty subset"),
        (["--account", "1", "--scopes", "read,admin", "--name", "x"], "scopes must be a non-empty subset"),
        (["--account", "1", "--scopes", "read", "--name", "x", "--rate-limit", "0"], "rate limit"),
        (["--account", "1", "--scopes", "read", "--name", "x", "--rate-limit", "5/hour"], "rate limit"),
        (["--account", "1", "--scopes", "read", "--name", "x", "--rate-limit", "-3"], "rate limit"),
        (["--account", "7", "--scopes", "read", "--name", "x"], "no account 7"),
        (["--account", "who@acme.test", "--scopes", "read", "--name", "x"], "no account who@acme.test"),
        (["--account", "1", "--scopes", "read"], "--name"),
    ],
)
async def test_create_rejects_bad_arguments(
    ringready: Run, pg: asyncpg.Pool, account: None, argv: list[str], needle: str
) -> None:
    assert needle in one_error_line(await ringready("keys", "create", *argv))
    assert await pg.fetchval("SELECT count(*) FROM api_keys") == 0


async def test_list_shows_metadata_never_the_key(ringready: Run, pg: asyncpg.Pool, account: None) -> None:
    key = await create(ringready, "--rate-limit", "50/min")
    await pg.execute("UPDATE api_keys SET last_used_at = now(), revoked_at = now()")
    table = await ringready("keys", "list", "--account", "1")
    assert key not in table.out
    assert table.out.splitlines()[0].split() == [
        "id", "prefix", "name", "scopes", "rate_limit_per_min", "created_at", "last_used_at", "revoked_at",
    ]  # fmt: skip
    listed = json.loads((await ringready("keys", "list", "--account", "1", "--json")).out)
    assert len(listed) == 1
    item = listed[0]
    assert (item["prefix"], item["name"], item["scopes"], item["rate_limit_per_min"]) == (
        key[:12], "ci", ["read", "write"], 50,
    )  # fmt: skip
    assert item["created_at"] and item["last_used_at"] and item["revoked_at"]
    assert "no account 3" in one_error_line(await ringready("keys", "list", "--account", "3"))


async def _listen(redis_client: aioredis.Redis) -> aioredis.client.PubSub:
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(KEYS_CHANGED_CHANNEL)
    assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"  # type: ignore[index]
    return pubsub


async def _next_message(pubsub: aioredis.client.PubSub) -> bytes:
    message = await asyncio.wait_for(pubsub.get_message(ignore_subscribe_messages=True, timeout=5), 6)
    assert message is not None
    data: bytes = message["data"]
    return data


async def test_revoke_by_prefix_and_by_id_publishes_the_key_id(
    ringready: Run, pg: asyncpg.Pool, redis_client: aioredis.Redis, account: None
) -> None:
    first, second = await create(ringready), await create(ringready)
    pubsub = await _listen(redis_client)
    by_prefix = await ringready("keys", "revoke", first[:12])
    assert by_prefix.code == 0 and by_prefix.out.startswith(f"Revoked API key 1 ({first[:12]}) at ")
    assert await _next_message(pubsub) == b"1"
    assert (await ringready("keys", "revoke", "2")).code == 0
    assert await _next_message(pubsub) == b"2"
    revoked = await pg.fetch("SELECT prefix, revoked_at FROM api_keys ORDER BY id")
    assert [r["prefix"] for r in revoked] == [first[:12], second[:12]]
    assert all(r["revoked_at"] is not None for r in revoked)
    again = await ringready("keys", "revoke", "1")  # idempotent: keeps the first time
    assert again.code == 0
    assert await pg.fetchval("SELECT revoked_at FROM api_keys WHERE id = 1") == revoked[0]["revoked_at"]
    await pubsub.aclose()


async def test_revoke_unknown_or_malformed_ref_exits_2(ringready: Run, account: None) -> None:
    assert "no API key rr_live_zzzz" in one_error_line(await ringready("keys", "revoke", "rr_live_zzzz"))
    assert "expected a key id or a prefix" in one_error_line(await ringready("keys", "revoke", "sk_123"))
    assert "no API key 9" in one_error_line(await ringready("keys", "update", "9", "--rate-limit", "5"))


async def test_update_sets_and_clears_the_override_and_publishes(
    ringready: Run, pg: asyncpg.Pool, redis_client: aioredis.Redis, account: None
) -> None:
    key = await create(ringready)
    pubsub = await _listen(redis_client)
    updated = await ringready("keys", "update", key[:12], "--rate-limit", "250/min")
    assert updated.out == f"API key 1 ({key[:12]}) now uses 250/min\n"
    assert await pg.fetchval("SELECT rate_limit_per_min FROM api_keys") == 250
    assert await _next_message(pubsub) == b"1"
    assert (await ringready("keys", "update", "1", "--rate-limit", "none")).code == 0
    assert await pg.fetchval("SELECT rate_limit_per_min FROM api_keys") is None
    assert await _next_message(pubsub) == b"1"
    assert "rate limit" in one_error_line(await ringready("keys", "update", "1", "--rate-limit", "fast"))
    assert await pg.fetchval("SELECT rate_limit_per_min FROM api_keys") is None
    await pubsub.aclose()


async def test_revoke_still_works_when_redis_is_down(
    ringready: Run, pg: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, account: None
) -> None:
    await create(ringready)
    monkeypatch.setenv("RINGREADY_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    result = await ringready("keys", "revoke", "1")
    assert result.code == 0
    assert result.err.startswith("warning: could not notify API processes")
    assert await pg.fetchval("SELECT revoked_at IS NOT NULL FROM api_keys") is True


async def test_prefix_collision_draws_a_new_key(
    pg: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, account: None
) -> None:
    async with pg.acquire() as conn:
        _, taken = await admin_keys.create_key(conn, account_id=1, name="a", scopes=("read",))
        fresh = "rr_live_" + "Q" * 40
        draws = iter([taken[:12] + "x" * 36, fresh])  # same display prefix first, then a new one
        monkeypatch.setattr(admin_keys, "generate_key", lambda: next(draws))
        key_id, key = await admin_keys.create_key(conn, account_id=1, name="b", scopes=("read",))
    assert key == fresh
    assert await pg.fetchval("SELECT prefix FROM api_keys WHERE id = $1", key_id) == fresh[:12]
    assert await pg.fetchval("SELECT count(*) FROM api_keys") == 2
