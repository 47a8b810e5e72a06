"""Operator commands: `ringready accounts|agents|keys ...` (there is no dashboard)."""

from __future__ import annotations

import argparse

import asyncpg

from ops.cli import admin_args
from ops.cli.admin_agents import register as register_agents
from ops.cli.admin_keys import register as register_keys
from ops.cli.admin_run import SubParsers, guarded, print_rows, run_admin, subcommands, usage
from shared.config import Settings
from shared.db.accounts import insert_account, list_accounts


def cmd_accounts_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create an account with a plan from settings.plans."""
    plan = args.plan or settings.default_plan
    if plan not in settings.plans:
        raise usage(f"plan must be one of {', '.join(settings.plans)}: {plan!r}")

    async def work(conn: asyncpg.Connection, _: Settings) -> int:
        account_id = await insert_account(conn, args.email, plan)
        print(f"Created account {account_id} ({args.email}, plan {plan})")
        return 0

    return run_admin(settings, work)


def cmd_accounts_list(settings: Settings, args: argparse.Namespace) -> int:
    """Every account, oldest first."""

    async def work(conn: asyncpg.Connection, _: Settings) -> int:
        print_rows([dict(row) for row in await list_accounts(conn)], args.json)
        return 0

    return run_admin(settings, work)


def _register_accounts(sub: SubParsers) -> None:
    actions = subcommands(sub, "accounts", "create and list accounts")
    create = actions.add_parser("create", help="create an account")
    create.add_argument("--email", required=True, type=admin_args.email)
    create.add_argument("--plan", help="one of the configured plans (default: RINGREADY_DEFAULT_PLAN)")
    create.set_defaults(func=guarded(cmd_accounts_create))
    listing = actions.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=guarded(cmd_accounts_list))


def register(sub: SubParsers) -> None:
    """Add the accounts, agents and keys command groups to `ringready`."""
    _register_accounts(sub)
    register_agents(sub)
    register_keys(sub)
