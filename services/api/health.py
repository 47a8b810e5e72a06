"""The API's /healthz and /readyz: the shared ones, and /readyz also reports the read replica.

The replica is reported, never required: while it is down the API's reads go to the primary
(services/api/reads.py), so taking every API pod out of service for it would turn a slower
primary into an outage. Alert on its state and lag instead (docs/operations.md, "Read replicas").
"""

from __future__ import annotations

import asyncio

import msgspec
from aiohttp import web

from services.api.typedefs import read_replica_key
from shared.web import READY_TIMEOUT_S, healthz, json_response, required_deps_key
from shared.web import readyz as shared_readyz

REPLICA = "postgres_replica"


async def _replica_state(app: web.Application) -> str:
    try:
        await asyncio.wait_for(app[read_replica_key].fetchval("SELECT 1"), READY_TIMEOUT_S)
    except Exception:  # any failure means "down", as for the other dependencies
        return "down"
    return "ok"


async def readyz(request: web.Request) -> web.Response:
    """Postgres and Redis answer (503 otherwise), plus `postgres_replica` when one is configured."""
    response = await shared_readyz(request)
    if read_replica_key not in request.app or not isinstance(response.body, bytes):
        return response
    report = msgspec.json.decode(response.body)
    report[REPLICA] = await _replica_state(request.app)
    return json_response(report, status=response.status)


def add_api_health_routes(app: web.Application) -> None:
    """Register /healthz and /readyz; Postgres (the primary) and Redis are required."""
    app[required_deps_key] = ("postgres", "redis")
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
