"""`ringready agents create|list|suspend|unsuspend`."""

from __future__ import annotations

import argparse

import asyncpg

from ops.cli.admin_run import (
    Command,
    print_rows,
    resolve_account,
    run_admin,
)
from shared.config import Settings
from shared.db.agent_admin import set_suspended
from shared.db.agents import add_provider_id, admin_list_agents, insert_agent

# Optional flags passed straight to insert_agent when given (its own defaults apply otherwise).
_OPTIONAL = {
    "agent_name": "agent_name",
    "goal": "agent_goal",
    "services": "business_services",
    "website": "business_website",
    "greeting": "greeting_message",
}


def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create an agent with its routes, all or nothing."""

    async def work(conn: asyncpg.Connection, live: Settings) -> int:
        async with conn.transaction():
            account = await resolve_account(conn, args.account)
            extra = {column: getattr(args, flag) for flag, column in _OPTIONAL.items() if getattr(args, flag)}
            agent_id = await insert_agent(
                conn,
                account_id=account["id"],
                phone_number=args.phone,
                business_name=args.business_name,
                **extra,
            )
            for source, assistant_id in args.provider_id:
                await add_provider_id(conn, agent_id, source, assistant_id)
            if args.suspended:
                await set_suspended(conn, agent_id, True)
        state = " (suspended)" if args.suspended else ""
        print(f"Created agent {agent_id} for account {account['id']}: {args.business_name}, "
              f"phone {args.phone or '-'}{state}")  # fmt: skip
        return 0

    return run_admin(settings, work)


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    """Agents, optionally of one account."""

    async def work(conn: asyncpg.Connection, live: Settings) -> int:
        account_id = (await resolve_account(conn, args.account))["id"] if args.account else None
        rows = await admin_list_agents(conn, account_id)
        print_rows([{**dict(row), "provider_ids": list(row["provider_ids"])} for row in rows], args.json)
        return 0

    return run_admin(settings, work)


def _suspension(suspended: bool) -> Command:
    def command(settings: Settings, args: argparse.Namespace) -> int:
        async def work(conn: asyncpg.Connection, live: Settings) -> int:
            row = await set_suspended(conn, args.agent_id, suspended)
            state = "suspended" if row["is_suspended"] else "active"
            print(f"Agent {row['id']} ({row['business_name']}) is now {state}")
            return 0

        return run_admin(settings, work)

    return command


cmd_suspend = _suspension(True)
cmd_unsuspend = _suspension(False)
