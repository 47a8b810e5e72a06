"""`ringready up --demo`: a demo account, two agents, its key and ~300 conversations sent through ingest."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import msgspec

from ops.cli.demo_data import PhoneCall, WebChat, phone_calls, web_chats
from ops.cli.demo_key import demo_key
from ops.cli.demo_webhook import DEMO_PHONE_NUMBER, signed_headers
from ops.cli.progress import Progress
from shared.config import Settings
from shared.db.account_stats import count_conversations
from shared.db.accounts import find_account_by_email, insert_account
from shared.db.agents import admin_list_agents, insert_agent
from shared.db.pool import create_pool

DEMO_EMAIL = "demo@ringready.local"
DEMO_PLAN = "agency"  # the most generous default plan, so trying the API never hits 429
PHONE_AGENT = ("Bright Smile Dental", DEMO_PHONE_NUMBER)
CHAT_AGENT = ("Harbor Plumbing", "+15557010002")
PHONE_CALLS, WEB_CHATS = 200, 100
STORED_TIMEOUT_S = 60.0
CONCURRENCY = 16
_encode = msgspec.json.Encoder().encode
DEMO_READ_PATH = "/api/v1/conversations?limit=5"


class Demo(msgspec.Struct, frozen=True):
    """What the demo made: ids the payloads refer to and the key to show."""

    account_id: int
    phone_number: str
    chat_agent_id: int
    key: str


async def seed_demo(settings: Settings, *, api_url: str, ingest_url: str) -> Demo:
    """Create (or reuse) the demo data and key, push conversations through ingest, check the key reads."""
    pool = await create_pool(settings, min_size=1, max_size=2)
    try:
        demo = await _prepare(settings)
        rng, now = random.Random(7), datetime.now(UTC)  # noqa: S311 - demo content, not secrets
        calls = phone_calls(PHONE_CALLS, demo.phone_number, PHONE_AGENT[0], now, rng)
        chats = web_chats(WEB_CHATS, demo.chat_agent_id, CHAT_AGENT[0], now, rng)
        progress = Progress("Demo data", len(calls) + len(chats))
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            await _post_all(session, ingest_url, settings.webhook_secrets, calls, chats, progress)
            await _wait_stored(pool, demo.account_id, len(calls) + len(chats), progress)
            await _check_api(session, f"{api_url}{DEMO_READ_PATH}", demo.key)
    finally:
        await pool.close()
    return demo


async def _prepare(settings: Settings) -> Demo:
    """The demo account, agents and key (each reused when present)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await _prepare_on(conn, settings)
    finally:
        await conn.close()


async def _prepare_on(conn: asyncpg.Connection, settings: Settings) -> Demo:
    data_dir = Path(settings.data_dir)
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
        key = await demo_key(conn, account_id, data_dir)
    return Demo(account_id, PHONE_AGENT[1], agents[CHAT_AGENT[0]], key)


async def _post_all(
    session: aiohttp.ClientSession,
    ingest_url: str,
    secrets: Sequence[str],
    calls: list[PhoneCall],
    chats: list[WebChat],
    progress: Progress,
) -> None:
    """POST every conversation to the real ingest endpoints, a few at a time."""
    if not secrets:
        raise RuntimeError("the demo needs RINGREADY_WEBHOOK_SECRETS (ringready up generates one)")
    gate = asyncio.Semaphore(CONCURRENCY)
    jobs = [(f"{ingest_url}/webhooks/v1/phone", call.call_id, _encode(call)) for call in calls]
    jobs += [(f"{ingest_url}/webhooks/v1/web-chat", chat.session_id, _encode(chat)) for chat in chats]

    async def post(url: str, ident: str, body: bytes) -> int:
        headers = signed_headers(secrets[0], f"msg_{ident}", body)
        async with gate, session.post(url, data=body, headers=headers) as reply:
            sent.append(reply.status)
            progress.update(len(sent), "sent")
            return reply.status

    sent: list[int] = []
    statuses = await asyncio.gather(*(post(*job) for job in jobs))
    failed = [status for status in statuses if not 200 <= status < 300]
    if failed:
        raise RuntimeError(
            f"ingest refused {len(failed)} of {len(jobs)} demo webhooks (e.g. HTTP {failed[0]})"
        )


async def _wait_stored(pool: asyncpg.Pool, account_id: int, expected: int, progress: Progress) -> None:
    """Until the worker has stored every demo conversation (or the deadline passes)."""
    deadline = time.monotonic() + STORED_TIMEOUT_S
    stored = 0
    while time.monotonic() < deadline:
        stored = await count_conversations(pool, account_id)
        if stored >= expected:
            progress.finish(expected, "stored")
            return
        progress.update(stored, "stored")
        await asyncio.sleep(0.2)
    progress.finish(stored, "stored")
    print(f"warning: {stored} of {expected} demo conversations stored after {STORED_TIMEOUT_S:.0f}s; "
          "the worker may still be catching up", file=sys.stderr)  # fmt: skip


async def _check_api(session: aiohttp.ClientSession, url: str, key: str) -> None:
    """The curl line we print must work: try it once."""
    async with session.get(url, headers={"Authorization": f"Bearer {key}"}) as reply:
        if reply.status != 200:
            print(f"warning: GET {url} answered {reply.status}", file=sys.stderr)
