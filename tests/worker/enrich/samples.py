"""Caller turns of the provider webhook samples in tests/fixtures."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers import FIXTURES


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def vapi_caller_turns() -> list[str]:
    """The Vapi end-of-call report's user messages (a dental patient asking about hours)."""
    messages = _load("vapi-end-of-call-report.json")["message"]["artifact"]["messages"]
    return [m["message"] for m in messages if m["role"] == "user"]


def retell_caller_turns() -> list[str]:
    """Retell call_analyzed transcript_object user turns (a leaking water heater)."""
    return [
        t["content"]
        for t in _load("retell-call-analyzed.json")["call"]["transcript_object"]
        if t["role"] == "user"
    ]


def elevenlabs_caller_turns() -> list[str]:
    """ElevenLabs post_call_transcription user turns (booking a dog's checkup)."""
    return [
        t["message"]
        for t in _load("elevenlabs-post-call-transcription.json")["data"]["transcript"]
        if t["role"] == "user"
    ]


def vapi_fixture_caller_turns() -> list[str]:
    """The Vapi conversation-update: the caller has only said "Hello?"."""
    return [m["message"] for m in _load("vapi-conversation-update.json")["messages"] if m["role"] == "user"]
