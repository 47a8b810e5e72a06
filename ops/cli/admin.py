"""Operator commands: `ringready accounts|agents|keys ...` (there is no dashboard)."""

from __future__ import annotations

import argparse

import asyncpg

from ops.cli.admin_run import print_rows, run_admin, usage
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
