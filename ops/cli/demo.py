"""`ringready up --demo`: a demo account, two agents, a key and ~300 conversations sent through ingest."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp
import asyncpg
import msgspec

from ops.cli.admin_keys import create_key
from ops.cli.demo_data import PhoneCall, WebChat, phone_calls, web_chats
from shared.config import Settings
from shared.db.account_stats import count_conversations
from shared.db.accounts import find_account_by_email, insert_account
from shared.db.agents import admin_list_agents, insert_agent
from shared.db.pool import create_pool

DEMO_EMAIL = "demo@ringready.local"
DEMO_PLAN = "agency"  # the most generous default plan, so trying the API never hits 429
PHONE_AGENT = ("Bright Smile Dental", "+15557010001")
CHAT_AGENT = ("Harbor Plumbing", "+15557010002")
PHONE_CALLS, WEB_CHATS = 200, 100
STORED_TIMEOUT_S = 60.0
CONCURRENCY = 16
_encode = msgspec.json.Encoder().encode


class Demo(msgspec.Struct, frozen=True):
    """What the demo made: ids the payloads refer to and the key to show."""

    account_id: int
    phone_number: str
    chat_agent_id: int
    key: str


async def seed_demo(settings: Settings, *, api_url: str, ingest_url: str) -> str:
    """Create (or reuse) the demo data, push conversations through ingest, return a curl line."""
    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        demo = await _prepare(settings)
        rng, now = random.Random(7), datetime.now(UTC)  # noqa: S311 - demo content, not secrets
        calls = phone_calls(PHONE_CALLS, demo.phone_number, PHONE_AGENT[0], now, rng)
        chats = web_chats(WEB_CHATS, demo.chat_agent_id, CHAT_AGENT[0], now, rng)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            await _post_all(session, ingest_url, settings.webhook_secrets, calls, chats)
            await _wait_stored(pool, demo.account_id, len(calls) + len(chats))
            url = f"{api_url}/api/v1/conversations?limit=5"
            await _check_api(session, url, demo.key)
    finally:
        await pool.close()
    return f'curl -s -H "Authorization: Bearer {demo.key}" "{url}"'


async def _prepare(settings: Settings) -> Demo:
    """The demo account and agents (reused when present) and a fresh read+write key."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await _prepare_on(conn, settings)
    finally:
        await conn.close()


async def _prepare_on(conn: asyncpg.Connection, settings: Settings) -> Demo:
    async with conn.transaction():
        account = await find_account_by_email(conn, DEMO_EMAIL)
        plan = DEMO_PLAN if DEMO_PLAN in settings.plans else settings.default_plan
        account_id = account["id"] if account else await insert_account(conn, DEMO_EMAIL, plan)
        agents = {row["business_name"]: row["id"] for row in await admin_list_agents(conn, account_id)}
        for name, phone in (PHONE_AGENT, CHAT_AGENT):
            if name not in agents:
                agents[name] = await insert_agent(
                    conn, account_id=account_id, phone_number=phone, business_name=name
                )
    _, key = await create_key(conn, account_id=account_id, name="demo", scopes=("read", "write"))
    return Demo(account_id, PHONE_AGENT[1], agents[CHAT_AGENT[0]], key)


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """A Standard Webhooks v1 signature, exactly as a sender computes it."""
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


async def _post_all(
    session: aiohttp.ClientSession,
    ingest_url: str,
    secrets: Sequence[str],
    calls: list[PhoneCall],
    chats: list[WebChat],
) -> None:
    """POST every conversation to the real ingest endpoints, a few at a time."""
    if not secrets:
        raise RuntimeError("the demo needs RINGREADY_WEBHOOK_SECRETS (ringready up generates one)")
    gate = asyncio.Semaphore(CONCURRENCY)
    jobs = [(f"{ingest_url}/webhooks/v1/phone", call.call_id, _encode(call)) for call in calls]
    jobs += [(f"{ingest_url}/webhooks/v1/web-chat", chat.session_id, _encode(chat)) for chat in chats]

    async def post(url: str, ident: str, body: bytes) -> int:
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": f"msg_{ident}",
            "webhook-timestamp": str(stamp),
            "webhook-signature": sign(secrets[0], f"msg_{ident}", stamp, body),
        }
        async with gate, session.post(url, data=body, headers=headers) as reply:
            return reply.status

    statuses = await asyncio.gather(*(post(*job) for job in jobs))
    failed = [status for status in statuses if not 200 <= status < 300]
    if failed:
        raise RuntimeError(
            f"ingest refused {len(failed)} of {len(jobs)} demo webhooks (e.g. HTTP {failed[0]})"
        )


async def _wait_stored(pool: asyncpg.Pool, account_id: int, expected: int) -> None:
    """Until the worker has stored every demo conversation (or the deadline passes)."""
    deadline = time.monotonic() + STORED_TIMEOUT_S
    stored = 0
    while time.monotonic() < deadline:
        stored = await count_conversations(pool, account_id)
        if stored >= expected:
            return
        await asyncio.sleep(0.2)
    print(f"warning: {stored} of {expected} demo conversations stored after {STORED_TIMEOUT_S:.0f}s; "
          "the worker may still be catching up", file=sys.stderr)  # fmt: skip


async def _check_api(session: aiohttp.ClientSession, url: str, key: str) -> None:
    """The curl line we print must work: try it once."""
    async with session.get(url, headers={"Authorization": f"Bearer {key}"}) as reply:
        if reply.status != 200:
            print(f"warning: GET {url} answered {reply.status}", file=sys.stderr)
