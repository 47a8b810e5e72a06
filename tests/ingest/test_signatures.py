"""Signature schemes on raw bytes: the Standard Webhooks reference vectors and each provider's rule."""

from __future__ import annotations

import json
import time

import pytest

from services.ingest.signatures import (
    sign_standard,
    verify_elevenlabs,
    verify_retell,
    verify_standard,
    verify_vapi,
    whsec_key,
)
from shared.errors import Unauthenticated
from tests.helpers import (
    FIXTURES,
    TEST_ELEVENLABS_SECRET,
    TEST_RETELL_API_KEY,
    TEST_VAPI_HMAC_SECRET,
    TEST_VAPI_SECRET,
    TEST_WEBHOOK_SECRET,
)
from tests.ingest.webhooks import elevenlabs_headers, retell_headers, vapi_hmac_headers

VECTORS = json.loads((FIXTURES / "standard-webhooks-vector.json").read_text())
VECTOR = VECTORS["signing"]
REJECTED = VECTORS["rejected"]
SECRET, MSG_ID, TS = VECTOR["secret"], VECTOR["msg_id"], VECTOR["timestamp"]
PAYLOAD = VECTOR["payload"].encode()
TOLERANCE = 300


def _headers(signature: str, timestamp: int = TS) -> dict[str, str]:
    return {"webhook-id": MSG_ID, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def test_sign_function_vector_is_reproduced() -> None:
    assert f"{MSG_ID}.{TS}.".encode() + PAYLOAD == VECTOR["signed_content"].encode()
    assert sign_standard(SECRET, MSG_ID, TS, PAYLOAD) == VECTOR["expected_signature_header"]


def test_vector_verifies_and_returns_the_webhook_id() -> None:
    headers = _headers(VECTOR["expected_signature_header"])
    assert verify_standard((SECRET,), headers, PAYLOAD, TS, TOLERANCE) == MSG_ID


def test_one_char_off_signature_is_rejected() -> None:
    headers = _headers(REJECTED["last_char_changed"])
    with pytest.raises(Unauthenticated, match="webhook-signature does not match"):
        verify_standard((SECRET,), headers, PAYLOAD, TS, TOLERANCE)


def test_changed_body_is_rejected() -> None:
    headers = _headers(VECTOR["expected_signature_header"])
    with pytest.raises(Unauthenticated):
        verify_standard((SECRET,), headers, PAYLOAD + b" ", TS, TOLERANCE)


def test_multi_signature_header_with_decoys() -> None:
    decoys = REJECTED["decoys"]
    valid = sign_standard(SECRET, MSG_ID, TS, PAYLOAD)
    assert verify_standard((SECRET,), _headers(" ".join([*decoys, valid])), PAYLOAD, TS, TOLERANCE) == MSG_ID
    with pytest.raises(Unauthenticated):
        verify_standard((SECRET,), _headers(" ".join(decoys)), PAYLOAD, TS, TOLERANCE)


def test_v2_entry_with_a_valid_digest_is_ignored() -> None:
    digest = sign_standard(SECRET, MSG_ID, TS, PAYLOAD).removeprefix("v1,")
    with pytest.raises(Unauthenticated):
        verify_standard((SECRET,), _headers(f"v2,{digest}"), PAYLOAD, TS, TOLERANCE)


@pytest.mark.parametrize(
    "raw",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS",
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr",
    ],
)
@pytest.mark.parametrize("prefix", ["", "whsec_"])
def test_unpadded_secrets(raw: str, prefix: str) -> None:
    secret = prefix + raw
    signature = sign_standard(secret, MSG_ID, TS, PAYLOAD)
    assert verify_standard((secret,), _headers(signature), PAYLOAD, TS, TOLERANCE) == MSG_ID
    assert whsec_key(secret) == whsec_key(raw)


def test_rotation_any_configured_secret_may_match() -> None:
    old = "whsec_" + "A" * 32
    headers = _headers(VECTOR["expected_signature_header"])
    assert verify_standard((old, SECRET), headers, PAYLOAD, TS, TOLERANCE) == MSG_ID
    with pytest.raises(Unauthenticated):
        verify_standard((old,), headers, PAYLOAD, TS, TOLERANCE)


@pytest.mark.parametrize("offset", [-TOLERANCE - 1, TOLERANCE + 1])
def test_timestamp_outside_five_minutes_is_rejected(offset: int) -> None:
    headers = _headers(VECTOR["expected_signature_header"])
    with pytest.raises(Unauthenticated, match="webhook-timestamp is outside the allowed tolerance"):
        verify_standard((SECRET,), headers, PAYLOAD, TS + offset, TOLERANCE)


@pytest.mark.parametrize("offset", [-TOLERANCE, TOLERANCE])
def test_timestamp_at_the_edge_is_accepted(offset: int) -> None:
    headers = _headers(VECTOR["expected_signature_header"])
    assert verify_standard((SECRET,), headers, PAYLOAD, TS + offset, TOLERANCE) == MSG_ID


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(missing: str) -> None:
    headers = _headers(VECTOR["expected_signature_header"])
    del headers[missing]
    with pytest.raises(Unauthenticated, match=f"missing {missing} header"):
        verify_standard((SECRET,), headers, PAYLOAD, TS, TOLERANCE)


