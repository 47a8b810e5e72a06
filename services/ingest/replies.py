"""Response bodies of the ingest endpoints (also the OpenAPI schemas and what tests decode); every
error is shared.errors.ErrorBody."""

from __future__ import annotations

from typing import Literal

import msgspec


class Queued(msgspec.Struct, frozen=True, kw_only=True):
    """202: the event is on the durable queue; a repeated delivery gets the same job id."""

    status: Literal["queued"] = "queued"
    job_id: str


class IgnoredReply(msgspec.Struct, frozen=True, kw_only=True):
    """200: a valid, authentic event of a type we do not store (nothing is queued)."""

    status: Literal["ignored"] = "ignored"
    reason: str
