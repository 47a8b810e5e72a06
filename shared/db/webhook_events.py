"""The outbox (`webhook_events`): each event is written in the same transaction as the change it
describes, only for accounts with an enabled endpoint, with its payload as the API would show it."""

from __future__ import annotations

import msgspec

from shared.db.agents import API_PATCH_AGENT_SQL
from shared.db.statement_pool import Queryable
from shared.models import ListedConversation

# A new event id per row. Generated in the FROM list's own subquery, which Postgres never flattens
# (a volatile target), so each row gets one, used for both the column and the payload's id. Not in
# a LATERAL: a Memoize node may cache that per distinct parameter, giving a batch's rows one id
# (the agent and test statements below write one row each).
_EVENT_ID = "'msg_' || replace(gen_random_uuid()::text, '-', '')"
_LISTENING = (
    "EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.account_id = {owner}.account_id AND w.enabled)"
)
_STORED_AS = {"started_at": "started_at_iso", "ended_at": "ended_at_iso"}


def conversation_json() -> str:
    """GET /api/v1/conversations/{id}'s body, in its order: the listed fields follow ListedConversation."""
    listed = ", ".join(
        f"'{field.encode_name}', c.{_STORED_AS.get(field.name, field.name)}"
        for field in msgspec.structs.fields(ListedConversation)
    )
    turns = (
        "SELECT json_agg(json_build_object('role', t->'role', 'content', t->'content', "
        "'elapsed_s', t->'elapsed_s') ORDER BY n) "
        "FROM jsonb_array_elements(d.transcript) WITH ORDINALITY x(t, n)"
    )
    web_chat = (
        "CASE WHEN c.channel = 'web_chat' THEN json_build_object('device_type', c.device_type, "
        "'origin_url', c.origin_url, 'visitor_ip', d.visitor_ip) END"
    )
    return (
        f"json_build_object({listed}, 'web_chat', {web_chat}, "
        f"'transcript', coalesce(({turns}), '[]'::json), 'recording_url', d.recording_url)"
    )


def _envelope(data: str) -> str:
    """The delivered body: {id, type, timestamp, data}; webhook-id is the same id."""
    return (
        "json_build_object('id', e.event_id, 'type', e.type, 'timestamp', utc_iso8601(now()), "
        f"'data', {data})"
    )


def conversation_events_sql(details_upsert: str) -> str:
    """The details upsert followed, in the same statement (no extra round trip on the worker's hot
    path), by conversation.created / .updated for the rows it wrote. The details come from the
    upsert's RETURNING: rows a statement writes are not visible to its own reads. Parameters are
    the upsert's, whose $1 is the changed conversations' ids, plus $7: whether each was inserted
    (else updated with changes)."""
    return f"""
WITH d AS ({details_upsert.strip()}
    RETURNING conversation_id, transcript, recording_url, visitor_ip)
INSERT INTO webhook_events (event_id, type, account_id, subject, agent_id, payload)
SELECT e.event_id, e.type, c.account_id, 'conversation:' || c.id, c.agent_id,
       {_envelope(conversation_json())}
FROM (
    SELECT id, ord, {_EVENT_ID} AS event_id,
           CASE WHEN inserted THEN 'conversation.created' ELSE 'conversation.updated' END AS type
    FROM unnest($1::bigint[], $7::boolean[]) WITH ORDINALITY AS changed(id, inserted, ord)
) e
JOIN conversations c ON c.id = e.id
JOIN d ON d.conversation_id = c.id
WHERE {_LISTENING.format(owner="c")}
ORDER BY e.ord
"""  # noqa: S608 -- built once at import from constants


_AGENT_JSON = """json_build_object(
    'id', a.id, 'phone_number', a.phone_number, 'subscription_type', a.subscription_type,
    'agent_name', a.agent_name, 'voice', a.voice, 'greeting_message', a.greeting_message,
    'agent_goal', a.agent_goal, 'business_name', a.business_name,
    'business_website', a.business_website, 'business_services', a.business_services,
    'faq', a.faq, 'appointment_booking', a.appointment_booking, 'features', a.features,
    'is_suspended', a.is_suspended, 'created_at', utc_iso8601(a.created_at))"""
# The API's PATCH and its agent.updated event in one statement: the StatementPool runs single
# statements, and one statement is one transaction. Same parameters as API_PATCH_AGENT_SQL.
PATCH_AGENT_WITH_EVENT_SQL = f"""
WITH a AS ({API_PATCH_AGENT_SQL}),
event AS (
    INSERT INTO webhook_events (event_id, type, account_id, subject, agent_id, payload)
    SELECT e.event_id, e.type, a.account_id, 'agent:' || a.id, a.id, {_envelope(_AGENT_JSON)}
    FROM a CROSS JOIN LATERAL (SELECT {_EVENT_ID} AS event_id, 'agent.updated' AS type) e
    WHERE {_LISTENING.format(owner="a")}
)
SELECT id, version FROM a
"""  # noqa: S608 -- built once at import from constants

INSERT_TEST_EVENT_SQL = f"""
INSERT INTO webhook_events (event_id, type, account_id, subject, endpoint_id, payload)
SELECT e.event_id, e.type, w.account_id, 'test:' || w.id, w.id,
       {_envelope("json_build_object('endpoint_id', w.id, 'message', 'A test event from RingReady.')")}
FROM webhook_endpoints w CROSS JOIN LATERAL (SELECT {_EVENT_ID} AS event_id, 'test' AS type) e
WHERE w.id = $2 AND w.account_id = $1
RETURNING event_id
"""  # noqa: S608 -- built once at import from constants


async def insert_test_event(conn: Queryable, account_id: int, endpoint_id: int) -> str | None:
    """A `test` event for one endpoint only; its event id, or None if the endpoint is not theirs."""
    event_id: str | None = await conn.fetchval(INSERT_TEST_EVENT_SQL, account_id, endpoint_id)
    return event_id
