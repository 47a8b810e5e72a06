"""The soak's webhooks: one call per source in turn, each with its versions, signed as its sender signs.

Every call is named in the API's list by a marker only it has: its caller's number (phone
sources) or its chat page (web chats). A call has one or more versions (what a sender says
about it at one moment); deliveries send versions, some twice (a retry), some late (a replay),
some out of order. What the worker must end with is the richest accepted version: highest
(rank, event time), as the upsert orders them. Bodies are built from the documented shapes
(docs/ingest.md, services/ingest/adapters/*_schema.py), deterministically from the call, so a
duplicate is byte for byte the same body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.ingest.signatures import sign_standard

SOURCES = ("phone", "web-chat", "vapi", "retell", "elevenlabs")
AGENT_PHONE = "+15557770100"
PROVIDER_IDS = {"vapi": "asst_soak", "retell": "agent_soak", "elevenlabs": "el_agent_soak"}
# A call started this long before its first delivery: long enough that every call is over.
STARTED_BEFORE_S = 900.0


@dataclass(frozen=True)
class Secrets:
    """What ingest is configured with and the soak signs with; fresh for every run."""

    standard: str
    vapi_token: str
    vapi_hmac: str
    retell: str
    elevenlabs: str

    @classmethod
    def generate(cls) -> Secrets:
        """Random secrets of each sender's kind."""
        return cls(
            standard="whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
            vapi_token=secrets.token_urlsafe(24),
            vapi_hmac=secrets.token_urlsafe(24),
            retell="key_" + secrets.token_hex(16),
            elevenlabs="wsec_" + secrets.token_hex(16),
        )

    def env(self) -> dict[str, str]:
        """The ingest's RINGREADY_* variables for them."""
        return {
            "RINGREADY_WEBHOOK_SECRETS": self.standard,
            "RINGREADY_VAPI_SECRETS": self.vapi_token,
            "RINGREADY_VAPI_HMAC_SECRETS": self.vapi_hmac,
            "RINGREADY_RETELL_API_KEYS": self.retell,
            "RINGREADY_ELEVENLABS_SECRETS": self.elevenlabs,
        }


@dataclass(frozen=True)
class Expected:
    """What the API (and conversation_details) must show for a version, if it is the richest.

    `summary` and `caller_name` None: the worker derives them, so they are not compared.
    """

    channel: str
    from_number: str | None
    to_number: str | None
    caller_name: str | None
    summary: str | None
    started_at: datetime
    ended_at: datetime
    end_reason: str
    origin_url: str | None
    device_type: str | None
    transcript: tuple[tuple[str, str], ...]  # (role, content)

    @property
    def duration_seconds(self) -> int:
        """As the worker computes it: whole seconds between start and end."""
        return max(0, round((self.ended_at - self.started_at).total_seconds()))


@dataclass(frozen=True)
class Version:
    """One thing a sender says about a call: its body, where it goes, how it ranks."""

    path: str  # the URL segment after /webhooks/v1/
    body: bytes
    rank: int  # 0: a message ingest acknowledges and ignores (never stored)
    event_at: datetime
    expected: Expected | None
    msg_id: str  # Standard Webhooks' webhook-id (kept across retries of one delivery)


@dataclass
class Call:
    """One conversation and what is sent about it; the sender fills in what was accepted."""

    n: int
    source: str
    call_id: str
    marker: str
    versions: list[Version]
    deliveries: list[tuple[float, int]]  # (seconds after the call's first send, version index)
    accepted: set[int] = field(default_factory=set)  # version indexes that got a 2xx
    attempted: set[int] = field(default_factory=set)  # ... that were sent at least once
    first_accepted_at: float = 0.0  # monotonic time of the first 2xx of a storable version

    @property
    def storable(self) -> bool:
        """A version of it that must be stored was accepted."""
        return any(self.versions[v].rank > 0 for v in self.accepted)

    def richest(self, indexes: set[int]) -> Version | None:
        """The version the upsert keeps among these: highest (rank, event time), first on a tie."""
        stored = [self.versions[v] for v in sorted(indexes) if self.versions[v].rank > 0]
        return max(stored, key=lambda v: (v.rank, v.event_at), default=None)

    def allowed(self) -> list[Expected]:
        """What the row may show: the richest accepted version, or a richer one whose delivery got
        no 2xx but may still have been queued (an answer lost when ingest died mid-request)."""
        best = self.richest(self.accepted)
        if best is None:
            return []
        floor = (best.rank, best.event_at)
        extra = [
            self.versions[v]
            for v in self.attempted - self.accepted
            if self.versions[v].rank > 0 and (self.versions[v].rank, self.versions[v].event_at) > floor
        ]
        return [v.expected for v in [best, *extra] if v.expected is not None]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def caller_number(run: str, n: int) -> str:
    """The unique caller number of call n (E.164: +1 and 12 digits; a run id starts with 2 digits)."""
    return f"+1999{run[:2]}{n:07d}"


