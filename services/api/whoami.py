"""GET /api/v1/whoami."""

from __future__ import annotations

from typing import Literal, cast

from aiohttp import web

from services.api.access.gate import limit_for_key
from services.api.access.limiter import PERIOD_S
from services.api.schemas import RateLimit, WhoAmI
from services.api.typedefs import api_key_info
from shared.web import json_response, settings_key


async def whoami(request: web.Request) -> web.Response:
    """Who the key belongs to, its prefix, scopes and request budget."""
    info = request[api_key_info]
    scopes = cast(list[Literal["read", "write"]], sorted(info.scopes))
    limit = limit_for_key(request.app[settings_key], info)
    return json_response(
        WhoAmI(
            user_id=info.account_id,
            email=info.email,
            auth_method="api_key",
            api_key_prefix=info.prefix,
            scopes=scopes,
            rate_limit=RateLimit(limit=limit, window_seconds=PERIOD_S),
        )
    )
