"""Realistic demo conversations in the native webhook formats (docs/ingest.md)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import msgspec

CALLERS = ("Maria Lopez", "James Carter", "Priya Shah", "Tom Becker", "Aisha Khan", "Liam O'Neil",
           "Chen Wei", "Sofia Rossi", "Noah Kim", "Emma Dubois", "Diego Alvarez", "Grace Park")  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
TIMES = ("9:00", "10:30", "11:15", "1:45", "3:00", "4:30")
# (end reason, ((role, line with {business}/{name}/{day}/{time}), ...)) per conversation.
Scripts = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]

PHONE_SCRIPTS: Scripts = (
    (
        "completed",
        (
            ("agent", "Thanks for calling {business}, this is Ava. How can I help?"),
            ("caller", "Hi, this is {name}. I'd like to book a cleaning."),
            ("agent", "Of course. I have {day} at {time} open. Does that work?"),
            ("caller", "{day} at {time} is perfect."),
            ("agent", "You're booked for {day} at {time}. We'll text you a reminder."),
        ),
    ),
    (
        "caller_hung_up",
        (
            ("agent", "Thanks for calling {business}, this is Ava. How can I help?"),
            ("caller", "Do you take Delta Dental insurance?"),
            ("agent", "Yes, we're in network with Delta Dental PPO plans."),
            ("caller", "Great, thanks. That's all I needed."),
        ),
    ),
    (
        "transferred",
        (
            ("agent", "Thanks for calling {business}, this is Ava. How can I help?"),
            ("caller", "I cracked a tooth last night and it really hurts."),
            ("agent", "I'm sorry to hear that. Let me connect you to our on-call dentist right away."),
        ),
    ),
    (
        "completed",
        (
            ("agent", "Thanks for calling {business}, this is Ava. How can I help?"),
            ("caller", "Hi, it's {name}. I need to move my appointment on {day}."),
            ("agent", "No problem. Would {time} the following {day} work instead?"),
            ("caller", "Yes, thank you."),
            ("agent", "Done. Your appointment is now {day} at {time}."),
        ),
    ),
    (
        "voicemail",
        (("agent", "Hi {name}, this is Ava from {business} returning your call about whitening prices."),),
    ),
)
CHAT_SCRIPTS: Scripts = (
    (
        "visitor_ended",
        (
            ("agent", "Hi! Welcome to {business}. What can I help you with today?"),
            ("visitor", "My kitchen sink is leaking under the cabinet. Can someone come out?"),
            ("agent", "Yes. We have a plumber free {day} at {time}. May I have your name?"),
            ("visitor", "{name}. {day} at {time} works."),
            ("agent", "Booked! You'll get a confirmation by email."),
        ),
    ),
    (
        "visitor_ended",
        (
            ("agent", "Hi! Welcome to {business}. What can I help you with today?"),
            ("visitor", "How much does a water heater replacement cost?"),
            ("agent", "Most tank replacements run $1,200 to $2,000 installed. Want a free quote visit?"),
            ("visitor", "Not yet, just comparing prices. Thanks!"),
        ),
    ),
    (
        "timeout",
        (
            ("agent", "Hi! Welcome to {business}. What can I help you with today?"),
            ("visitor", "Are you open on weekends?"),
            ("agent", "We offer emergency service on weekends. Is this an emergency?"),
        ),
    ),
)
SITE = "https://harborplumbing.example"
PAGES = (f"{SITE}/", f"{SITE}/pricing", f"{SITE}/water-heaters", f"{SITE}/contact")


class Turn(msgspec.Struct, frozen=True):
    """One transcript turn as the native formats send it."""

    role: str
    content: str
    elapsed_s: float


class PhoneCall(msgspec.Struct, frozen=True, kw_only=True, rename={"from_": "from"}):
    """POST /webhooks/v1/phone body."""

    call_id: str
    to: str
    from_: str
    started_at: datetime
    ended_at: datetime
    end_reason: str
    caller_name: str | None
    recording_url: str
    transcript: list[Turn]


class WebChat(msgspec.Struct, frozen=True, kw_only=True):
    """POST /webhooks/v1/web-chat body."""

    session_id: str
    agent_id: int
    started_at: datetime
    ended_at: datetime
    end_reason: str
    visitor_name: str | None
    visitor_ip: str
    device_type: str
    origin_url: str
    transcript: list[Turn]


def _script(
    rng: random.Random, lines: tuple[tuple[str, str], ...], business: str
) -> tuple[list[Turn], float]:
    fill = {"business": business, "name": rng.choice(CALLERS).split()[0], "day": rng.choice(DAYS),
            "time": rng.choice(TIMES)}  # fmt: skip
    turns, elapsed = [], 0.0
    for role, text in lines:
        turns.append(Turn(role=role, content=text.format(**fill), elapsed_s=round(elapsed, 1)))
        elapsed += rng.uniform(3, 14)
    return turns, elapsed


def _finished(
    rng: random.Random,
    scripts: Scripts,
    business: str,
    now: datetime,
) -> tuple[str, list[Turn], datetime, datetime]:
    """One scripted conversation that ended within the last 30 days: reason, turns, start, end."""
    reason, lines = rng.choice(scripts)
    turns, length = _script(rng, lines, business)
    started = now - timedelta(minutes=rng.randint(10, 30 * 24 * 60))
    return reason, turns, started, started + timedelta(seconds=length)


def phone_calls(count: int, to: str, business: str, now: datetime, rng: random.Random) -> list[PhoneCall]:
    """`count` finished calls to `to` over the last 30 days."""
    calls = []
    for index in range(count):
        reason, turns, started, ended = _finished(rng, PHONE_SCRIPTS, business, now)
        calls.append(PhoneCall(
            call_id=f"demo-call-{index:04d}", to=to, from_=f"+1555{rng.randint(2000000, 9999999)}",
            started_at=started, ended_at=ended, end_reason=reason,
            caller_name=rng.choice((*CALLERS, None)), transcript=turns,
            recording_url=f"https://recordings.ringready.local/demo-call-{index:04d}.mp3",
        ))  # fmt: skip
    return calls


def web_chats(count: int, agent_id: int, business: str, now: datetime, rng: random.Random) -> list[WebChat]:
    """`count` finished web chats with agent `agent_id` over the last 30 days."""
    chats = []
    for index in range(count):
        reason, turns, started, ended = _finished(rng, CHAT_SCRIPTS, business, now)
        chats.append(WebChat(
            session_id=f"demo-chat-{index:04d}", agent_id=agent_id, started_at=started, ended_at=ended,
            end_reason=reason,
            visitor_name=rng.choice((*CALLERS, None)), visitor_ip=f"203.0.113.{rng.randint(1, 254)}",
            device_type=rng.choice(("desktop", "mobile", "tablet")), origin_url=rng.choice(PAGES),
            transcript=turns,
        ))  # fmt: skip
    return chats
