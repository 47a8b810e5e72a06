"""The job id: built from the event, parsed back for dead letters, suffixed for replays.

    conv:<source>:<provider call id>:<event rank>:<body digest>[:replay:<n>]

Same event, same id: retries and concurrent copies collapse while queued. The body digest keeps a
changed (richer) delivery of the same rank from being dropped as a copy. Call ids may contain
colons, so parse_job_id counts the rank and the digest from the right.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from shared.models import QueuedEvent

JOB_ID_PREFIX = "conv"
REPLAY_MARK = ":replay:"


class JobIdParts(NamedTuple):
    """What a job id says about its event."""

    source: str
    provider_call_id: str
    replay_count: int  # 0: the event as delivered, n: its n-th replay from the dead letters


def job_id_for(event: QueuedEvent, suffix: str = "") -> str:
    """The event's job id; a suffix (replay_suffix) makes a job that is not a copy of it."""
    conv = event.conversation
    digest = hashlib.blake2b(event.raw_body, digest_size=8).hexdigest()
    return f"{JOB_ID_PREFIX}:{conv.source}:{conv.provider_call_id}:{conv.event_rank}:{digest}{suffix}"


def replay_suffix(replay_count: int) -> str:
    """The suffix of a dead letter's n-th replay: a new job, so arq's dedupe does not refuse it."""
    return f"{REPLAY_MARK}{replay_count}"


def parse_job_id(job_id: str) -> JobIdParts | None:
    """job_id_for read backwards; None for an id it did not make."""
    base, mark, count = job_id.rpartition(REPLAY_MARK)
    if not (mark and count.isascii() and count.isdigit()):
        base, count = job_id, "0"
    prefix, _, rest = base.partition(":")
    source, _, rest = rest.partition(":")
    call_rank_digest = rest.rsplit(":", 2)
    if prefix != JOB_ID_PREFIX or len(call_rank_digest) != 3:
        return None
    return JobIdParts(source, call_rank_digest[0], int(count))
