"""The API's own app and request keys (shared ones live in shared/web.py)."""

from __future__ import annotations

from aiohttp import web

from services.api.keycache import ApiKeyInfo, KeyCache

API_PREFIX = "/api/v1/"  # what auth and the rate limit cover (the public openapi.json aside)

key_cache_key = web.AppKey("key_cache", KeyCache)
api_key_info = web.RequestKey("api_key_info", ApiKeyInfo)
