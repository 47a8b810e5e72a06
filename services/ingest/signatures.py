"""Webhook signature checks on the raw body bytes, in constant time; every failure is a 401."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping

from shared.errors import Unauthenticated

# ElevenLabs' own SDKs accept deliveries up to 30 minutes old (and any future time); a stricter
# window would drop events they never retry.
ELEVENLABS_MAX_AGE_S = 1800
_RETELL_SIGNATURE = re.compile(r"^v=(\d+),d=([0-9a-f]{64})$")


def _require(secrets: tuple[str, ...]) -> None:
    """Fail closed: a source without a configured secret accepts nothing."""
    if not secrets:
        raise Unauthenticated("no secret is configured for this webhook source")


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name, "")
    if not value:
        raise Unauthenticated(f"missing {name} header")
    return value


def _check_age(timestamp_s: float, now_s: float, past_s: float, future_s: float, header: str) -> None:
    """Reject replays: the signed timestamp must lie within [now - past_s, now + future_s]."""
    if timestamp_s < now_s - past_s or timestamp_s > now_s + future_s:
        raise Unauthenticated(f"{header} is outside the allowed tolerance")


def _int_header(value: str, header: str) -> int:
    if not value.isdigit():
        raise Unauthenticated(f"{header} must be an integer timestamp")
    return int(value)


def _hmac_hex(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _any_match(candidates: list[str], presented: str) -> bool:
    """Constant-time compare against every candidate (no early exit that leaks which matched)."""
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate.encode(), presented.encode(errors="surrogateescape"))
    return matched


@functools.lru_cache(maxsize=64)
def whsec_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: base64 after `whsec_`, padding optional."""
    raw = secret.removeprefix("whsec_")
    try:
        return base64.b64decode(raw + "==")
    except (binascii.Error, ValueError):
        raise Unauthenticated("the configured webhook secret is not valid base64") from None


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature Standard Webhooks defines for one secret."""
    # The id's bytes as sent: aiohttp hands non-UTF-8 header bytes over surrogate-escaped.
    content = f"{msg_id}.{timestamp}.".encode(errors="surrogateescape") + body
    digest = hmac.new(whsec_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify_standard(
    secrets: tuple[str, ...], headers: Mapping[str, str], body: bytes, now_s: float, tolerance_s: int
) -> str:
    """Standard Webhooks v1: returns webhook-id (the delivery id) when any entry matches any secret."""
    _require(secrets)
    msg_id = _header(headers, "webhook-id")
    if not (msg_id.isascii() and msg_id.isprintable()):  # it becomes our delivery id, stored and logged
        raise Unauthenticated("webhook-id must be printable ASCII")
    timestamp = _int_header(_header(headers, "webhook-timestamp"), "webhook-timestamp")
    presented = _header(headers, "webhook-signature").split()
    _check_age(timestamp, now_s, tolerance_s, tolerance_s, "webhook-timestamp")
    expected = [sign_standard(secret, msg_id, timestamp, body) for secret in secrets]
    # Other versions (v1a = ed25519) are skipped, as the reference libraries do.
    if not any(_any_match(expected, entry) for entry in presented if entry.startswith("v1,")):
        raise Unauthenticated("webhook-signature does not match")
    return msg_id


def verify_vapi(
    secrets: tuple[str, ...],
    hmac_secrets: tuple[str, ...],
    headers: Mapping[str, str],
    body: bytes,
    now_s: float,
    tolerance_s: int,
) -> None:
    """Vapi: the static X-Vapi-Secret token, or its HMAC credential (x-signature over `{ts}.{body}`)."""
    _require(secrets + hmac_secrets)
    token = headers.get("x-vapi-secret", "")
    if token and _any_match(list(secrets), token):
        return
    if "x-signature" not in headers:
        raise Unauthenticated("X-Vapi-Secret does not match" if token else "missing X-Vapi-Secret header")
    _verify_vapi_hmac(hmac_secrets, headers, body, now_s, tolerance_s)


def _verify_vapi_hmac(
    secrets: tuple[str, ...], headers: Mapping[str, str], body: bytes, now_s: float, tolerance_s: int
) -> None:
    _require(secrets)
    raw_ts = _header(headers, "x-timestamp")
    timestamp = _int_header(raw_ts, "x-timestamp")
    # Vapi does not document the unit; millisecond values are recognised by their size.
    _check_age(
        timestamp / 1000 if timestamp > 10**11 else timestamp, now_s, tolerance_s, tolerance_s, "x-timestamp"
    )
    message = raw_ts.encode() + b"." + body
    expected = [_hmac_hex(secret.encode(), message) for secret in secrets]
    if not _any_match(expected, headers["x-signature"].lower()):
        raise Unauthenticated("x-signature does not match")


def verify_retell(
    api_keys: tuple[str, ...], headers: Mapping[str, str], body: bytes, now_s: float, tolerance_s: int
) -> None:
    """Retell: `x-retell-signature: v=<ms>,d=<hex HMAC-SHA256(api key, body + ms)>`."""
    _require(api_keys)
    match = _RETELL_SIGNATURE.match(_header(headers, "x-retell-signature"))
    if match is None:
        raise Unauthenticated("x-retell-signature is malformed")
    timestamp_ms, digest = match.groups()
    _check_age(int(timestamp_ms) / 1000, now_s, tolerance_s, tolerance_s, "x-retell-signature")
    message = body + timestamp_ms.encode()
    if not _any_match([_hmac_hex(key.encode(), message) for key in api_keys], digest):
        raise Unauthenticated("x-retell-signature does not match")


def elevenlabs_macs(
    secrets: tuple[str, ...], headers: Mapping[str, str], now_s: float, tolerance_s: int
) -> tuple[list[hmac.HMAC], str]:
    """The header checked (401 if malformed or too old) and one HMAC per secret, fed `<t>.`: the
    caller feeds the body, in pieces if it likes, then calls check_elevenlabs."""
    _require(secrets)
    parts = dict(item.partition("=")[::2] for item in _header(headers, "elevenlabs-signature").split(","))
    raw_ts, presented = parts.get("t", ""), parts.get("v0", "")
    if not presented:
        raise Unauthenticated("elevenlabs-signature is malformed")
    timestamp = _int_header(raw_ts, "elevenlabs-signature timestamp")
    _check_age(timestamp, now_s, max(ELEVENLABS_MAX_AGE_S, tolerance_s), tolerance_s, "elevenlabs-signature")
    macs = [hmac.new(secret.encode(), raw_ts.encode() + b".", hashlib.sha256) for secret in secrets]
    return macs, presented


def check_elevenlabs(macs: list[hmac.HMAC], presented: str) -> None:
    """401 unless one of the fed HMACs matches the presented v0."""
    if not _any_match([mac.hexdigest() for mac in macs], presented):
        raise Unauthenticated("elevenlabs-signature does not match")


def verify_elevenlabs(
    secrets: tuple[str, ...], headers: Mapping[str, str], body: bytes, now_s: float, tolerance_s: int
) -> None:
    """ElevenLabs: `ElevenLabs-Signature: t=<s>,v0=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    macs, presented = elevenlabs_macs(secrets, headers, now_s, tolerance_s)
    for mac in macs:
        mac.update(body)
    check_elevenlabs(macs, presented)
