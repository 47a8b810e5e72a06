"""Native phone webhooks signed as our telephony bridge signs them (Standard Webhooks v1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import aiohttp

from tests.helpers import TEST_WEBHOOK_SECRET
from tests.worker.conftest import AGENT_PHONE


def phone_body(call_id: str) -> bytes:
    """One finished native phone call to the test agent's number."""
    return json.dumps({
        "call_id": call_id,
        "from": "+14155550199",
        "to": AGENT_PHONE,
        "started_at": "2026-03-02T15:00:00Z",
        "ended_at": "2026-03-02T15:02:30Z",
        "end_reason": "caller_hangup",
        "transcript": [
            {"role": "agent", "content": "Bright Smiles, how can I help?", "elapsed_s": 0.5},
            {"role": "caller", "content": "What are your opening hours on Saturday?", "elapsed_s": 3.0},
        ],
    }).encode()  # fmt: skip


def signed_headers(body: bytes, msg_id: str) -> dict[str, str]:
    """webhook-id / -timestamp / -signature for the test secret."""
    ts = int(time.time())
    key = base64.b64decode(TEST_WEBHOOK_SECRET.removeprefix("whsec_") + "==")
    digest = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        "content-type": "application/json",
    }


async def post_call(session: aiohttp.ClientSession, base_url: str, call_id: str) -> int:
    """POST one call; its status, or 0 when the connection itself failed."""
    body = phone_body(call_id)
    try:
        async with session.post(
            f"{base_url}/webhooks/v1/phone", data=body, headers=signed_headers(body, f"msg_{call_id}")
        ) as response:
            await response.read()
            return response.status
    except aiohttp.ClientError:
        return 0
