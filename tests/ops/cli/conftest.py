"""Run `ringready ...` in-process against the test servers, capturing its output."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import pytest

from ops.cli.main import main
from shared.config import Settings


@dataclass
class Result:
    """Exit code and captured output of one CLI run."""

    code: int
    out: str
    err: str


Run = Callable[..., Awaitable[Result]]


@pytest.fixture
def ringready(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: Settings
) -> Iterator[Run]:
    """`await ringready("keys", "list", ...)`: main() in a thread (it runs its own event loop)."""
    monkeypatch.setenv("RINGREADY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("RINGREADY_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("RINGREADY_DATA_DIR", settings.data_dir)
    monkeypatch.setenv("RINGREADY_LOG_FORMAT", "json")
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    async def run(*argv: str) -> Result:
        capsys.readouterr()
        code = await asyncio.to_thread(main, list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run
    root.handlers[:], root.level = handlers, level  # main() configures logging for the process


def one_error_line(result: Result) -> str:
    """Bad arguments: exit 2, nothing on stdout, exactly one `error: ...` line on stderr."""
    assert result.code == 2, result
    assert result.out == ""
    lines = result.err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]
