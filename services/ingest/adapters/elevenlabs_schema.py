"""The parts of ElevenLabs' post_call_transcription webhook we use (tolerant: unknown fields pass)."""

from __future__ import annotations

import msgspec

from services.ingest.adapters.common import CallId


class ElevenTurn(msgspec.Struct, frozen=True, kw_only=True):
    """One `data.transcript[]` element; tool-only turns have a null message."""

    role: str
    message: str | None = None
    time_in_call_secs: float = 0.0


class ElevenPhoneCall(msgspec.Struct, frozen=True, kw_only=True):
    """`data.metadata.phone_call` (twilio / sip_trunking / exotel); absent for widget chats."""

    direction: str | None = None
    agent_number: str | None = None
    external_number: str | None = None
    type: str | None = None


class ElevenMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """`data.metadata`: times, duration, end reason."""

    start_time_unix_secs: int
    call_duration_secs: int = 0
    termination_reason: str | None = None
    cost: int | float | None = None
    phone_call: ElevenPhoneCall | None = None


class ElevenAnalysis(msgspec.Struct, frozen=True, kw_only=True):
    """`data.analysis`."""

    transcript_summary: str | None = None
    call_successful: str | None = None
    call_summary_title: str | None = None


class ElevenData(msgspec.Struct, frozen=True, kw_only=True):
    """`data`: the conversation."""

    conversation_id: CallId
    metadata: ElevenMetadata
    agent_id: str | None = None
    status: str | None = None
    transcript: list[ElevenTurn] = []
    analysis: ElevenAnalysis | None = None


class ElevenWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """The envelope: type, event time (unix seconds) and data."""

    type: str
    data: ElevenData
    event_timestamp: int | None = None


class ElevenKind(msgspec.Struct, frozen=True, kw_only=True):
    """Just the type, read first so post_call_audio and others are ignored whatever their shape."""

    type: str
