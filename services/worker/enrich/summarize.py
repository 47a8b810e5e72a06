"""Summaries: a Summarizer protocol and the local, deterministic one used by default."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from services.worker.enrich.classify import caller_text, classify_topics
from services.worker.enrich.topics import GENERAL, HANG_UP, SPAM, WRONG_NUMBER, Topic
from shared.models import FinishedConversation

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ENDINGS = {
    "transferred": "The call was transferred.",
    "voicemail": "It went to voicemail.",
    "timeout": "The conversation timed out.",
    "error": "The conversation ended with an error.",
    "busy": "The line was busy.",
    "no_answer": "Nobody answered.",
}
_BOOKED = re.compile(r"\b(booked|you're all set|you are all set|confirmed|see you (on|at))\b")


class Summarizer(Protocol):
    """Anything that can summarise a finished conversation (a language model, later)."""

    async def summarize(self, conversation: FinishedConversation, end_reason: str) -> str:
        """One or two sentences: what the caller wanted and how it ended."""
        ...


def _who(conversation: FinishedConversation) -> str:
    return "Visitor" if conversation.channel == "web_chat" else "Caller"


def _object(topic: Topic, text: str) -> str:
    """The topic's object, sharpened by a weekday for opening hours ("Saturday opening hours")."""
    if topic.obj == "opening hours":
        day = next((d for d in _DAYS if re.search(rf"\b{d}s?\b", text)), None)
        if day:
            return f"{day.capitalize()} opening hours"
    return topic.obj


def request_sentence(who: str, topics: Sequence[Topic], text: str) -> str:
    """'Visitor asked for a demo and pricing.' from one or two topics."""
    first = topics[0]
    if first is HANG_UP:
        return f"{who} hung up without saying what they wanted."
    if first is WRONG_NUMBER:
        return f"{who} had reached the wrong number."
    if first is SPAM:
        return "Unsolicited sales or spam call; no genuine request."
    if first is GENERAL:
        return f"{who} made a general inquiry."
    phrase = f"{first.prep} {_object(first, text)}"
    if len(topics) > 1:
        second = topics[1]
        joiner = "" if second.prep == first.prep else f"{second.prep} "
        phrase += f" and {joiner}{_object(second, text)}"
    return f"{who} asked {phrase}."


def ending_sentence(conversation: FinishedConversation, end_reason: str, topic: Topic) -> str:
    """How it ended, when that is worth saying."""
    if end_reason in _ENDINGS:
        return _ENDINGS[end_reason]
    if topic.label == "Appointment Booking":
        agent_text = " ".join(t.content for t in conversation.transcript if t.role == "agent")
        if _BOOKED.search(agent_text.lower().replace("\u2019", "'")):
            return "The appointment was booked."
    return ""


class LocalSummarizer:
    """Template summary from the classifier's topics; deterministic, no network."""

    async def summarize(self, conversation: FinishedConversation, end_reason: str) -> str:
        """One or two sentences: what the caller wanted and how it ended."""
        said = [t.content for t in conversation.transcript if t.role != "agent"]
        topics = classify_topics(said)
        first = request_sentence(_who(conversation), topics, caller_text(said))
        second = ending_sentence(conversation, end_reason, topics[0])
        return f"{first} {second}".strip()
