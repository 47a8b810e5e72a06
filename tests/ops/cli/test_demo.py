from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec

from ops.cli.demo import CHAT_AGENT, DEMO_EMAIL, PHONE_AGENT, _prepare
from ops.cli.demo_data import phone_calls, web_chats
from ops.cli.demo_key import DEMO_KEY_FILE
from ops.cli.demo_webhook import sign
from services.ingest.adapters.native import adapt_phone, adapt_web_chat
from services.ingest.signatures import verify_standard
from shared.config import Settings
from shared.keys import hash_key, looks_like_key
from tests.helpers import FIXTURES, TEST_WEBHOOK_SECRET


def test_signature_matches_the_standard_webhooks_test_vector() -> None:
    vector = json.loads((FIXTURES / "standard-webhooks-vector.json").read_text())["signing"]
    signature = sign(vector["secret"], vector["msg_id"], vector["timestamp"], vector["payload"].encode())
    assert signature == vector["expected_signature_header"]


def test_ingest_accepts_the_demo_signature() -> None:
    body = b'{"call_id": "x"}'
    headers = {"webhook-id": "msg_x", "webhook-timestamp": "1700000000",
               "webhook-signature": sign(TEST_WEBHOOK_SECRET, "msg_x", 1700000000, body)}  # fmt: skip
    assert verify_standard((TEST_WEBHOOK_SECRET,), headers, body, 1700000000.0, 300) == "msg_x"


def test_demo_payloads_are_valid_native_webhooks() -> None:
    now, rng = datetime.now(UTC), random.Random(1)
    calls = phone_calls(40, "+15557010001", "Bright Smile Dental", now, rng)
    chats = web_chats(20, 7, "Harbor Plumbing", now, rng)
    assert len({call.call_id for call in calls}) == 40 and len({chat.session_id for chat in chats}) == 20
    for call in calls:
        phone = adapt_phone(msgspec.json.encode(call))
        assert phone.channel == "phone" and phone.to_number == "+15557010001"
        assert phone.transcript and phone.ended_at >= phone.started_at
    for chat in chats:
        web = adapt_web_chat(msgspec.json.encode(chat))
        assert web.channel == "web_chat" and web.agent_id == 7
        assert web.origin_url is not None and web.origin_url.startswith("https://")
    assert len({call.transcript[1].content for call in calls if len(call.transcript) > 1}) > 5


async def test_prepare_reuses_the_account_the_agents_and_the_key(
    settings: Settings, pg: asyncpg.Pool, tmp_path: Path
) -> None:
    # Issue #13: the demo key is the same on every run (it used to be a new one each time).
    settings = msgspec.structs.replace(settings, data_dir=str(tmp_path))
    first = await _prepare(settings)
    second = await _prepare(settings)
    assert (first.account_id, first.chat_agent_id) == (second.account_id, second.chat_agent_id)
    assert first.key == second.key and looks_like_key(first.key)
    assert (tmp_path / DEMO_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert await pg.fetchval("SELECT email FROM accounts") == DEMO_EMAIL
    agents = await pg.fetch("SELECT business_name, phone_number FROM agents ORDER BY id")
    assert [tuple(a) for a in agents] == [PHONE_AGENT, CHAT_AGENT]
    hashes = [r[0] for r in await pg.fetch("SELECT key_hash FROM api_keys ORDER BY id")]
    assert hashes == [hash_key(first.key)]
    assert await pg.fetchval("SELECT scopes FROM api_keys LIMIT 1") == ["read", "write"]


async def test_a_lost_demo_key_is_replaced_and_the_old_one_revoked(
    settings: Settings, pg: asyncpg.Pool, tmp_path: Path
) -> None:
    settings = msgspec.structs.replace(settings, data_dir=str(tmp_path))
    first = await _prepare(settings)
    (tmp_path / DEMO_KEY_FILE).unlink()
    second = await _prepare(settings)
    assert second.key != first.key
    rows = await pg.fetch("SELECT key_hash, revoked_at IS NOT NULL AS revoked FROM api_keys ORDER BY id")
    assert [tuple(r) for r in rows] == [(hash_key(first.key), True), (hash_key(second.key), False)]
    assert await _prepare(settings) == second