def chat_page(run: str, n: int) -> str:
    """The unique page a web chat n came from."""
    return f"https://soak.example/{run}/chat/{n}"


# Caller lines: the first names the caller (the worker's caller_name extraction), the rest vary.
ASKS = (
    "How much does a drain cleaning cost?",
    "Can I book an appointment for Saturday morning?",
    "What are your opening hours on Sunday?",
    "My water heater is leaking, can someone come today?",
    "Do you have a location near downtown?",
)
NAMES = ("Dana Lee", "Priya Shah", "Sam Ortiz", "Maria Lopez", "Omar Haddad")


@dataclass(frozen=True)
class Plot:
    """The call's facts every version agrees on (a seeded draw per call)."""

    started_at: datetime
    duration_s: int
    name: str
    ask: str
    rng: random.Random

    def turns(self, extra: bool) -> list[tuple[str, str, float]]:
        """(role word: agent | human, content, seconds); `extra` adds a closing exchange."""
        turns = [
            ("agent", "Thanks for calling, how can I help?", 0.5),
            ("human", f"Hi, my name is {self.name}. {self.ask}", 3.0),
            ("agent", "Let me check that for you.", 7.5),
        ]
        if extra:
            turns += [("human", "Great, thank you very much.", 12.0), ("agent", "You're welcome, bye!", 14.0)]
        return turns


def _plot(n: int, first_send_wall: float, seed: int) -> Plot:
    rng = random.Random(seed * 1_000_003 + n)
    started = datetime.fromtimestamp(first_send_wall - STARTED_BEFORE_S, UTC).replace(microsecond=0)
    return Plot(
        started_at=started + timedelta(milliseconds=rng.randrange(1000)),
        duration_s=rng.randrange(30, 600),
        name=NAMES[n % len(NAMES)],
        ask=ASKS[rng.randrange(len(ASKS))],
        rng=rng,
    )


def _transcript(plot: Plot, extra: bool, human: str) -> tuple[tuple[str, str], ...]:
    return tuple(("agent" if role == "agent" else human, text) for role, text, _ in plot.turns(extra))


def _provider_call(
    run: str,
    n: int,
    plot: Plot,
    summary: str | None,
    span: tuple[datetime, datetime],
    end_reason: str,
    *,
    extra_turns: bool = True,
) -> Expected:
    """What a provider's phone call to the demo agent must look like once stored."""
    return Expected(
        channel="phone",
        from_number=caller_number(run, n),
        to_number=AGENT_PHONE,
        caller_name=plot.name,
        summary=summary,
        started_at=span[0],
        ended_at=span[1],
        end_reason=end_reason,
        origin_url=None,
        device_type=None,
        transcript=_transcript(plot, extra_turns, "caller"),
    )


# ---------------------------------------------------------------------------------------------
# Native phone and web chat: versions ordered by updated_at; a later one carries a summary.


def _native(run: str, n: int, plot: Plot, chat: bool, agent_id: int) -> list[Version]:
    ended = plot.started_at + timedelta(seconds=plot.duration_s)
    versions = []
    for v in range(2):
        updated = ended + timedelta(seconds=5 + 60 * v)
        summary = f"{plot.name} asked about something specific (version {v + 1})." if v else None
        human = "visitor" if chat else "caller"
        turns = [
            {"role": role if role == "agent" else human, "content": text, "elapsed_s": at}
            for role, text, at in plot.turns(extra=v == 1)
        ]
        payload: dict[str, Any] = {
            "started_at": _iso(plot.started_at),
            "ended_at": _iso(ended),
            "updated_at": _iso(updated),
            "transcript": turns,
        }
        if summary:
            payload["summary"] = summary
        if chat:
            payload |= {
                "session_id": f"soak-{run}-{n}",
                "agent_id": agent_id,
                "visitor_name": plot.name,
                "visitor_ip": "203.0.113.7",
                "device_type": "desktop",
                "origin_url": chat_page(run, n),
            }
        else:
            payload |= {
                "call_id": f"soak-{run}-{n}",
                "from": caller_number(run, n),
                "to": AGENT_PHONE,
                "caller_name": plot.name,
                "end_reason": "caller_hangup",
            }
        expected = Expected(
            channel="web_chat" if chat else "phone",
            from_number=None if chat else caller_number(run, n),
            to_number=None if chat else AGENT_PHONE,
            caller_name=plot.name,
            summary=summary,
            started_at=plot.started_at,
            ended_at=ended,
            end_reason="visitor_ended" if chat else "caller_hung_up",
            origin_url=chat_page(run, n) if chat else None,
            device_type="desktop" if chat else None,
            transcript=_transcript(plot, v == 1, human),
        )
        msg_id = f"msg_{run}_{n}_{v}"
        versions.append(
            Version("web-chat" if chat else "phone", _json(payload), 1, updated, expected, msg_id)
        )
    return versions


