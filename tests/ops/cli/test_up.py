"""`ringready up` as an operator runs it: a real supervisor process with embedded servers."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ops.cli.local_secret import WEBHOOK_SECRET_FILE, with_webhook_secret
from ops.embedded import free_port, port_open
from ops.runner import child_env
from services.ingest.signatures import whsec_key
from shared.config import Settings
from tests.helpers import REPO_ROOT, eventually

READY_WITHIN_S = 60.0
CURL = re.compile(r'^\s*curl -s -H "Authorization: Bearer (rr_live_\w+)" "(http://[^"]+)"$', re.MULTILINE)


@dataclass
class Up:
    """A running `ringready up` and where it writes."""

    process: subprocess.Popen[bytes]
    data_dir: Path
    out: Path
    api_port: int
    ingest_port: int

    def output(self) -> str:
        return self.out.read_text(errors="replace")


def start_up(tmp_path: Path, *extra: str, screen: bool = False) -> Up:
    """`python -m ops.cli.main up` with its own data dir and free ports, no server URLs.

    screen: as a newcomer's terminal shows it (the default log level, stderr and stdout in one
    stream); otherwise warnings only, and stderr apart.
    """
    data_dir, out = tmp_path / "data", tmp_path / "stdout.txt"
    api_port, ingest_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("RINGREADY_")}
    env |= {
        "RINGREADY_DATA_DIR": str(data_dir),
        "RINGREADY_API_PORT": str(api_port),
        "RINGREADY_INGEST_PORT": str(ingest_port),
    }
    if not screen:
        env["RINGREADY_LOG_LEVEL"] = "warning"
    with out.open("wb") as stdout, (tmp_path / "stderr.txt").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "ops.cli.main", "up", *extra],
            cwd=REPO_ROOT, env=env, stdout=stdout, stdin=subprocess.DEVNULL,
            stderr=subprocess.STDOUT if screen else stderr,
        )  # fmt: skip
    return Up(process, data_dir, out, api_port, ingest_port)


def status(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    try:
        with urllib.request.urlopen(request, timeout=2) as reply:  # noqa: S310
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


def wait_ready(up: Up) -> float:
    """Seconds until both /readyz answer 200; fails after READY_WITHIN_S."""
    started = time.monotonic()
    urls = [f"http://127.0.0.1:{up.api_port}/readyz", f"http://127.0.0.1:{up.ingest_port}/readyz"]

    async def ready() -> bool:
        assert up.process.poll() is None, up.output()
        return all(status(url)[0] == 200 for url in urls)

    asyncio.run(
        eventually(ready, READY_WITHIN_S, lambda: f"both /readyz to answer 200:\n{up.output()}", every_s=0.1)
    )
    return time.monotonic() - started


def wait_for_output(up: Up, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
    async def printed() -> re.Match[str] | None:
        if match := pattern.search(up.output()):
            return match
        assert up.process.poll() is None, up.output()
        return None

    return asyncio.run(
        eventually(
            printed, timeout, lambda: f"{pattern.pattern!r} to be printed:\n{up.output()}", every_s=0.1
        )
    )


def our_processes(data_dir: Path) -> list[int]:
    """Processes whose command line or environment names the data dir (pgrep -f, and more)."""
    marker = str(data_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if marker in blob:
            found.append(int(entry.name))
    return found


def server_ports(up: Up) -> list[int]:
    state = json.loads((up.data_dir / "servers.json").read_text())
    return [state["postgres_port"], state["redis_port"]]


def assert_nothing_left(up: Up, ports: list[int], timeout: float = 30.0) -> None:
    async def nothing_left() -> bool:
        assert our_processes(up.data_dir) == []
        assert [port for port in ports if _listening(port)] == []
        return True

    asyncio.run(eventually(nothing_left, timeout, "nothing left", retrying=(AssertionError,)))


def _listening(port: int) -> bool:
    return port_open("127.0.0.1", port)


@pytest.fixture
def reaper() -> Iterator[list[Up]]:
    """Whatever a failed test leaves running is killed, so one failure doesn't leak into the next."""
    started: list[Up] = []
    yield started
    for up in started:
        if up.process.poll() is None:
            up.process.kill()
            up.process.wait(10)
        for pid in our_processes(up.data_dir):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_up_demo_is_ready_serves_the_curl_line_and_stops_on_ctrl_c(tmp_path: Path, reaper: list[Up]) -> None:
    up = start_up(tmp_path, "--demo")
    reaper.append(up)
    ready_s = wait_ready(up)
    ports = [up.api_port, up.ingest_port, *server_ports(up)]
    match = wait_for_output(up, CURL, timeout=90)
    key, url = match.group(1), match.group(2)
    assert url == f"http://127.0.0.1:{up.api_port}/api/v1/conversations?limit=5"
    code, body = status(url, {"Authorization": f"Bearer {key}"})
    assert code == 200, body
    conversations = json.loads(body)["conversations"]
    assert len(conversations) == 5
    assert {c["channel"] for c in conversations} <= {"phone", "web_chat"}
    assert shlex.split(match.group(0).strip())[0] == "curl"
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(40) == 0
    assert_nothing_left(up, ports)
    assert not (up.data_dir / "servers.json").exists()
    print(f"ready after {ready_s:.1f}s")


@pytest.mark.slow
def test_up_stops_everything_on_sigterm(tmp_path: Path, reaper: list[Up]) -> None:
    up = start_up(tmp_path)
    reaper.append(up)
    wait_ready(up)
    ports = [up.api_port, up.ingest_port, *server_ports(up)]
    assert len(our_processes(up.data_dir)) >= 5  # supervisor, 3 services, 2 servers (+ backends)
    # A second `up` on the same data dir must refuse, not fight over the cluster.
    env = {key: value for key, value in os.environ.items() if not key.startswith("RINGREADY_")}
    env["RINGREADY_DATA_DIR"] = str(up.data_dir)
    argv = [sys.executable, "-m", "ops.cli.main", "up"]
    again = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, env=env)
    assert again.returncode == 2
    assert again.stderr.startswith(f"error: ringready up is already running on {up.data_dir}"), again.stderr
    up.process.send_signal(signal.SIGTERM)
    assert up.process.wait(40) == 0
    assert "stopping..." in up.output()
    assert_nothing_left(up, ports)


@pytest.mark.slow
def test_killed_supervisor_leaves_no_orphans(tmp_path: Path, reaper: list[Up]) -> None:
    up = start_up(tmp_path)
    reaper.append(up)
    wait_ready(up)
    ports = [up.api_port, up.ingest_port, *server_ports(up)]
    up.process.kill()  # no chance to clean up: the children must notice on their own
    up.process.wait(10)
    assert_nothing_left(up, ports)


def test_webhook_secret_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path))
    first = with_webhook_secret(settings)
    (secret,) = first.webhook_secrets
    assert secret.startswith("whsec_") and len(whsec_key(secret)) == 24
    path = tmp_path / WEBHOOK_SECRET_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert with_webhook_secret(settings).webhook_secrets == (secret,)
    configured = Settings(data_dir=str(tmp_path), webhook_secrets=("whsec_configured",))
    assert with_webhook_secret(configured).webhook_secrets == ("whsec_configured",)
    assert child_env(first)["RINGREADY_WEBHOOK_SECRETS"] == secret
