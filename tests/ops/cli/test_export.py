"""`ringready export`: the API's export bytes for bytes, to a file or stdout, with a progress bar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import msgspec
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from services.api.app import create_app
from shared.config import Settings
from tests.api.factories import make_agent, make_conversation, make_tenant
from tests.ops.cli.conftest import Run, one_error_line

T0 = datetime(2026, 6, 9, 14, 3, tzinfo=UTC)


async def _account(pg: asyncpg.Pool) -> tuple[int, str]:
    tenant = await make_tenant(pg, "export@example.com")
    other = await make_tenant(pg, "other@example.com")
    agent = await make_agent(pg, tenant.account_id, "+15551230000")
    other_agent = await make_agent(pg, other.account_id, "+15551230001")
    turns = [{"role": "caller", "content": "=1+1", "elapsed_s": 0.5, "raw_role": "user"}]
    for n in range(3):
        started = T0 + timedelta(minutes=n)
        await make_conversation(
            pg, tenant.account_id, agent, started_at=started, ended_at=started + timedelta(minutes=1),
            call_id=f"call-{n}", caller_name=f"=caller {n}", transcript=turns,
        )  # fmt: skip
    await make_conversation(
        pg, other.account_id, other_agent, started_at=T0, ended_at=T0 + timedelta(minutes=1), call_id="theirs"
    )
    return tenant.account_id, tenant.key


async def test_the_file_is_the_apis_export(
    ringready: Run, pg: asyncpg.Pool, aiohttp_client: AiohttpClient, settings: Settings, tmp_path: Path
) -> None:
    account_id, key = await _account(pg)
    client: TestClient = await aiohttp_client(create_app(settings))
    for export_format in ("ndjson", "csv"):
        output = tmp_path / f"export.{export_format}"
        result = await ringready(
            "export", "--account", "export@example.com", "--format", export_format, "-o", str(output)
        )
        assert result.code == 0, result
        reply = await client.get(
            "/api/v1/conversations/export",
            params={"format": export_format},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert output.read_bytes() == await reply.read()
        assert result.err.endswith(f"account {account_id}: [{'#' * 30}] 3/3 conversations\n")
        assert not output.with_name(output.name + ".part").exists()
    assert len(output.read_text().splitlines()) == 4  # the header and this account's three


async def test_to_stdout_with_filters(ringready: Run, pg: asyncpg.Pool) -> None:
    account_id, _ = await _account(pg)
    result = await ringready(
        "export",
        "--account",
        str(account_id),
        "--since",
        "2026-06-09T14:04:00",
        "--until",
        "2026-06-09T14:05:00Z",
    )
    assert result.code == 0, result
    (line,) = result.out.splitlines()
    exported = msgspec.json.decode(line)
    assert (exported["caller_name"], exported["started_at"]) == ("=caller 1", "2026-06-09T14:04:00Z")  # as is
    assert result.err.endswith("1/1 conversations\n")


async def test_an_unknown_account_is_one_error_line(ringready: Run, tmp_path: Path) -> None:
    output = tmp_path / "never.ndjson"
    assert one_error_line(
        await ringready("export", "--account", "nobody@example.com", "-o", str(output))
    ) == ("error: no account nobody@example.com")
    assert not output.exists() and not output.with_name("never.ndjson.part").exists()
    assert "not an ISO 8601 timestamp" in (await ringready("export", "--account", "1", "--since", "soon")).err
