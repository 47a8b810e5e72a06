"""One HTTP attempt at one delivery: signed, bounded in time and in what is read back."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
from yarl import URL

from shared.config import Settings
from shared.db.webhook_deliveries import Attempt
from shared.webhooks.addresses import BlockedAddress, PublicOnlyResolver, check_url
from shared.webhooks.schedule import parse_retry_after
from shared.webhooks.signing import webhook_headers

TIMEOUT_S = 15.0
RESPONSE_BODY_BYTES = 1024  # kept in the log; the rest of a response is never read
USER_AGENT = "RingReady-Webhooks/1"
RETRY_AFTER_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Sent:
    """An attempt, when it ended (the answer was in, or the error), and, for a 429/503, the
    receiver's Retry-After in seconds."""

    attempt: Attempt
    ended_at: datetime
    retry_after_s: float | None


def client_session(settings: Settings) -> aiohttp.ClientSession:
    """The worker's HTTP client: every connection goes through the public-address resolver."""
    connector = aiohttp.TCPConnector(
        resolver=PublicOnlyResolver(allow_loopback=settings.webhook_allow_loopback),
        limit=0,  # the per-endpoint cap and worker_max_jobs bound concurrency
        use_dns_cache=False,  # resolve (and check) on every connect: DNS can change
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
        headers={"user-agent": USER_AGENT},
        auto_decompress=False,
    )


@functools.lru_cache(maxsize=4096)
def _checked_url(url: str, allow_http: bool, allow_loopback: bool) -> URL:
    """check_url, remembered: it only parses (no DNS), and was a tenth of a delivery's CPU. The
    addresses a name resolves to are still checked on every connect (PublicOnlyResolver)."""
    return check_url(url, allow_http=allow_http, allow_loopback=allow_loopback)


async def send(session: aiohttp.ClientSession, settings: Settings, delivery: asyncpg.Record) -> Sent:
    """POST the event's exact stored body to the endpoint; any outcome becomes an Attempt."""
    attempted_at = datetime.now(UTC)
    started = time.perf_counter()
    body: bytes = delivery["body"].encode()
    secrets = [s for s in (delivery["secret"], delivery["previous_secret"]) if s]
    headers = webhook_headers(secrets, delivery["event_id"], int(time.time()), body)
    status: int | None = None
    text, error, retry_after = "", None, None
    try:
        url = _checked_url(delivery["url"], settings.webhook_allow_http, settings.webhook_allow_loopback)
        async with session.post(url, data=body, headers=headers, allow_redirects=False) as response:
            status = response.status
            raw = await response.content.read(RESPONSE_BODY_BYTES)
            text = raw.decode("utf-8", errors="replace")
            if status in RETRY_AFTER_STATUSES:
                retry_after = parse_retry_after(response.headers.get("retry-after"))
    except BlockedAddress as err:
        error = f"blocked: {err}"
    except aiohttp.ClientConnectorError as err:
        # The resolver's refusal arrives wrapped in the connector's error.
        cause = err.__cause__ or err.os_error
        error = f"blocked: {cause}" if isinstance(cause, BlockedAddress) else f"connect: {err}"
    except TimeoutError:
        error = f"timed out after {TIMEOUT_S:g} s"
    except (aiohttp.ClientError, OSError, ValueError) as err:
        error = f"{type(err).__name__}: {err}"
    elapsed_s = time.perf_counter() - started
    attempt = Attempt(attempted_at, status, round(elapsed_s * 1000), text, error)
    return Sent(attempt, attempted_at + timedelta(seconds=elapsed_s), retry_after)
