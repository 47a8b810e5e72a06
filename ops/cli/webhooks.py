"""`ringready webhooks disabled|enable`: the endpoints we disabled after their failure window, and
turning one back on (docs/webhooks.md, "Disabling")."""

from __future__ import annotations

import argparse
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from ops.cli.admin_run import print_rows, resolve_account, run_admin
from shared.config import Settings
from shared.db.webhook_endpoints import enable_endpoint, list_disabled
from shared.errors import NotFound

HIDDEN = "***"


def redacted(url: str) -> str:
    """The URL without what may be a credential: its userinfo and its query's values (the names stay,
    so an operator can still tell `?token=` from `?v=`), and its fragment."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{HIDDEN}@{host}" if "@" in parts.netloc else host
    names = [name for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    query = urlencode([(name, HIDDEN) for name in names], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def cmd_disabled(settings: Settings, args: argparse.Namespace) -> int:
    """Disabled endpoints, newest disable first, optionally of one account."""

    async def work(conn: asyncpg.Connection, _: Settings) -> int:
        account_id = (await resolve_account(conn, args.account))["id"] if args.account else None
        rows = [{**dict(row), "url": redacted(row["url"])} for row in await list_disabled(conn, account_id)]
        print_rows(rows, args.json)
        return 0

    return run_admin(settings, work)


def cmd_enable(settings: Settings, args: argparse.Namespace) -> int:
    """Enable an endpoint again, as the API's PATCH {"enabled": true}."""

    async def work(conn: asyncpg.Connection, _: Settings) -> int:
        row = await enable_endpoint(conn, args.endpoint_id)
        if row is None:
            raise NotFound(f"no webhook endpoint {args.endpoint_id}")
        print(f"Webhook endpoint {row['id']} is enabled ({redacted(row['url'])})")
        return 0

    return run_admin(settings, work)
