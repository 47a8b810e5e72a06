"""Logging: structlog for our events, the same processors for aiohttp, arq and asyncpg."""

from __future__ import annotations

import logging
import sys
from typing import Any

import msgspec
import structlog

from shared.config import Settings

_json_encoder = msgspec.json.Encoder()
# structlog's advice: no logger caching under test, where configuration changes between tests.
CACHE_LOGGERS = True


def _msgspec_dumps(obj: Any, default: Any = None) -> str:
    """JSON-encode a log event with msgspec; unknown objects fall back to str()."""
    try:
        return _json_encoder.encode(obj).decode()
    except TypeError:
        return msgspec.json.encode(obj, enc_hook=str).decode()


def _renderer(settings: Settings) -> structlog.types.Processor:
    """JSON lines unless we're on a TTY (or told otherwise)."""
    use_console = settings.log_format == "console" or (settings.log_format == "auto" and sys.stderr.isatty())
    if use_console:
        return structlog.dev.ConsoleRenderer()
    return structlog.processors.JSONRenderer(serializer=_msgspec_dumps)


def shared_processors() -> list[structlog.types.Processor]:
    """The pre-chain every record goes through, ours and the stdlib's."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(settings: Settings, service: str) -> None:
    """Configure structlog and route stdlib logging through the same processors."""
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    structlog.configure(
        processors=[
            *shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=CACHE_LOGGERS,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _renderer(settings),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our middleware writes one line per request; aiohttp's access log would be a second.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
