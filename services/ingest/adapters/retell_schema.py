"""The parts of Retell's call_ended / call_analyzed webhooks we use (tolerant: unknown fields pass)."""

from __future__ import annotations

from typing import Any

import msgspec

from services.ingest.adapters.common import CallId


class RetellWord(msgspec.Struct, frozen=True, kw_only=True):
    """Word timing in seconds from the start of the call audio."""

    start: float | None = None


class RetellUtterance(msgspec.Struct, frozen=True, kw_only=True):
    """One `transcript_object[]` element."""

    role: str
    content: str = ""
    words: list[RetellWord] = []


class RetellAnalysis(msgspec.Struct, frozen=True, kw_only=True):
    """`call.call_analysis`, present only in call_analyzed."""

    call_summary: str | None = None
    user_sentiment: str | None = None
    call_successful: bool | None = None
    in_voicemail: bool | None = None
    custom_analysis_data: dict[str, Any] | None = None


class RetellCall(msgspec.Struct, frozen=True, kw_only=True):
    """`call`: the Retell call object."""

    call_id: CallId
    call_type: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    direction: str | None = None
    start_timestamp: int | None = None
    end_timestamp: int | None = None
    disconnection_reason: str | None = None
    recording_url: str | None = None
    transcript_object: list[RetellUtterance] = []
    call_analysis: RetellAnalysis | None = None
    retell_llm_dynamic_variables: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


class RetellWebhook(msgspec.Struct, frozen=True, kw_only=True):
    """The envelope; some docs pages name the discriminator `event_type`, so both are read."""

    call: RetellCall
    event: str | None = None
    event_type: str | None = None


class RetellKind(msgspec.Struct, frozen=True, kw_only=True):
    """Just the discriminator, read first so other events are ignored whatever their shape."""

    event: str | None = None
    event_type: str | None = None