# ---------------------------------------------------------------------------------------------
# Vapi: a status-update (acknowledged, ignored) and the end-of-call-report.


def _vapi(run: str, n: int, plot: Plot) -> list[Version]:
    ended = plot.started_at + timedelta(seconds=plot.duration_s)
    call_id = f"soak-{run}-{n}"
    call = {"id": call_id, "type": "inboundPhoneCall", "assistantId": PROVIDER_IDS["vapi"]}
    status = {"message": {"type": "status-update", "status": "ended", "call": call}}
    report_at = ended + timedelta(seconds=3)
    summary = f"{plot.name} called; Vapi's analysis {n}."
    messages = [
        {"role": "system", "message": "You are a receptionist.", "secondsFromStart": 0},
        *(
            {"role": "bot" if role == "agent" else "user", "message": text, "secondsFromStart": at}
            for role, text, at in plot.turns(extra=True)
        ),
    ]
    report = {
        "message": {
            "type": "end-of-call-report",
            "timestamp": round(report_at.timestamp() * 1000),
            "endedReason": "customer-ended-call",
            "startedAt": _iso(plot.started_at),
            "endedAt": _iso(ended),
            "call": call,
            "customer": {"number": caller_number(run, n), "name": plot.name},
            "phoneNumber": {"number": AGENT_PHONE},
            "artifact": {"messages": messages},
            "analysis": {"summary": summary, "successEvaluation": "true"},
            "cost": 0.12,
        }
    }
    expected = _provider_call(run, n, plot, summary, (plot.started_at, ended), "caller_hung_up")
    return [
        Version("vapi", _json(status), 0, ended, None, ""),
        Version("vapi", _json(report), 2, report_at, expected, ""),
    ]


# ---------------------------------------------------------------------------------------------
# Retell: call_ended (rank 1), then call_analyzed (rank 2) with the summary.


def _retell(run: str, n: int, plot: Plot) -> list[Version]:
    ended = plot.started_at + timedelta(seconds=plot.duration_s)
    versions = []
    for event, rank in (("call_ended", 1), ("call_analyzed", 2)):
        call: dict[str, Any] = {
            "call_id": f"soak-{run}-{n}",
            "call_type": "phone_call",
            "agent_id": PROVIDER_IDS["retell"],
            "from_number": caller_number(run, n),
            "to_number": AGENT_PHONE,
            "direction": "inbound",
            "start_timestamp": round(plot.started_at.timestamp() * 1000),
            "end_timestamp": round(ended.timestamp() * 1000),
            "disconnection_reason": "user_hangup",
            "retell_llm_dynamic_variables": {"customer_name": plot.name},
            "transcript_object": [
                {"role": role if role == "agent" else "user", "content": text, "words": [{"start": at}]}
                for role, text, at in plot.turns(extra=True)
            ],
        }
        summary = None
        if rank == 2:
            summary = f"Retell's analysis of call {n}: {plot.ask}"
            call["call_analysis"] = {"call_summary": summary, "user_sentiment": "Positive"}
        expected = _provider_call(run, n, plot, summary, (plot.started_at, ended), "caller_hung_up")
        versions.append(Version("retell", _json({"event": event, "call": call}), rank, ended, expected, ""))
    return versions


# ---------------------------------------------------------------------------------------------
# ElevenLabs: post_call_transcription (the caller's name comes from what they say).


def _elevenlabs(run: str, n: int, plot: Plot) -> list[Version]:
    started = plot.started_at.replace(microsecond=0)  # the body carries whole seconds
    ended = started + timedelta(seconds=plot.duration_s)
    summary = f"ElevenLabs summary {n}: {plot.ask}"
    event_ts = int(ended.timestamp()) + 4
    body = {
        "type": "post_call_transcription",
        "event_timestamp": event_ts,
        "data": {
            "conversation_id": f"soak-{run}-{n}",
            "agent_id": PROVIDER_IDS["elevenlabs"],
            "status": "done",
            "transcript": [
                {"role": "agent" if role == "agent" else "user", "message": text, "time_in_call_secs": at}
                for role, text, at in plot.turns(extra=False)
            ],
            "metadata": {
                "start_time_unix_secs": int(started.timestamp()),
                "call_duration_secs": plot.duration_s,
                "termination_reason": "end_call tool was called.",
                "phone_call": {
                    "direction": "inbound",
                    "agent_number": AGENT_PHONE,
                    "external_number": caller_number(run, n),
                    "type": "twilio",
                },
            },
            "analysis": {"transcript_summary": summary, "call_successful": "success"},
        },
    }
    # caller_name: "my name is ..." in the first caller turn
    expected = _provider_call(run, n, plot, summary, (started, ended), "agent_hung_up", extra_turns=False)
    return [Version("elevenlabs", _json(body), 2, datetime.fromtimestamp(event_ts, UTC), expected, "")]


