"""Logging: structlog for our events, the same processors for aiohttp, arq and asyncpg."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import msgspec
import structlog

from shared.config import Settings

_json_encoder = msgspec.json.Encoder()
# structlog's advice: no logger caching under test, where configuration changes between tests.
CACHE_LOGGERS = True


def _msgspec_json(obj: Any) -> bytes:
    """JSON-encode a log event with msgspec; unknown objects fall back to str()."""
    try:
        return _json_encoder.encode(obj)
    except TypeError:
        return msgspec.json.encode(obj, enc_hook=str)


def _msgspec_dumps(obj: Any, default: Any = None) -> str:
    """For the stdlib records' JSONRenderer, which wants str."""
    return _msgspec_json(obj).decode()


def _render_json_bytes(_logger: Any, _method: str, event_dict: structlog.types.EventDict) -> bytes:
    """Our events' renderer: bytes, ready for BytesLogger."""
    return _msgspec_json(event_dict)


def _encode_line(_logger: Any, _method: str, line: Any) -> bytes:
    """After ConsoleRenderer (which returns str): BytesLogger writes bytes."""
    return str(line).encode()


def _use_console(settings: Settings) -> bool:
    """JSON lines unless we're on a TTY (or told otherwise)."""
    return settings.log_format == "console" or (settings.log_format == "auto" and sys.stderr.isatty())


class UtcTimestamp:
    """`timestamp` as ISO-8601 UTC with microseconds and a Z, e.g. 2026-11-23T18:52:55.326515Z.

    What structlog's TimeStamper(fmt="iso", utc=True) writes, but the date and time are formatted
    once per second: a line per request made the stamper a few percent of the ingest's CPU.
    """

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, _logger: Any, _method: str, event_dict: structlog.types.EventDict) -> Any:
        second, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
        if second != self._second:
            self._second, self._prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        event_dict["timestamp"] = f"{self._prefix}.{nanoseconds // 1000:06d}Z"
        return event_dict


def shared_processors() -> list[structlog.types.Processor]:
    """The pre-chain every record goes through, ours and the stdlib's."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        UtcTimestamp(),
    ]


def _named_bytes_logger(name: str | None = None, *_args: Any) -> structlog.BytesLogger:
    """Our events skip stdlib logging (LogRecord, handler, formatter): one write per line.

    Same stream as the stdlib handler, which flushes after every record, so lines never mix.
    The name feeds add_logger_name, as a stdlib logger's would.
    """
    return structlog.BytesLogger(sys.stderr.buffer, name=name)


class DropArqJobChatter(logging.Filter):
    """arq logs two INFO lines per job (start and finish); our `conversation_handled` says it once.

    Retries, aborts, expiries and failures are kept. At 300 jobs/s the two lines were more than
    half of the worker's CPU (docs/BENCHMARKS.md, End to end).
    """

    PER_JOB_FORMATS = ("%6.2fs → ", "%6.2fs ← ")

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(self.PER_JOB_FORMATS))


def _drop_arq_job_chatter() -> None:
    arq_worker = logging.getLogger("arq.worker")
    if not any(isinstance(f, DropArqJobChatter) for f in arq_worker.filters):
        arq_worker.addFilter(DropArqJobChatter())


def configure_logging(settings: Settings, service: str) -> None:
    """Configure structlog and route stdlib logging through the same processors."""
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    console = _use_console(settings)
    render: list[structlog.types.Processor] = (
        [structlog.dev.ConsoleRenderer(), _encode_line] if console else [_render_json_bytes]
    )
    structlog.configure(
        processors=[
            *shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            *render,
        ],
        logger_factory=_named_bytes_logger,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=CACHE_LOGGERS,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer()
            if console
            else structlog.processors.JSONRenderer(serializer=_msgspec_dumps),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our middleware writes one line per request; aiohttp's access log would be a second.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    _drop_arq_job_chatter()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)
