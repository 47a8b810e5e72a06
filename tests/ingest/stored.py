"""Ingest tests that follow an event into Postgres: an agent every sample routes to, the real
worker's store path over what was queued, and the row it wrote."""

from __future__ import annotations

import asyncpg

from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.agents import add_provider_id, insert_agent
from tests.worker.conftest import drain

# The number the native samples and Vapi's sample call; the others route by assistant id.
AGENT_NUMBER = "+15550100002"
PROVIDER_IDS = {
    "vapi": "00000000-0000-4000-8000-0000000000bb",
    "retell": "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD",
    "elevenlabs": "xyz",
}
ROW_SQL = """
SELECT c.*, d.transcript, d.recording_url, d.visitor_ip, d.provider_metadata, d.raw_body
FROM conversations c JOIN conversation_details d ON d.conversation_id = c.id
"""


async def agent_for_every_sample(pg: asyncpg.Pool) -> int:
    """One agent owning AGENT_NUMBER and every sample's assistant id; returns its id."""
    account_id = await insert_account(pg, "fuzz@example.com", "growth")
    agent_id = await insert_agent(
        pg, account_id=account_id, phone_number=AGENT_NUMBER, business_name="Example Clinic"
    )
    for source, assistant_id in PROVIDER_IDS.items():
        await add_provider_id(pg, agent_id, source, assistant_id)
    return agent_id


async def store_queued(settings: Settings) -> None:
    """Run the real worker over everything queued, as production would."""
    await drain(settings)


async def stored_rows(pg: asyncpg.Pool) -> list[asyncpg.Record]:
    """Every stored conversation with its details."""
    return list(await pg.fetch(ROW_SQL + " ORDER BY c.id"))


async def dead_letters(pg: asyncpg.Pool) -> list[tuple[str, str]]:
    """(reason, detail) of every dead letter."""
    return [(r["reason"], r["detail"]) for r in await pg.fetch("SELECT reason, detail FROM dead_letters")]