# ---------------------------------------------------------------------------------------------
# The mix: which versions are delivered when (duplicates, replays, out of order).


Schedule = list[tuple[float, int]]


def _native_schedule(rng: random.Random) -> Schedule:
    deliveries = [(0.0, 0)]
    if rng.random() < 0.3:
        deliveries.append((rng.uniform(0.2, 3.0), 0))  # a retry of the same delivery
    if rng.random() < 0.5:
        later = rng.uniform(2.0, 10.0)
        deliveries.append((later, 1))  # the record updated: a later, richer version
        if rng.random() < 0.3:
            deliveries.append((later + rng.uniform(5.0, 40.0), 0))  # the old one replayed after it
    return deliveries


def _vapi_schedule(rng: random.Random) -> Schedule:
    deliveries = [(0.0, 0), (rng.uniform(0.1, 1.0), 1)]  # status-update (ignored), then the report
    if rng.random() < 0.4:
        deliveries.append((rng.uniform(1.0, 5.0), 1))
    if rng.random() < 0.15:
        deliveries.append((rng.uniform(20.0, 60.0), 1))  # a replay, much later
    return deliveries


def _retell_schedule(rng: random.Random) -> Schedule:
    roll = rng.random()
    if roll < 0.15:
        deliveries = [(0.0, 1), (rng.uniform(0.5, 4.0), 0)]  # analysed first, ended after it
    elif roll < 0.85:
        deliveries = [(0.0, 0), (rng.uniform(1.0, 8.0), 1)]
    else:
        deliveries = [(0.0, 0)]  # never analysed
    if rng.random() < 0.2:
        deliveries.append((rng.uniform(5.0, 30.0), deliveries[-1][1]))  # the last one replayed
    return deliveries


def _elevenlabs_schedule(rng: random.Random) -> Schedule:
    deliveries = [(0.0, 0)]
    if rng.random() < 0.4:
        deliveries.append((rng.uniform(0.5, 5.0), 0))
    if rng.random() < 0.15:
        deliveries.append((rng.uniform(20.0, 60.0), 0))
    return deliveries


def make_call(run: str, n: int, first_send_wall: float, seed: int, chat_agent_id: int) -> Call:
    """Call n: its source (in turn), versions and delivery schedule (retries, replays, reorders)."""
    source = SOURCES[n % len(SOURCES)]
    plot = _plot(n, first_send_wall, seed)
    if source in ("phone", "web-chat"):
        versions, deliveries = (
            _native(run, n, plot, source == "web-chat", chat_agent_id),
            _native_schedule(plot.rng),
        )
    elif source == "vapi":
        versions, deliveries = _vapi(run, n, plot), _vapi_schedule(plot.rng)
    elif source == "retell":
        versions, deliveries = _retell(run, n, plot), _retell_schedule(plot.rng)
    else:
        versions, deliveries = _elevenlabs(run, n, plot), _elevenlabs_schedule(plot.rng)
    marker = chat_page(run, n) if source == "web-chat" else caller_number(run, n)
    return Call(n, source, f"soak-{run}-{n}", marker, versions, deliveries)


def signed_headers(version: Version, secrets_: Secrets, vapi_hmac: bool) -> dict[str, str]:
    """The headers the version's sender would send now (a fresh timestamp for every attempt)."""
    body = version.body
    now = time.time()
    seconds = int(now)
    headers = {"content-type": "application/json"}
    if version.path in ("phone", "web-chat"):
        headers |= {
            "webhook-id": version.msg_id,
            "webhook-timestamp": str(seconds),
            "webhook-signature": sign_standard(secrets_.standard, version.msg_id, seconds, body),
        }
    elif version.path == "vapi":
        if vapi_hmac:
            ts = str(int(now))
            digest = hmac.new(secrets_.vapi_hmac.encode(), ts.encode() + b"." + body, hashlib.sha256)
            headers |= {"x-signature": digest.hexdigest(), "x-timestamp": ts}
        else:
            headers["X-Vapi-Secret"] = secrets_.vapi_token
    elif version.path == "retell":
        ms = str(int(now * 1000))
        digest = hmac.new(secrets_.retell.encode(), body + ms.encode(), hashlib.sha256)
        headers["x-retell-signature"] = f"v={ms},d={digest.hexdigest()}"
    else:
        ts = str(int(now))
        digest = hmac.new(secrets_.elevenlabs.encode(), ts.encode() + b"." + body, hashlib.sha256)
        headers["ElevenLabs-Signature"] = f"t={ts},v0={digest.hexdigest()}"
    return headers
