from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime

import pytest
import structlog

from shared.config import Settings
from shared.logging import UtcTimestamp, configure_logging


@pytest.fixture(autouse=True)
def restore_logging():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def test_json_lines_for_ours_and_for_stdlib_loggers(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"), "api")
    structlog.get_logger("x").info("conversation_stored", conversation_id=7)
    logging.getLogger("arq.worker").warning("job %s failed", "j1")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["event"] == "conversation_stored"
    assert lines[0]["conversation_id"] == 7
    assert lines[0]["service"] == "api" and lines[0]["level"] == "info"
    assert lines[0]["timestamp"].endswith("Z")
    assert lines[1] == {**lines[1], "event": "job j1 failed", "logger": "arq.worker", "level": "warning"}
    assert lines[1]["service"] == "api"


def test_console_format_is_not_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="console"), "api")
    structlog.get_logger("x").info("hello_console")
    err = capsys.readouterr().err
    assert "hello_console" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err.splitlines()[0])


def test_level_filters_debug(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json", log_level="warning"), "api")
    structlog.get_logger("x").info("dropped")
    structlog.get_logger("x").warning("kept")
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == ["kept"]


def test_our_events_skip_stdlib_logging_but_keep_the_logger_name(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"), "ingest")
    seen: list[str] = []

    def spy(record: logging.LogRecord) -> bool:
        seen.append(record.name)
        return True

    logging.getLogger().handlers[0].addFilter(spy)
    structlog.get_logger("request").info("request_finished", status=202)
    logging.getLogger("aiohttp.server").error("boom")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert seen == ["aiohttp.server"]  # only the stdlib record went through the handler
    assert [(line["event"], line["logger"], line["service"]) for line in lines] == [
        ("request_finished", "request", "ingest"),
        ("boom", "aiohttp.server", "ingest"),
    ]


def test_exceptions_are_rendered_in_the_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(Settings(log_format="json"), "api")
    try:
        raise ValueError("bad value")
    except ValueError:
        structlog.get_logger("x").exception("request_failed")
    line = json.loads(capsys.readouterr().err)
    assert line["event"] == "request_failed" and line["level"] == "error"
    assert "ValueError: bad value" in line["exception"]


def test_arq_per_job_lines_are_dropped_but_retries_and_failures_kept(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging(Settings(log_format="json", log_level="info"), "worker")
    configure_logging(Settings(log_format="json", log_level="info"), "worker")  # idempotent
    arq = logging.getLogger("arq.worker")
    arq.info("%6.2fs → %s(%s)%s", 0.01, "job1:store_conversation", "…", "")
    arq.info("%6.2fs ← %s ● %s", 0.02, "job1:store_conversation", "")
    arq.info("%6.2fs ↻ %s retrying job in %0.2fs", 0.03, "job2:store_conversation", 5.0)
    arq.warning("%6.2fs ! %s max retries %d exceeded", 0.04, "job3:store_conversation", 5)
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == [
        "  0.03s ↻ job2:store_conversation retrying job in 5.00s",
        "  0.04s ! job3:store_conversation max retries 5 exceeded",
    ]


def test_timestamps_are_utc_with_microseconds_and_follow_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    stamp = UtcTimestamp()
    second = 1_795_459_992_000_000_000
    clock = iter([second + 250_000_000, second + 999_999_999, second + 1_000_001_000, 500_000_000])
    monkeypatch.setattr(time, "time_ns", lambda: next(clock))
    stamps = [stamp(None, "info", {})["timestamp"] for _ in range(4)]
    assert stamps == [
        "2026-11-23T18:53:12.250000Z",
        "2026-11-23T18:53:12.999999Z",
        "2026-11-23T18:53:13.000001Z",  # a new second: the cached date and time moved on
        "1970-01-01T00:00:00.500000Z",
    ]
    assert datetime.fromisoformat(stamps[2]) == datetime(2026, 11, 23, 18, 53, 13, 1, tzinfo=UTC)
