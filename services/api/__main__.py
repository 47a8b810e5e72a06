"""`python -m services.api`: settings, logging, serve."""

from __future__ import annotations

from services.api.app import create_app
from shared.config import from_env
from shared.logging import configure_logging
from shared.metrics.exposition import share_between_processes
from shared.serve import run_app


def main() -> None:
    """Entry point of the API process."""
    settings = from_env()
    configure_logging(settings, "api")
    if settings.api_processes > 1:  # each process's /metrics reports them all
        share_between_processes()
    run_app(
        lambda: create_app(settings),
        settings.api_host,
        settings.api_port,
        settings.api_processes,
        settings.shutdown_timeout_s,
    )


if __name__ == "__main__":
    main()
