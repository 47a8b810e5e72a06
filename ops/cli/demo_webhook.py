"""`ringready send-demo-webhook`: docs/ingest.md's native phone example, signed now, to the demo agent.

A printed curl with precomputed signature headers would expire after the 300 s timestamp
tolerance; this command signs at the moment it is run, so the line `up` prints keeps working.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from ops.cli.local_secret import signing_secret
from shared.config import Settings

DEMO_PHONE_NUMBER = "+15557010001"  # "Bright Smile Dental", the demo's phone agent
CALL_LENGTH_S = 34


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """A Standard Webhooks v1 signature, exactly as a sender computes it."""
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def example_call(call_id: str, ended: datetime) -> dict[str, object]:
    """docs/ingest.md's phone example with its id and times replaced: it ends now, so lists show it first."""
    started = ended - timedelta(seconds=CALL_LENGTH_S)
    return {
        "call_id": call_id,
        "from": "+1 (555) 010-0001",
        "to": DEMO_PHONE_NUMBER,
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "end_reason": "caller_hangup",
        "caller_name": "Dana",
        "summary": "Asked about Saturday hours.",
        "transcript": [
            {"role": "agent", "content": "Bright Smile Dental, how can I help?", "elapsed_s": 1.2},
            {"role": "caller", "content": "Are you open Saturday?", "elapsed_s": 4.5},
        ],
    }


def signed_headers(secret: str, msg_id: str, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers for body, signed now."""
    stamp = int(time.time())
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, msg_id, stamp, body),
    }


def post_signed(url: str, secret: str, msg_id: str, body: bytes) -> tuple[int, bytes]:
    """POST body with Standard Webhooks headers; (status, response body), 0 when nothing answered."""
    headers = signed_headers(secret, msg_id, body)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - the configured ingest
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError as err:
        return 0, str(err).encode()


def cmd_send_demo_webhook(settings: Settings, args: argparse.Namespace) -> int:
    """Sign and post one phone call to the running ingest; it shows up in the demo key's read."""
    secret = signing_secret(settings)
    if secret is None:
        print(
            "error: no webhook secret: set RINGREADY_WEBHOOK_SECRETS or run `ringready up` first",
            file=sys.stderr,
        )
        return 2
    url = args.ingest or f"http://{settings.ingest_host}:{settings.ingest_port}"
    now = datetime.now(UTC).replace(microsecond=0)
    call_id = f"CA-demo-{now:%Y%m%d%H%M%S}"
    body = msgspec.json.encode(example_call(call_id, now))
    status, reply = post_signed(f"{url}/webhooks/v1/phone", secret, f"msg_{call_id}", body)
    if status != 202:
        print(
            f"error: ingest answered {status or 'nothing'}: {reply.decode(errors='replace')[:200]}",
            file=sys.stderr,
        )
        return 1
    print(f"202 accepted: call {call_id} to {DEMO_PHONE_NUMBER}; it is the first in the demo read")
    return 0


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `send-demo-webhook` to `ringready`."""
    send = sub.add_parser("send-demo-webhook", help="sign and post one phone call to the demo agent")
    send.add_argument("--ingest", help="ingest base URL (default: from RINGREADY_INGEST_HOST/PORT)")
    send.set_defaults(func=cmd_send_demo_webhook)
