"""What `make up` shows: a short screen, commands that work as pasted, the same key on every run."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ops.cli.demo_webhook import post_signed
from tests.helpers import REPO_ROOT, eventually
from tests.ops.cli.test_up import Up, reaper, start_up, status, wait_for_output

__all__ = ["reaper"]  # the fixture, imported so this module can use it

MAX_LINES_BEFORE_PRESS_CTRL_C = 25
PRESS_CTRL_C = re.compile(r"^Press Ctrl-C to stop\.$", re.MULTILINE)
KEY = re.compile(r"^  Demo key: +(rr_live_\w+) ", re.MULTILINE)
SECRET = re.compile(r"^  Webhook secret: +(whsec_\S+)$", re.MULTILINE)
INGEST_DOC = REPO_ROOT / "docs" / "ingest.md"


def pasted(up: Up, line: str) -> subprocess.CompletedProcess[str]:
    """Run a printed line as an operator would paste it: from the repo, in up's environment."""
    return run(up, shlex.split(line))


def ringready(up: Up, *argv: str) -> subprocess.CompletedProcess[str]:
    """An admin command in another terminal, next to the running `up`."""
    return run(up, [sys.executable, "-m", "ops.cli.main", *argv])


def run(up: Up, argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RINGREADY_")}
    env |= {"RINGREADY_DATA_DIR": str(up.data_dir), "RINGREADY_INGEST_PORT": str(up.ingest_port)}
    return subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=30)


def printed_after(output: str, heading: str) -> str:
    """The command on the line after a heading, as printed."""
    lines = output.splitlines()
    return lines[lines.index(heading) + 1].strip()


def doc_examples() -> dict[str, bytes]:
    """docs/ingest.md's native JSON examples, by the endpoint whose section holds them."""
    text = INGEST_DOC.read_text()
    examples = {}
    for source in ("phone", "web-chat"):
        section = text[text.index(f"— `POST /webhooks/v1/{source}`") :]
        block = section[section.index("```json\n") + 8 : section.index("\n```", section.index("```json\n"))]
        examples[source] = json.dumps(json.loads(block)).encode()
    return examples


def all_conversations(up: Up, key: str, query: str) -> list[dict[str, object]]:
    """Every conversation the API lists for the query, page by page (a bounded number of pages)."""
    found: list[dict[str, object]] = []
    url = f"http://127.0.0.1:{up.api_port}/api/v1/conversations?limit=200&{query}"
    for _ in range(10):
        code, body = status(url, {"Authorization": f"Bearer {key}"})
        assert code == 200, body
        page = json.loads(body)
        found += page["conversations"]
        if page["next_before_id"] is None:
            break
        url = f"http://127.0.0.1:{up.api_port}/api/v1/conversations?limit=200&{query}&before_id={page['next_before_id']}"
    return found


def up_until_ready(tmp_path: Path, reaper: list[Up]) -> tuple[Up, str]:
    up = start_up(tmp_path, "--demo", screen=True)  # what `make up` shows, log lines included
    reaper.append(up)
    wait_for_output(up, PRESS_CTRL_C, timeout=120)
    return up, up.output()


def stop(up: Up) -> None:
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(40) == 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_up_is_short_its_commands_work_as_pasted_and_the_key_stays(tmp_path: Path, reaper: list[Up]) -> None:
    up, output = up_until_ready(tmp_path, reaper)
    before = output[: PRESS_CTRL_C.search(output).start()].splitlines()  # type: ignore[union-attr]
    assert len(before) <= MAX_LINES_BEFORE_PRESS_CTRL_C, output
    assert [line for line in before if line.startswith("{")] == [], "a log line on the screen"
    key = KEY.search(output).group(1)  # type: ignore[union-attr]
    read = printed_after(output, "Read the latest conversations:")
    send = printed_after(output, "Send a signed webhook (it shows up first in that read):")
    sent = pasted(up, send)
    assert sent.returncode == 0, sent.stderr

    async def sent_first() -> dict[str, object] | None:
        reply = await asyncio.to_thread(pasted, up, read)
        assert reply.returncode == 0, reply.stderr
        newest: dict[str, object] = json.loads(reply.stdout)["conversations"][0]
        return newest if newest["summary"] == "Asked about Saturday hours." else None

    newest = asyncio.run(eventually(sent_first, 20, "the sent webhook first in the read", every_s=0.2))
    assert newest["summary"] == "Asked about Saturday hours.", newest
    assert newest["to"] == "+15557010001"
    secret = SECRET.search(output).group(1)  # type: ignore[union-attr]
    for source, body in doc_examples().items():
        code, reply_body = post_signed(f"http://127.0.0.1:{up.ingest_port}/webhooks/v1/{source}", secret,
                                       f"msg_docs_{source}", body)  # fmt: skip
        assert code == 202, reply_body
    # A demo key as earlier versions of `up` left one behind on every run.
    stale = ringready(
        up, "keys", "create", "--account", "demo@ringready.local", "--scopes", "read", "--name", "demo"
    )
    assert stale.returncode == 0, stale.stderr
    stop(up)

    again, second_output = up_until_ready(tmp_path, reaper)
    assert KEY.search(second_output).group(1) == key  # type: ignore[union-attr]
    # docs/ingest.md's examples were stored on the demo agents, so the demo key reads them.
    calls = all_conversations(again, key, "channel=phone")
    assert any(c["started_at"] == "2025-02-12T11:06:31Z" and c["caller_name"] == "Dana" for c in calls)
    chats = all_conversations(again, key, "channel=web_chat")
    assert any(c["started_at"] == "2025-02-12T11:00:00Z" for c in chats), len(chats)
    keys = ringready(again, "keys", "list", "--account", "demo@ringready.local", "--json")
    demo_keys = [k for k in json.loads(keys.stdout) if k["name"] == "demo" and k["revoked_at"] is None]
    assert len(demo_keys) == 1 and key.startswith(demo_keys[0]["prefix"]), keys.stdout
    stop(again)