def test_no_configured_secret_fails_closed() -> None:
    with pytest.raises(Unauthenticated, match="no secret is configured"):
        verify_standard((), _headers(VECTOR["expected_signature_header"]), PAYLOAD, TS, TOLERANCE)


def test_non_integer_timestamp_is_rejected() -> None:
    headers = _headers(VECTOR["expected_signature_header"])
    headers["webhook-timestamp"] = "1614265330.5"
    with pytest.raises(Unauthenticated, match="webhook-timestamp must be an integer"):
        verify_standard((SECRET,), headers, PAYLOAD, TS, TOLERANCE)


def test_retell_signature() -> None:
    body, now_ms = b'{"event":"call_ended"}', 1_703_302_428_855
    headers = retell_headers(body, now_ms)
    verify_retell((TEST_RETELL_API_KEY,), headers, body, now_ms / 1000, TOLERANCE)
    with pytest.raises(Unauthenticated, match="does not match"):
        verify_retell(("key_other",), headers, body, now_ms / 1000, TOLERANCE)
    with pytest.raises(Unauthenticated, match="outside the allowed tolerance"):
        verify_retell((TEST_RETELL_API_KEY,), headers, body, now_ms / 1000 + 301, TOLERANCE)
    upper = {
        "x-retell-signature": headers["x-retell-signature"].upper().replace("V=", "v=").replace("D=", "d=")
    }
    with pytest.raises(Unauthenticated, match="malformed"):
        verify_retell((TEST_RETELL_API_KEY,), upper, body, now_ms / 1000, TOLERANCE)


def test_elevenlabs_signature_allows_thirty_minutes_of_age() -> None:
    body, ts = b'{"type":"post_call_transcription"}', 1_739_537_297
    headers = {k.lower(): v for k, v in elevenlabs_headers(body, ts).items()}
    verify_elevenlabs((TEST_ELEVENLABS_SECRET,), headers, body, ts + 1799, TOLERANCE)
    with pytest.raises(Unauthenticated, match="outside the allowed tolerance"):
        verify_elevenlabs((TEST_ELEVENLABS_SECRET,), headers, body, ts + 1801, TOLERANCE)
    with pytest.raises(Unauthenticated, match="does not match"):
        verify_elevenlabs(("wsec_other",), headers, body, ts, TOLERANCE)
    with pytest.raises(Unauthenticated, match="malformed"):
        verify_elevenlabs((TEST_ELEVENLABS_SECRET,), {"elevenlabs-signature": f"t={ts}"}, body, ts, TOLERANCE)


def test_vapi_static_token_and_hmac() -> None:
    body, ts = b'{"message":{}}', 1_739_358_461
    verify_vapi((TEST_VAPI_SECRET,), (), {"x-vapi-secret": TEST_VAPI_SECRET}, body, ts, TOLERANCE)
    with pytest.raises(Unauthenticated, match="X-Vapi-Secret does not match"):
        verify_vapi((TEST_VAPI_SECRET,), (), {"x-vapi-secret": "nope"}, body, ts, TOLERANCE)
    signed = vapi_hmac_headers(body, ts)
    verify_vapi((), (TEST_VAPI_HMAC_SECRET,), signed, body, ts, TOLERANCE)
    with pytest.raises(Unauthenticated, match="x-signature does not match"):
        verify_vapi((), (TEST_VAPI_HMAC_SECRET,), signed, body + b" ", ts, TOLERANCE)
    with pytest.raises(Unauthenticated, match="x-timestamp is outside"):
        verify_vapi((), (TEST_VAPI_HMAC_SECRET,), signed, body, ts + 301, TOLERANCE)


def test_vapi_hmac_timestamp_in_milliseconds() -> None:
    body, ts_ms = b'{"message":{}}', 1_739_358_461_480
    signed = vapi_hmac_headers(body, ts_ms)
    verify_vapi((), (TEST_VAPI_HMAC_SECRET,), signed, body, ts_ms / 1000, TOLERANCE)
    with pytest.raises(Unauthenticated, match="missing X-Vapi-Secret header"):
        verify_vapi((TEST_VAPI_SECRET,), (TEST_VAPI_HMAC_SECRET,), {}, body, ts_ms / 1000, TOLERANCE)


@pytest.mark.parametrize("msg_id", ["\udce9t\udce9", "msg_\u00e9", "msg\x01id"])
def test_a_webhook_id_outside_printable_ascii_is_refused(msg_id: str) -> None:
    # Signed correctly over the bytes as sent: the id is still refused, since it becomes the
    # delivery id that is queued, stored and logged.
    body = b"{}"
    now = int(time.time())
    signature = sign_standard(TEST_WEBHOOK_SECRET, msg_id, now, body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": signature}
    with pytest.raises(Unauthenticated, match="webhook-id must be printable ASCII"):
        verify_standard((TEST_WEBHOOK_SECRET,), headers, body, now, 300)
