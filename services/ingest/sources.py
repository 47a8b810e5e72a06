"""The webhook sources: how each one is authenticated and which adapter decodes it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from services.ingest import signatures
from services.ingest.adapters.common import Adapted
from services.ingest.adapters.elevenlabs import adapt_elevenlabs
from services.ingest.adapters.native import adapt_phone, adapt_web_chat
from services.ingest.adapters.retell import adapt_retell
from services.ingest.adapters.vapi import adapt_vapi
from shared.config import Settings

# (settings, headers, raw body, now in unix seconds) -> the sender's delivery id, if it has one.
Verifier = Callable[[Settings, Mapping[str, str], bytes, float], str | None]


class Source(NamedTuple):
    """One webhook endpoint: its signature check and its adapter."""

    verify: Verifier
    adapt: Callable[[bytes], Adapted]


def _standard(settings: Settings, headers: Mapping[str, str], body: bytes, now: float) -> str:
    return signatures.verify_standard(
        settings.webhook_secrets, headers, body, now, settings.webhook_tolerance_s
    )


def _vapi(settings: Settings, headers: Mapping[str, str], body: bytes, now: float) -> None:
    signatures.verify_vapi(
        settings.vapi_secrets, settings.vapi_hmac_secrets, headers, body, now, settings.webhook_tolerance_s
    )


def _retell(settings: Settings, headers: Mapping[str, str], body: bytes, now: float) -> None:
    signatures.verify_retell(settings.retell_api_keys, headers, body, now, settings.webhook_tolerance_s)


def _elevenlabs(settings: Settings, headers: Mapping[str, str], body: bytes, now: float) -> None:
    signatures.verify_elevenlabs(
        settings.elevenlabs_secrets, headers, body, now, settings.webhook_tolerance_s
    )


# URL segment -> source. The canonical `source` value uses web_chat (underscore) for web-chat.
SOURCES: dict[str, Source] = {
    "phone": Source(_standard, adapt_phone),
    "web-chat": Source(_standard, adapt_web_chat),
    "vapi": Source(_vapi, adapt_vapi),
    "retell": Source(_retell, adapt_retell),
    "elevenlabs": Source(_elevenlabs, adapt_elevenlabs),
}
