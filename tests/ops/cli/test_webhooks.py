"""`ringready webhooks disabled|enable` against the real database, and what building its parser
imports."""

from __future__ import annotations

import json
import subprocess
import sys

import asyncpg

from ops.cli.webhooks import redacted
from shared.db.accounts import insert_account
from shared.db.webhook_endpoints import insert_endpoint
from shared.webhooks.signing import generate_secret
from tests.helpers import REPO_ROOT
from tests.ops.cli.conftest import Run, one_error_line

SECRET_URL = "https://ops:hunter2@hooks.example.com/in?token=s3cret&v=1#frag"
REASON = "every delivery since 2026-06-09T14:03:00Z failed; last: HTTP 503"


async def _endpoint(pg: asyncpg.Pool, account_id: int, url: str) -> int:
    row = await insert_endpoint(pg, account_id, url=url, secret=generate_secret())
    return int(row["id"])


async def _disable(pg: asyncpg.Pool, endpoint_id: int) -> None:
    """What the worker's failure window writes."""
    await pg.execute(
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = $2,"
        " failing_since = now() - interval '5 days' WHERE id = $1",
        endpoint_id,
        REASON,
    )


def test_redacted_hides_userinfo_query_values_and_fragment() -> None:
    assert redacted(SECRET_URL) == "https://***@hooks.example.com/in?token=***&v=***"
    assert redacted("https://hooks.example.com/plain") == "https://hooks.example.com/plain"
    assert redacted("https://hooks.example.com:8443/a?") == "https://hooks.example.com:8443/a"


async def test_disabled_lists_only_disabled_endpoints_redacted(ringready: Run, pg: asyncpg.Pool) -> None:
    first = await insert_account(pg, "one@example.com", "growth")
    second = await insert_account(pg, "two@example.com", "growth")
    mine = await _endpoint(pg, first, SECRET_URL)
    await _endpoint(pg, first, "https://hooks.example.com/healthy")
    theirs = await _endpoint(pg, second, "https://other.example.com/")
    await _disable(pg, mine)
    await _disable(pg, theirs)

    everything = await ringready("webhooks", "disabled", "--json")
    assert everything.code == 0, everything
    listed = json.loads(everything.out)
    assert [(row["id"], row["account_id"]) for row in listed] == [(theirs, second), (mine, first)]
    row = listed[1]
    assert set(row) == {"id", "account_id", "url", "disabled_reason", "failing_since", "disabled_at"}
    assert row["url"] == "https://***@hooks.example.com/in?token=***&v=***"
    assert row["disabled_reason"] == REASON
    assert row["failing_since"] is not None and row["disabled_at"] is not None
    assert "hunter2" not in everything.out and "s3cret" not in everything.out

    one = await ringready("webhooks", "disabled", "--account", "one@example.com")
    assert one.code == 0, one
    lines = one.out.splitlines()
    assert lines[0].split() == ["id", "account_id", "url", "disabled_reason", "failing_since", "disabled_at"]
    assert len(lines) == 2 and lines[1].startswith(f"{mine} ") and "hunter2" not in one.out


async def test_enable_clears_the_reason_and_the_streak(ringready: Run, pg: asyncpg.Pool) -> None:
    account = await insert_account(pg, "one@example.com", "growth")
    endpoint = await _endpoint(pg, account, SECRET_URL)
    await _disable(pg, endpoint)

    result = await ringready("webhooks", "enable", str(endpoint))
    assert result.code == 0, result
    assert (
        result.out
        == f"Webhook endpoint {endpoint} is enabled (https://***@hooks.example.com/in?token=***&v=***)\n"
    )
    row = await pg.fetchrow(
        "SELECT enabled, disabled_reason, failing_since, disabled_at FROM webhook_endpoints WHERE id = $1",
        endpoint,
    )
    assert tuple(row) == (True, None, None, None)
    assert (await ringready("webhooks", "disabled")).out == "(none)\n"


async def test_bad_ids_are_one_error_line(ringready: Run, pg: asyncpg.Pool) -> None:
    assert one_error_line(await ringready("webhooks", "enable", "99")) == "error: no webhook endpoint 99"
    assert "not an id" in one_error_line(await ringready("webhooks", "enable", "x"))
    assert "no account" in one_error_line(await ringready("webhooks", "disabled", "--account", "nobody@x.io"))


def test_parsing_the_command_loads_no_driver() -> None:
    # What keeps `ringready webhooks --help` fast: asyncpg, aiohttp and redis load only when it runs.
    probe = (
        "import sys\n"
        "from ops.cli.main import build_parser\n"
        "build_parser().parse_args(['webhooks', 'disabled', '--json'])\n"
        "build_parser().parse_args(['webhooks', 'enable', '7'])\n"
        "print(sorted(m for m in ('asyncpg', 'aiohttp', 'redis', 'arq') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert out == "[]\n"
