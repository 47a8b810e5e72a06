"""Ingest tests that follow an event into Postgres: an agent every sample routes to, the real
worker's store path over what was queued, and the row it wrote."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from shared.config import Settings
from shared.db.accounts import insert_account
from shared.db.agents import add_provider_id, insert_agent
from tests.ingest.adapters.test_native import PHONE_CALL
from tests.ingest.webhooks import sample
from tests.worker.conftest import drain

# The provider samples these tests mutate (named once, here).
SAMPLES = {
    "vapi": "vapi-end-of-call-report.json",
    "retell": "retell-call-analyzed.json",
    "elevenlabs": "elevenlabs-post-call-transcription.json",
}
# The number the native phone sample calls; provider samples route by their assistant id.
AGENT_NUMBER = str(PHONE_CALL["to"])


def provider_sample(source: str) -> dict[str, Any]:
    """A provider's sample body, decoded (a fresh copy to mutate)."""
    tree: dict[str, Any] = msgspec.json.decode(sample(SAMPLES[source]))
    return tree


def assistant_ids() -> dict[str, str]:
    """Each provider sample's assistant id, which routes it to our agent."""
    return {
        "vapi": provider_sample("vapi")["message"]["call"]["assistantId"],
        "retell": provider_sample("retell")["call"]["agent_id"],
        "elevenlabs": provider_sample("elevenlabs")["data"]["agent_id"],
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
    for source, assistant_id in assistant_ids().items():
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
