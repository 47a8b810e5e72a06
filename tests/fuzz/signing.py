"""Webhook signatures computed over the exact bytes a request puts on the wire.

schemathesis places PLACEHOLDER in a source's signature header (its `[auth.openapi.*]` entry), and
WebhookSigner, a requests auth hook, swaps it for the real signature once the body is final. A
request whose signature header is absent or holds anything else (schemathesis's own "no auth" and
"invalid auth" probes) is sent as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import shlex
import sys
import time
from collections.abc import Callable, MutableMapping

import requests

from tests.helpers import (
    TEST_ELEVENLABS_SECRET,
    TEST_RETELL_API_KEY,
    TEST_VAPI_HMAC_SECRET,
    TEST_WEBHOOK_SECRET,
)

PLACEHOLDER = "ringready-fuzz-sign-me"
# The header each source's signature travels in (the securitySchemes of /webhooks/v1/openapi.json).
SIGNATURE_HEADERS = {
    "phone": "webhook-signature",
    "web-chat": "webhook-signature",
    "vapi": "x-signature",
    "retell": "x-retell-signature",
    "elevenlabs": "ElevenLabs-Signature",
}

Headers = MutableMapping[str, str]


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _latin1(value: str) -> bytes | None:
    """A header value as http.client sends it (None: it cannot be sent at all)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return None


def _standard(headers: Headers, body: bytes, now: float) -> bool:
    """Standard Webhooks v1 over `{webhook-id}.{webhook-timestamp}.{body}`.

    The id and timestamp are part of the credential, so the signer owns their values as a sender
    would: a generated integer timestamp becomes the current time (only now +-5 min passes), and a
    blank id (valid for the document's bare `string`, refused by the server as missing) becomes one
    derived from the body. A missing header or a non-integer timestamp is a negative case: unsigned.
    So is an id outside printable ASCII: which bytes a server signs for it is not ours to guess.
    """
    msg_id, timestamp = headers.get("webhook-id"), headers.get("webhook-timestamp")
    if msg_id is None or timestamp is None or not _is_integer(timestamp):
        return False
    msg_id = msg_id.strip(" \t")  # the server reads the value without its surrounding whitespace
    if not msg_id:
        msg_id = headers["webhook-id"] = "msg_fuzz_" + hashlib.sha256(body).hexdigest()[:16]
    if not (msg_id.isascii() and msg_id.isprintable()):
        return False
    raw_id = msg_id.encode()
    timestamp = str(int(now))
    headers["webhook-timestamp"] = timestamp
    key = base64.b64decode(TEST_WEBHOOK_SECRET.removeprefix("whsec_") + "==")
    digest = hmac.new(key, raw_id + f".{timestamp}.".encode() + body, hashlib.sha256).digest()
    headers["webhook-signature"] = "v1," + base64.b64encode(digest).decode()
    return True


def _is_integer(value: str) -> bool:
    """What the document's `integer` header schema accepts, as written on the wire."""
    return re.fullmatch(r"-?[0-9]+", value.strip(" \t")) is not None


def _vapi(headers: Headers, body: bytes, now: float) -> bool:
    """Vapi's HMAC credential: x-timestamp, and hex HMAC-SHA256 of `{x-timestamp}.{body}`."""
    timestamp = str(int(now))
    headers["x-timestamp"] = timestamp
    headers["x-signature"] = _hmac_hex(TEST_VAPI_HMAC_SECRET, timestamp.encode() + b"." + body)
    return True


def _retell(headers: Headers, body: bytes, now: float) -> bool:
    """Retell: `v=<ms>,d=<hex HMAC-SHA256(api key, body + ms)>`."""
    ms = str(int(now * 1000))
    headers["x-retell-signature"] = f"v={ms},d={_hmac_hex(TEST_RETELL_API_KEY, body + ms.encode())}"
    return True


def _elevenlabs(headers: Headers, body: bytes, now: float) -> bool:
    """ElevenLabs: `t=<s>,v0=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    timestamp = str(int(now))
    digest = _hmac_hex(TEST_ELEVENLABS_SECRET, timestamp.encode() + b"." + body)
    headers["ElevenLabs-Signature"] = f"t={timestamp},v0={digest}"
    return True


SIGNERS: dict[str, Callable[[Headers, bytes, float], bool]] = {
    "phone": _standard,
    "web-chat": _standard,
    "vapi": _vapi,
    "retell": _retell,
    "elevenlabs": _elevenlabs,
}


def wire_body(body: object) -> bytes | None:
    """The body bytes http.client sends (None: a streamed body this module cannot sign)."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return _latin1(body)
    return None


def sign(source: str, headers: Headers, body: object, now: float) -> bool:
    """Replace PLACEHOLDER with the source's signature over `body`; True if the request is now signed."""
    if headers.get(SIGNATURE_HEADERS[source]) != PLACEHOLDER:
        return False
    raw = wire_body(body)
    return raw is not None and SIGNERS[source](headers, raw, now)


class WebhookSigner(requests.auth.AuthBase):
    """requests calls this after the body is prepared, so the signature covers the final bytes."""

    def __init__(self, source: str, on_signed: Callable[[], None]) -> None:
        self.source = source
        self.on_signed = on_signed

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if sign(self.source, request.headers, request.body, time.time()):
            self.on_signed()
        return request


def main() -> None:
    """`python -m tests.fuzz.signing SOURCE BASE_URL BODY_FILE [WEBHOOK-ID]`: a freshly signed curl."""
    source, base_url, body_file = sys.argv[1:4]
    headers: dict[str, str] = {SIGNATURE_HEADERS[source]: PLACEHOLDER, "Content-Type": "application/json"}
    if source in ("phone", "web-chat"):
        headers |= {"webhook-id": sys.argv[4] if len(sys.argv) > 4 else "msg_repro", "webhook-timestamp": "0"}
    with open(body_file, "rb") as body:
        sign(source, headers, body.read(), time.time())
    options = " ".join(f"-H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items())
    print(f"curl -X POST {options} --data-binary @{shlex.quote(body_file)} {base_url}/webhooks/v1/{source}")


if __name__ == "__main__":
    main()
