"""The chaos soak (bench/soak.py) as part of the suite: every accepted webhook stored exactly once.

`python -m bench.soak` runs as a child process with its own embedded Postgres and Valkey (or the
servers RINGREADY_DATABASE_URL / RINGREADY_REDIS_URL name), for RINGREADY_SOAK_MINUTES minutes
(default 2) of traffic while the controller kills and restarts the worker, the ingest and Valkey
and pauses Postgres; then it drains and reconciles. Its exit status is the verdict; the JSON
report is checked here too, so a failure names the numbers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

MINUTES = float(os.environ.get("RINGREADY_SOAK_MINUTES", "2"))
# Set-up (initdb, migrations) ~10 s, retries 30 s after the traffic, drain, reconciliation.
OVERHEAD_S = 150
TIMEOUT_S = MINUTES * 60 + OVERHEAD_S
# On a timeout the soak gets SIGTERM and this long to resume Postgres and stop what it started.
STOP_GRACE_S = 60


def _run_soak(report_path: Path) -> tuple[int, str]:
    """The soak's exit status and output; stopped (SIGTERM, then SIGKILL) if it overruns."""
    soak = subprocess.Popen(
        [sys.executable, "-m", "bench.soak", "--minutes", str(MINUTES), "--json", str(report_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = soak.communicate(timeout=TIMEOUT_S)
        return soak.returncode, output
    finally:
        if soak.poll() is None:
            soak.send_signal(signal.SIGTERM)
            try:
                soak.communicate(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                soak.kill()
                soak.communicate()


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S + STOP_GRACE_S + 30)
def test_soak_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    report_path = tmp_path / "soak.json"
    status, output = _run_soak(report_path)
    output = output[-8000:]
    assert status == 0, output
    report = json.loads(report_path.read_text())
    accounting, tally = report["accounting"], report["tally"]
    assert accounting["lost"] == 0, output
    assert accounting["duplicates"] == 0, output
    assert accounting["mismatched"] == 0, output
    assert accounting["stored"] == accounting["calls"] > 0, output
    assert accounting["visible_in_api"] == accounting["calls"], output
    assert tally["rejected"] == 0, output
    assert report["faults"], output  # the chaos happened
