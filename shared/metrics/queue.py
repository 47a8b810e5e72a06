"""The queue as Redis holds it, read at scrape time: how many jobs wait and how old the oldest is.

arq keeps a queue as a sorted set of job ids scored by the epoch millisecond they are due (the
enqueue time; later for a retry's deferral), so both are one command each. A job stays in the
set while it runs, so the depth counts jobs waiting or running.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily, Metric

from shared.redis_pipe import pack_command
from shared.web import redis_key, settings_key

READ_TIMEOUT_S = 1.0


def queue_families(queue: str, depth: int, oldest_due_ms: float | None, now_s: float) -> list[Metric]:
    """The two gauges; the age is 0 for an empty queue or one whose jobs are all deferred."""
    age_s = 0.0 if oldest_due_ms is None else max(0.0, now_s - oldest_due_ms / 1000)
    depth_family = GaugeMetricFamily(
        "ringready_queue_depth",
        "Jobs on the queue, waiting or running (read at scrape time).",
        labels=("queue",),
    )
    depth_family.add_metric((queue,), depth)
    age_family = GaugeMetricFamily(
        "ringready_queue_oldest_job_age_seconds",
        "How long the oldest due job has waited since it was due (read at scrape time).",
        labels=("queue",),
    )
    age_family.add_metric((queue,), age_s)
    return [depth_family, age_family]


async def read_queue(app: web.Application) -> Iterable[Metric]:
    """Depth and oldest job's age from the app's Redis pipe; nothing if Redis does not answer
    (an absent series is what an alert on `absent()` catches; a scrape must not fail)."""
    pipe = app[redis_key]
    queue = app[settings_key].queue_name.encode()
    depth_reply = pipe.call(pack_command(b"ZCARD", queue))
    oldest_reply = pipe.call(pack_command(b"ZRANGE", queue, b"0", b"0", b"WITHSCORES"))
    try:
        depth, oldest = await asyncio.wait_for(asyncio.gather(depth_reply, oldest_reply), READ_TIMEOUT_S)
    except Exception:  # any Redis failure: report the other series
        return []
    oldest_due_ms = float(oldest[1]) if oldest else None
    return queue_families(queue.decode(), int(depth), oldest_due_ms, time.time())
