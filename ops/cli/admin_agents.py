"""`ringready agents create|list|suspend|unsuspend`."""

from __future__ import annotations

import argparse

import asyncpg

from ops.cli import admin_args
from ops.cli.admin_run import (
    Command,
    SubParsers,
    guarded,
    print_rows,
    resolve_account,
    run_admin,
    subcommands,
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


def register(sub: SubParsers) -> None:
    """`ringready agents ...`."""
    actions = subcommands(sub, "agents", "create, list, suspend and unsuspend agents")
    create = actions.add_parser("create", help="create an agent")
    create.add_argument("--account", required=True, help="account id or email")
    create.add_argument("--phone", type=admin_args.phone, help="E.164 number that routes calls to it")
    create.add_argument("--business-name", required=True, type=admin_args.text)
    create.add_argument("--agent-name", type=admin_args.text)
    create.add_argument("--goal", type=admin_args.text)
    create.add_argument("--services", type=admin_args.text)
    create.add_argument("--website", type=admin_args.text)
    create.add_argument("--greeting", type=admin_args.text)
    create.add_argument(
        "--provider-id",
        type=admin_args.provider_id,
        action="append",
        default=[],
        help="SOURCE:ID, repeatable",
    )
    create.add_argument("--suspended", action="store_true", help="create it suspended")
    create.set_defaults(func=guarded(cmd_create))
    listing = actions.add_parser("list", help="list agents")
    listing.add_argument("--account", help="only this account (id or email)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=guarded(cmd_list))
    for name, suspended in (("suspend", True), ("unsuspend", False)):
        action = actions.add_parser(
            name, help=f"{name} an agent (suspended agents' events are dead-lettered)"
        )
        action.add_argument("agent_id", type=admin_args.positive_id)
        action.set_defaults(func=guarded(_suspension(suspended)))
