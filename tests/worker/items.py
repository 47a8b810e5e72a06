"""Items as the job builds them (route query + enriched write), for the store and batch tests."""

from __future__ import annotations

from typing import Any

from services.worker.enrich.pipeline import enrich
from services.worker.enrich.summarize import LocalSummarizer
from services.worker.store import Item
from shared.db.routing import RouteQuery
from tests.worker.conftest import make_event


async def make_item(call_id: str, **changes: Any) -> Item:
    """The Item store_conversation would submit for make_event(call_id, **changes)."""
    event = make_event(call_id, **changes)
    conv = event.conversation
    query = RouteQuery(conv.source, conv.agent_id, conv.to_number, conv.provider_assistant_id)
    return Item(query, await enrich(conv, event.raw_body, LocalSummarizer()))
