"""A local topic classifier: weighted phrase matches over what the caller said."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

from services.worker.enrich.topics import GENERAL, HANG_UP, SPAM, TOPICS, WRONG_NUMBER, Topic

# Fewer caller words than this and there was no real request (silence, "hello?").
MIN_CALLER_WORDS = 3
_SPECIAL_MIN_SCORE = 4.0


@cache
def _matcher(topic: Topic) -> tuple[re.Pattern[str], dict[str, float]]:
    """One alternation per topic (longest phrases first): one scan of the text per topic."""
    weights = dict(topic.phrases)
    alternation = "|".join(re.escape(p) for p in sorted(weights, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternation})\b"), weights


def _score(topic: Topic, text: str) -> float:
    if not topic.phrases:
        return 0.0
    pattern, weights = _matcher(topic)
    return sum(weights[found] for found in pattern.findall(text))


def caller_text(caller_turns: Iterable[str]) -> str:
    """All caller turns as one lower-cased string, apostrophes normalised."""
    return " ".join(caller_turns).lower().replace("\u2019", "'")


def ranked_topics(text: str) -> list[Topic]:
    """Matching topics, best first (ties keep the table's order)."""
    scored = [(_score(topic, text), index, topic) for index, topic in enumerate(TOPICS)]
    return [topic for score, _, topic in sorted(scored, key=lambda s: (-s[0], s[1])) if score > 0]


def classify_topics(caller_turns: Sequence[str]) -> list[Topic]:
    """The special verdicts first (hang-up, spam, wrong number), else up to two topics."""
    text = caller_text(caller_turns)
    if len(re.findall(r"[a-z0-9']+", text)) < MIN_CALLER_WORDS:
        return [HANG_UP]
    for special in (SPAM, WRONG_NUMBER):
        if _score(special, text) >= _SPECIAL_MIN_SCORE:
            return [special]
    return ranked_topics(text)[:2] or [GENERAL]


def classify(caller_turns: Sequence[str]) -> str:
    """A short title-case label such as "Appointment Booking" or "Hang-up"."""
    return classify_topics(caller_turns)[0].label
