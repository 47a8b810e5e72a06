"""The parts of Vapi's `end-of-call-report` server message we use (tolerant: unknown fields pass)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from services.ingest.adapters.common import CallId


class Base(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Vapi's JSON is camelCase; every field is optional unless the adapter cannot do without it."""


class VapiParty(Base, frozen=True, kw_only=True):
    """`customer` or `phoneNumber`: a number and maybe a name."""

    number: str | None = None
    name: str | None = None


class VapiCall(Base, frozen=True, kw_only=True):
    """`message.call`: ids, type and the call's own timestamps."""

    id: CallId
    type: str | None = None
    status: str | None = None
    assistant_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ended_reason: str | None = None
    phone_call_provider_id: str | None = None
    customer: VapiParty | None = None


class VapiTurn(Base, frozen=True, kw_only=True):
    """One `artifact.messages[]` element (system, bot, user, tool_calls, ...)."""

    role: str
    message: str | None = None
    seconds_from_start: float = 0.0


class VapiMono(Base, frozen=True, kw_only=True):
    """`artifact.recording.mono`."""

    combined_url: str | None = None


class VapiRecording(Base, frozen=True, kw_only=True):
    """`artifact.recording`."""

    mono: VapiMono | None = None
    stereo_url: str | None = None


class VapiArtifact(Base, frozen=True, kw_only=True):
    """`message.artifact`: transcript turns and recording links."""

    messages: list[VapiTurn] = []
    recording: VapiRecording | None = None
    recording_url: str | None = None


class VapiAnalysis(Base, frozen=True, kw_only=True):
    """`message.analysis`."""

    summary: str | None = None
    success_evaluation: Any = None
    structured_data: Any = None


class VapiReport(Base, frozen=True, kw_only=True):
    """`message` of an end-of-call-report; legacy top-level summary/messages/recordingUrl included."""

    type: str
    call: VapiCall
    timestamp: float | None = None
    ended_reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    cost: float | None = None
    artifact: VapiArtifact | None = None
    analysis: VapiAnalysis | None = None
    customer: VapiParty | None = None
    phone_number: VapiParty | None = None
    summary: str | None = None
    messages: list[VapiTurn] = []
    recording_url: str | None = None


class VapiWebhook(Base, frozen=True, kw_only=True):
    """The envelope of every Vapi server message."""

    message: VapiReport


class VapiKind(Base, frozen=True, kw_only=True):
    """Just `message.type`, read first so other message types are ignored whatever their shape."""

    type: str


class VapiEnvelope(Base, frozen=True, kw_only=True):
    """The envelope with only the discriminator decoded."""

    message: VapiKind
