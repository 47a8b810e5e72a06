"""shared/db/api_keys.py against the test Postgres: lookup by hash, unique prefixes, references by id
or prefix, idempotent revocation, and last-use times that never move backwards."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from shared.db.accounts import insert_account
from shared.db.api_keys import find_key_by_hash, insert_key, list_keys, revoke_key, set_rate_limit, touch_keys
from shared.errors import Conflict, NotFound

T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
LISTED_COLUMNS = [
    "id", "prefix", "name", "scopes", "rate_limit_per_min", "created_at", "last_used_at", "revoked_at",
]  # fmt: skip
LAST_USED_SQL = "SELECT last_used_at FROM api_keys WHERE id = $1"


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def _key(pg: asyncpg.Pool, account_id: int, prefix: str, scopes: tuple[str, ...] = ("read",)) -> int:
    return await insert_key(
        pg, account_id=account_id, prefix=prefix, key_hash=_hash(prefix), name=prefix, scopes=scopes
    )


async def test_a_key_is_found_by_its_hash_with_its_account(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "scale")
    key_id = await insert_key(
        pg, account_id=account_id, prefix="rr_live_aaaa", key_hash=_hash("secret"), name="ci",
        scopes=["read", "write"], rate_limit_per_min=30,
    )  # fmt: skip
    row = await find_key_by_hash(pg, _hash("secret"))
    assert row is not None
    assert dict(row) == {
        "id": key_id, "account_id": account_id, "prefix": "rr_live_aaaa", "scopes": ["read", "write"],
        "rate_limit_per_min": 30, "revoked_at": None, "email": "owner@example.com", "plan": "scale",
    }  # fmt: skip
    assert await find_key_by_hash(pg, _hash("another secret")) is None


async def test_a_clashing_prefix_is_a_conflict_and_a_missing_account_not_found(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    await _key(pg, account_id, "rr_live_aaaa")
    with pytest.raises(Conflict, match="key prefix already in use"):
        await insert_key(pg, account_id=account_id, prefix="rr_live_aaaa", key_hash=_hash("other"), name="x",
                         scopes=["read"])  # fmt: skip
    with pytest.raises(NotFound, match="no account with id 999999"):
        await _key(pg, 999_999, "rr_live_bbbb")
    assert [row["prefix"] for row in await list_keys(pg, account_id)] == ["rr_live_aaaa"]


async def test_the_list_is_one_accounts_keys_without_their_hash(pg: asyncpg.Pool) -> None:
    mine = await insert_account(pg, "owner@example.com", "growth")
    theirs = await insert_account(pg, "other@example.com", "growth")
    ids = [await _key(pg, mine, "rr_live_aaaa"), await _key(pg, mine, "rr_live_bbbb", ("read", "write"))]
    await _key(pg, theirs, "rr_live_cccc")
    rows = await list_keys(pg, mine)
    assert [(row["id"], row["scopes"]) for row in rows] == [(ids[0], ["read"]), (ids[1], ["read", "write"])]
    assert all(list(row.keys()) == LISTED_COLUMNS for row in rows)  # never the hash
    assert await list_keys(pg, 999_999) == []


async def test_revoke_by_id_or_prefix_keeps_the_first_time(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    by_id = await _key(pg, account_id, "rr_live_aaaa")
    by_prefix = await _key(pg, account_id, "rr_live_bbbb")
    untouched = await _key(pg, account_id, "rr_live_cccc")

    first = await revoke_key(pg, str(by_id))
    assert (first["id"], first["account_id"], first["prefix"]) == (by_id, account_id, "rr_live_aaaa")
    assert first["revoked_at"] is not None
    again = await revoke_key(pg, "rr_live_aaaa")
    assert again["revoked_at"] == first["revoked_at"]
    assert (await revoke_key(pg, "rr_live_bbbb"))["id"] == by_prefix

    revoked = {row["id"]: row["revoked_at"] is not None for row in await list_keys(pg, account_id)}
    assert revoked == {by_id: True, by_prefix: True, untouched: False}
    found = await find_key_by_hash(pg, _hash("rr_live_aaaa"))
    assert found is not None and found["revoked_at"] == first["revoked_at"]  # still found: a 401, not unknown


async def test_revoking_or_limiting_an_unknown_key_is_not_found(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    await _key(pg, account_id, "rr_live_aaaa")
    for ref in ("999999", "rr_live_zzzz"):
        with pytest.raises(NotFound, match=f"no API key {ref}"):
            await revoke_key(pg, ref)
        with pytest.raises(NotFound, match=f"no API key {ref}"):
            await set_rate_limit(pg, ref, 10)


async def test_a_rate_limit_override_is_set_and_cleared(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    key_id = await _key(pg, account_id, "rr_live_aaaa")
    other = await _key(pg, account_id, "rr_live_bbbb")
    assert tuple(await set_rate_limit(pg, str(key_id), 120)) == (key_id, "rr_live_aaaa", 120)
    assert tuple(await set_rate_limit(pg, "rr_live_aaaa", None)) == (key_id, "rr_live_aaaa", None)
    assert (await set_rate_limit(pg, "rr_live_bbbb", 5))["rate_limit_per_min"] == 5
    limits = {row["id"]: row["rate_limit_per_min"] for row in await list_keys(pg, account_id)}
    assert limits == {key_id: None, other: 5}


async def test_last_use_is_written_in_one_batch_and_never_moves_backwards(pg: asyncpg.Pool) -> None:
    account_id = await insert_account(pg, "owner@example.com", "growth")
    one, two, idle = [await _key(pg, account_id, f"rr_live_{n}") for n in "abc"]
    await touch_keys(pg, {})  # nothing used: nothing written
    assert await pg.fetchval(LAST_USED_SQL, one) is None

    await touch_keys(pg, {one: T0, two: T0 + timedelta(seconds=5)})
    await touch_keys(pg, {one: T0 - timedelta(minutes=1), two: T0 + timedelta(seconds=9)})  # one: older
    assert await pg.fetchval(LAST_USED_SQL, one) == T0
    assert await pg.fetchval(LAST_USED_SQL, two) == T0 + timedelta(seconds=9)
    assert await pg.fetchval(LAST_USED_SQL, idle) is None
    await touch_keys(pg, {999_999: T0})  # a key deleted meanwhile is skipped, not an error
