"""A customer's verification of our outgoing webhooks, written from the Standard Webhooks spec
alone (not from shared/webhooks/signing.py): `Webhook(secret).verify(body, headers)` returns the
decoded payload or raises, with the interface of the `standardwebhooks` package that docs/webhooks.md
shows customers. Checked against the spec's own test vector (tests/webhooks/test_verify.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

TOLERANCE_S = 5 * 60  # the reference libraries' window for webhook-timestamp


class WebhookVerificationError(Exception):
    """The headers or the signature do not prove the body came from the secret's holder."""


class Webhook:
    def __init__(self, secret: str) -> None:
        self.key = base64.b64decode(secret.removeprefix("whsec_"))

    def sign(self, msg_id: str, timestamp: int, body: bytes) -> str:
        """`v1,` plus the base64 HMAC-SHA256 of `msg_id.timestamp.body`."""
        content = f"{msg_id}.{timestamp}.".encode() + body
        return "v1," + base64.b64encode(hmac.new(self.key, content, hashlib.sha256).digest()).decode()

    def verify(self, body: bytes, headers: Mapping[str, str], now: float | None = None) -> Any:
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            msg_id, stamp = lowered["webhook-id"], lowered["webhook-timestamp"]
            signatures = lowered["webhook-signature"].split()
            timestamp = int(stamp)
        except (KeyError, ValueError) as err:
            raise WebhookVerificationError(f"missing or malformed header: {err}") from None
        if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_S:
            raise WebhookVerificationError("timestamp outside the tolerance")
        expected = self.sign(msg_id, timestamp, body)
        if not any(hmac.compare_digest(expected, given) for given in signatures):
            raise WebhookVerificationError("no matching signature")
        return json.loads(body)
