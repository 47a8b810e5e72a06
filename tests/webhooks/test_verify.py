"""The test receivers' verifier agrees with the Standard Webhooks spec's own test vector."""

from __future__ import annotations

import json

import pytest

from tests.helpers import REPO_ROOT
from tests.webhooks.verify import Webhook, WebhookVerificationError

VECTOR = json.loads((REPO_ROOT / "tests" / "fixtures" / "standard-webhooks-vector.json").read_text())
CASE = VECTOR["signing"]
HEADERS = {"webhook-id": CASE["msg_id"], "webhook-timestamp": str(CASE["timestamp"])}


def test_the_spec_vector_verifies() -> None:
    headers = HEADERS | {"webhook-signature": CASE["expected_signature_header"]}
    body = CASE["payload"].encode()
    assert Webhook(CASE["secret"]).verify(body, headers, now=CASE["timestamp"]) == json.loads(body)


@pytest.mark.parametrize(
    "signature", [VECTOR["rejected"]["last_char_changed"], " ".join(VECTOR["rejected"]["decoys"])]
)
def test_the_spec_rejections_are_refused(signature: str) -> None:
    with pytest.raises(WebhookVerificationError):
        Webhook(CASE["secret"]).verify(
            CASE["payload"].encode(), HEADERS | {"webhook-signature": signature}, now=CASE["timestamp"]
        )


def test_a_stale_timestamp_is_refused() -> None:
    headers = HEADERS | {"webhook-signature": CASE["expected_signature_header"]}
    with pytest.raises(WebhookVerificationError):
        Webhook(CASE["secret"]).verify(CASE["payload"].encode(), headers, now=CASE["timestamp"] + 301)
