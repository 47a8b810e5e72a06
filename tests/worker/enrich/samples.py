"""Caller turns of the verbatim provider samples in /work/shared/providers."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.helpers import REFERENCE


def _load(name: str) -> Any:
    text = (REFERENCE / "providers" / name).read_text()
    return json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))


def vapi_caller_turns() -> list[str]:
    """The Vapi end-of-call report's user messages."""
    messages = _load("vapi-end-of-call-report.reconstructed.json")["message"]["artifact"]["messages"]
    return [m["message"] for m in messages if m["role"] == "user"]


def retell_caller_turns() -> list[str]:
    """Retell call_analyzed transcript_object user turns."""
    return [
        t["content"]
        for t in _load("retell-call-analyzed.assembled-from-openapi.json")["call"]["transcript_object"]
        if t["role"] == "user"
    ]


def elevenlabs_caller_turns() -> list[str]:
    """ElevenLabs post_call_transcription user turns."""
    return [
        t["message"]
        for t in _load("elevenlabs-post-call-transcription.docs.json")["data"]["transcript"]
        if t["role"] == "user"
    ]


def vapi_fixture_caller_turns() -> list[str]:
    """The Vapi iOS SDK fixture: one placeholder user message."""
    return [
        m["message"]
        for m in _load("vapi-conversation-messages.ios-sdk-fixture.json")["messages"]
        if m["role"] == "user"
    ]
