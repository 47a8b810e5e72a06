"""The API as `python -m services.api` runs it, with the rate limiter switched on or off for the bench.

services/api/app.py decides the production wiring; this only adds or removes the limiter's
cleanup context (as ratelimit_http.py documents it; without it auth charges nothing and no
rate-limit headers are sent) so that one run can measure both.
Usage: python -m bench.api_server --limiter on|off|app
"""

from __future__ import annotations

import argparse

from aiohttp import web

from services.api import ratelimit_http
from services.api.app import create_app
from shared.config import Settings, from_env
from shared.logging import configure_logging
from shared.serve import run_app


def limiter_wired(app: web.Application) -> bool:
    """Whether create_app already installs the limiter."""
    return ratelimit_http.ratelimit_ctx in app.cleanup_ctx


def add_limiter(app: web.Application) -> None:
    """Install the limiter the way ratelimit_http.py's docstring says app.py does."""
    app.cleanup_ctx.append(ratelimit_http.ratelimit_ctx)


def remove_limiter(app: web.Application) -> None:
    """Take the limiter out of an app whose create_app installs it."""
    app.cleanup_ctx.remove(ratelimit_http.ratelimit_ctx)


def make_app(settings: Settings, limiter: str) -> web.Application:
    """create_app, then the limiter as asked ('app' leaves create_app's choice alone)."""
    app = create_app(settings)
    if limiter == "on" and not limiter_wired(app):
        add_limiter(app)
    elif limiter == "off" and limiter_wired(app):
        remove_limiter(app)
    return app


def main() -> None:
    """Serve the API on settings.api_port with settings.api_processes processes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--limiter", choices=("on", "off", "app"), default="app")
    args = parser.parse_args()
    settings = from_env()
    configure_logging(settings, "api")
    host, port, processes = settings.api_host, settings.api_port, settings.api_processes
    run_app(lambda: make_app(settings, args.limiter), host, port, processes)


if __name__ == "__main__":
    main()
