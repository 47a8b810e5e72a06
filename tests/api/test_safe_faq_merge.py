"""docs/api.md's safe version of the seed's "read, merge, write back the FAQ" example, run as written
against a live server while another writer gets in between its GET and its PATCH: nothing is lost."""

from __future__ import annotations

import asyncio
import textwrap
import types
from pathlib import Path
from typing import Any

import asyncpg
import requests
from aiohttp.test_utils import TestServer

from services.api.app import create_app
from shared.config import Settings
from tests.api.factories import make_agent, make_tenant
from tests.helpers import REPO_ROOT

MARKER = 'The seed\'s "read, merge, write back the FAQ" example'
ADDITIONS = [{"question": f"Question {i}?", "answer": f"Answer {i}."} for i in range(3)]
COMPETITOR = {"Parking?": "Free, behind the shop."}


def documented_snippet() -> str:
    """The python block that follows the marker in docs/api.md."""
    text = Path(REPO_ROOT, "docs", "api.md").read_text()
    after = text[text.index(MARKER) :]
    start = after.index("```python\n") + len("```python\n")
    return textwrap.dedent(after[start : after.index("```", start)])


def racing_requests(base: str, key: str, agent_id: int, statuses: list[int]) -> types.ModuleType:
    """`requests`, except that before the snippet's first PATCH another client adds to the FAQ."""
    auth = {"Authorization": f"Bearer {key}"}
    url = f"{base}/api/v1/agents/{agent_id}"

    def patch(*args: Any, **kwargs: Any) -> requests.Response:
        if not statuses:  # the other writer read the agent too, and writes first
            read = requests.get(url, headers=auth, timeout=10)
            faq = {**read.json()["faq"], **COMPETITOR}
            won = requests.patch(
                url, json={"faq": faq}, headers={**auth, "If-Match": read.headers["ETag"]}, timeout=10
            )
            assert won.status_code == 200
        reply = requests.patch(*args, timeout=10, **kwargs)
        statuses.append(reply.status_code)
        return reply

    module = types.ModuleType("requests")
    module.get = lambda *args, **kwargs: requests.get(*args, timeout=10, **kwargs)  # type: ignore[attr-defined]
    module.patch = patch  # type: ignore[attr-defined]
    return module


async def test_the_documented_merge_loses_no_concurrent_write(
    aiohttp_server: Any, settings: Settings, pg: asyncpg.Pool
) -> None:
    tenant = await make_tenant(pg, "you@example.com")
    agent_id = await make_agent(pg, tenant.account_id, "+15551234567")
    await pg.execute("""UPDATE agents SET faq = '{"Hours?": "9-5."}' WHERE id = $1""", agent_id)
    server: TestServer = await aiohttp_server(create_app(settings))
    base = str(server.make_url("")).rstrip("/")
    statuses: list[int] = []
    namespace: dict[str, Any] = {
        "BASE": base,
        "RR": {"Authorization": f"Bearer {tenant.key}"},
        "AGENT_ID": agent_id,
        "additions": ADDITIONS,
        "requests": racing_requests(base, tenant.key, agent_id, statuses),
    }
    code = compile(documented_snippet(), "<docs/api.md>", "exec")
    await asyncio.to_thread(exec, code, namespace)
    assert statuses == [412, 200]  # the first write was stale; the loop read again and merged again
    faq = await pg.fetchval("SELECT faq FROM agents WHERE id = $1", agent_id)
    assert faq == {"Hours?": "9-5.", **COMPETITOR, **{a["question"]: a["answer"] for a in ADDITIONS}}
    assert list(faq)[:2] == ["Hours?", "Parking?"]  # and in the order written
