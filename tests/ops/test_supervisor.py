"""The supervisor's restart rule, and `ringready up` bringing back each service after a SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ops.supervisor import (
    FIRST_BACKOFF_S,
    MAX_BACKOFF_S,
    STABLE_AFTER_S,
    Supervised,
    exit_reason,
    next_backoff,
)
from tests.helpers import REPO_ROOT, eventually
from tests.ops.cli.test_up import (
    Up,
    assert_nothing_left,
    reaper,
    server_ports,
    start_up,
    status,
    wait_for_output,
)

__all__ = ["reaper"]  # the fixture, imported so this module can use it

RESTARTED_WITHIN_S = 20.0


def test_backoff_doubles_to_the_cap_and_resets_after_a_stable_run() -> None:
    service = Supervised("worker", subprocess.Popen([sys.executable, "-c", "pass"]), started_at=0.0)
    service.process.wait()
    delays = [next_backoff(service, now=1.0) for _ in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert delays[0] == FIRST_BACKOFF_S and delays[-1] == MAX_BACKOFF_S
    service.started_at = 100.0
    assert next_backoff(service, now=100.0 + STABLE_AFTER_S - 1) == MAX_BACKOFF_S  # not stable yet
    service.started_at = 200.0
    assert next_backoff(service, now=200.0 + STABLE_AFTER_S) == FIRST_BACKOFF_S


def test_exit_reason_names_the_signal() -> None:
    assert exit_reason(-9) == "killed by SIGKILL"
    assert exit_reason(1) == "exit code 1"


def service_pid(up: Up, module: str) -> int | None:
    """The pid of `python -m <module>` started by this `up`, if one runs."""
    for pid in our_children(up):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if module.encode() in argv:
            return pid
    return None


def our_children(up: Up) -> list[int]:
    children = Path(f"/proc/{up.process.pid}/task/{up.process.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def ringready(up: Up, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RINGREADY_")}
    env |= {"RINGREADY_DATA_DIR": str(up.data_dir), "RINGREADY_INGEST_PORT": str(up.ingest_port)}
    return subprocess.run(
        [sys.executable, "-m", "ops.cli.main", *argv],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip


def answers(up: Up) -> bool:
    return all(status(f"http://127.0.0.1:{port}/readyz")[0] == 200 for port in (up.api_port, up.ingest_port))


def kill_and_wait_for_restart(up: Up, module: str) -> int:
    """SIGKILL the service, then return the pid of its successor."""
    old = service_pid(up, module)
    assert old is not None, up.output()
    os.kill(old, signal.SIGKILL)

    async def successor() -> int | None:
        assert up.process.poll() is None, up.output()
        new = service_pid(up, module)
        return new if new not in (None, old) else None

    return asyncio.run(eventually(successor, RESTARTED_WITHIN_S, lambda: f"{module} back:\n{up.output()}"))


def newest_phone_call(up: Up, key: str) -> tuple[int, str | None]:
    """(id, summary) of the newest phone conversation the API shows, (0, None) when it answers nothing."""
    url = f"http://127.0.0.1:{up.api_port}/api/v1/conversations?limit=1&channel=phone"
    code, body = status(url, {"Authorization": f"Bearer {key}"})
    conversations = json.loads(body)["conversations"] if code == 200 else []
    return (conversations[0]["id"], conversations[0]["summary"]) if conversations else (0, None)


def wait_until(check: Callable[[], bool], within_s: float, what: str) -> None:
    async def checked() -> bool:
        return check()

    asyncio.run(eventually(checked, within_s, what, every_s=0.1))


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_up_restarts_each_killed_service_and_keeps_answering(tmp_path: Path, reaper: list[Up]) -> None:
    up = start_up(tmp_path, "--demo")
    reaper.append(up)
    wait_for_output(up, re.compile("^Press Ctrl-C", re.MULTILINE), timeout=120)
    key = (up.data_dir / "demo_key").read_text().strip()
    ports = [up.api_port, up.ingest_port, *server_ports(up)]
    for module in ("services.api", "services.ingest", "services.worker"):
        kill_and_wait_for_restart(up, module)
        wait_until(lambda: answers(up), RESTARTED_WITHIN_S, f"both /readyz after killing {module}")
        assert f"{module.split('.')[1]} exited (killed by SIGKILL); restarting in 0.5s" in up.output()
    newest_id, _ = newest_phone_call(up, key)
    sent = ringready(up, "send-demo-webhook")
    assert sent.returncode == 0, sent.stderr

    # The restarted worker stores what the restarted ingest queued; the restarted API reads it.
    def stored() -> bool:
        new_id, summary = newest_phone_call(up, key)
        return new_id > newest_id and summary == "Asked about Saturday hours."

    wait_until(stored, 20, "the demo webhook stored and read")
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(40) == 0
    assert_nothing_left(up, ports)
