"""The API as `python -m services.api` runs it, with the rate limiter switched on or off for the bench.

services/api/app.py decides the production wiring; `--limiter off` only removes the limiter's
cleanup context (as services/api/access/contexts.py documents it, without it auth charges nothing and no
rate-limit headers are sent) so that one run can measure both.
Usage: python -m bench.api_server --limiter on|off
"""

from __future__ import annotations

import argparse

from aiohttp import web

from services.api.access import contexts
from services.api.app import create_app
from shared.config import Settings, from_env
from shared.logging import configure_logging
from shared.serve import run_app


def make_app(settings: Settings, limiter: str) -> web.Application:
    """create_app, which installs the limiter; 'off' takes its cleanup context out again."""
    app = create_app(settings)
    if limiter == "off":
        app.cleanup_ctx.remove(contexts.limiter_ctx)  # ValueError if create_app lost it
    return app


def main() -> None:
    """Serve the API on settings.api_port with settings.api_processes processes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--limiter", choices=("on", "off"), default="on")
    args = parser.parse_args()
    settings = from_env()
    configure_logging(settings, "api")
    host, port, processes = settings.api_host, settings.api_port, settings.api_processes
    run_app(lambda: make_app(settings, args.limiter), host, port, processes)


if __name__ == "__main__":
    main()
