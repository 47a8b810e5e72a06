"""`python -m services.ingest`: settings, logging, serve."""

from __future__ import annotations

from services.ingest.app import create_app
from shared.config import from_env
from shared.logging import configure_logging
from shared.metrics.exposition import share_between_processes
from shared.serve import run_app


def main() -> None:
    """Entry point of the ingest process."""
    settings = from_env()
    configure_logging(settings, "ingest")
    if settings.ingest_processes > 1:  # each process's /metrics reports them all
        share_between_processes()
    run_app(
        lambda: create_app(settings),
        settings.ingest_host,
        settings.ingest_port,
        settings.ingest_processes,
        settings.shutdown_timeout_s,
    )


if __name__ == "__main__":
    main()
