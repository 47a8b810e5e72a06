"""The API's own app and request keys (shared ones live in shared/web.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from shared.db.statement_pool import StatementPool

if TYPE_CHECKING:  # the access package imports these keys: no import back at run time
    from services.api.access.gate import ApiKeyInfo, KeyCache
    from services.api.access.limiter import RateLimiter
    from services.api.export.budget import ExportBudget

API_PREFIX = "/api/v1/"  # what auth and the rate limit cover (the public openapi.json aside)

key_cache_key: web.AppKey[KeyCache] = web.AppKey("key_cache")
limiter_key: web.AppKey[RateLimiter] = web.AppKey("rate_limiter")
export_budget_key: web.AppKey[ExportBudget] = web.AppKey("export_budget")
# The read replica's connections (services/api/reads.py); absent when no replica is configured.
read_replica_key = web.AppKey("read_replica", StatementPool)
api_key_info: web.RequestKey[ApiKeyInfo] = web.RequestKey("api_key_info")
