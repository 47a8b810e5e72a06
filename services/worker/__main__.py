"""`python -m services.worker`: settings, logging, run the arq worker; `--check` probes health."""

from __future__ import annotations

import asyncio
import sys
import time

import redis.exceptions
import structlog
from arq.worker import async_check_health

from services.worker.app import worker_redis_settings, worker_settings
from shared.config import Settings, from_env
from shared.logging import configure_logging
from shared.metrics.exposition import serve_in_thread
from shared.queue import BatchClaimWorker
from shared.serve import install_uvloop

log = structlog.get_logger(__name__)
# RedisError: a connection lost under WATCH surfaces as WatchError, not ConnectionError.
REDIS_LOST = (redis.exceptions.RedisError, OSError)
RESTART_DELAY_S = 1.0


def check(settings: Settings) -> int:
    """Exit 0 when a worker recorded its health within health_check_interval_s, else 1."""
    return asyncio.run(async_check_health(worker_redis_settings(settings), queue_name=settings.queue_name))


def main() -> None:
    """Entry point of the worker process."""
    settings = from_env()
    configure_logging(settings, "worker")
    if "--check" in sys.argv[1:]:
        sys.exit(check(settings))
    install_uvloop()
    if settings.worker_metrics_port:
        try:
            serve_in_thread(settings.worker_metrics_host, settings.worker_metrics_port)
        except OSError as err:  # the port is taken: jobs matter more than their metrics
            log.warning("worker_metrics_unavailable", port=settings.worker_metrics_port, error=repr(err))
    while True:
        try:
            BatchClaimWorker(**worker_settings(settings)).run()
            return
        except REDIS_LOST as err:
            # Redis stayed away longer than the client's own retries: start over rather than
            # exit, so a supervisor-less worker (tests, `ringready up`) comes back by itself.
            log.warning("worker_restarting_after_redis_loss", error=repr(err))
            time.sleep(RESTART_DELAY_S)


if __name__ == "__main__":
    main()
