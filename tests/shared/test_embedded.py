"""The embedded servers' set-up says why it failed."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import embedded


def test_a_failed_initdb_reports_its_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # /bin/sh refuses initdb's first option and says so on stderr, as a failing initdb would.
    monkeypatch.setattr(embedded, "_pg_bin", lambda name: "/bin/sh")
    with pytest.raises(RuntimeError, match=r"initdb of .* failed with exit status 2: .*-D"):
        embedded.postgres_server(tmp_path)
