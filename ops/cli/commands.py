"""The admin command groups' arguments, without their implementations.

Building the parser imports nothing heavy: each command names "module:function" and is imported
when it runs, so `ringready --help` and a mistyped argument answer without loading asyncpg, redis
and aiohttp (about 1 s of imports).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, TypeAlias

from ops.cli import admin_args
from shared.config import Settings

SubParsers: TypeAlias = "argparse._SubParsersAction[Any]"


def lazy(target: str) -> Any:
    """The command `module:function`, imported on first call; domain errors print `error: ...`, exit 2."""
    module, name = target.split(":")

    def run(settings: Settings, args: argparse.Namespace) -> int:
        from shared.errors import AppError  # light, but only a running command needs it

        try:
            code: int = getattr(importlib.import_module(module), name)(settings, args)
        except AppError as err:
            print(f"error: {err.detail}", file=sys.stderr)
            return 2
        return code

    return run


def subcommands(sub: SubParsers, name: str, help_text: str) -> SubParsers:
    """A command group (`ringready keys ...`) whose actions keep the exit-2 parser."""
    group = sub.add_parser(name, help=help_text)
    actions: SubParsers = group.add_subparsers(dest="action", required=True, parser_class=type(group))
    return actions


def register_accounts(sub: SubParsers) -> None:
    """`ringready accounts ...`."""
    actions = subcommands(sub, "accounts", "create and list accounts")
    create = actions.add_parser("create", help="create an account")
    create.add_argument("--email", required=True, type=admin_args.email)
    create.add_argument("--plan", help="one of the configured plans (default: RINGREADY_DEFAULT_PLAN)")
    create.set_defaults(func=lazy("ops.cli.admin:cmd_accounts_create"))
    listing = actions.add_parser("list", help="list accounts")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=lazy("ops.cli.admin:cmd_accounts_list"))


def register_agents(sub: SubParsers) -> None:
    """`ringready agents ...`."""
    actions = subcommands(sub, "agents", "create, list, suspend and unsuspend agents")
    create = actions.add_parser("create", help="create an agent")
    create.add_argument("--account", required=True, help="account id or email")
    create.add_argument("--phone", type=admin_args.phone, help="E.164 number that routes calls to it")
    create.add_argument("--business-name", required=True, type=admin_args.text)
    for option in ("--agent-name", "--goal", "--services", "--website", "--greeting"):
        create.add_argument(option, type=admin_args.text)
    create.add_argument(
        "--provider-id",
        type=admin_args.provider_id,
        action="append",
        default=[],
        help="SOURCE:ID, repeatable",
    )
    create.add_argument("--suspended", action="store_true", help="create it suspended")
    create.set_defaults(func=lazy("ops.cli.admin_agents:cmd_create"))
    listing = actions.add_parser("list", help="list agents")
    listing.add_argument("--account", help="only this account (id or email)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=lazy("ops.cli.admin_agents:cmd_list"))
    for name in ("suspend", "unsuspend"):
        action = actions.add_parser(
            name, help=f"{name} an agent (suspended agents' events are dead-lettered)"
        )
        action.add_argument("agent_id", type=admin_args.positive_id)
        action.set_defaults(func=lazy(f"ops.cli.admin_agents:cmd_{name}"))


def register_keys(sub: SubParsers) -> None:
    """`ringready keys ...`."""
    actions = subcommands(sub, "keys", "create, list, revoke and update API keys")
    create = actions.add_parser("create", help="create a key (printed once)")
    create.add_argument("--account", required=True, help="account id or email")
    create.add_argument("--scopes", required=True, type=admin_args.scopes, help="read, write or read,write")
    create.add_argument("--name", required=True, type=admin_args.text, help="what the key is for")
    create.add_argument("--rate-limit", type=admin_args.rate_limit, help="N/min override of the plan")
    create.set_defaults(func=lazy("ops.cli.admin_keys:cmd_create"))
    listing = actions.add_parser("list", help="an account's keys")
    listing.add_argument("--account", required=True, help="account id or email")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=lazy("ops.cli.admin_keys:cmd_list"))
    revoke = actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("ref", type=admin_args.key_ref, help="key id or prefix (rr_live_xxxx)")
    revoke.set_defaults(func=lazy("ops.cli.admin_keys:cmd_revoke"))
    update = actions.add_parser("update", help="change a key's rate limit")
    update.add_argument("ref", type=admin_args.key_ref, help="key id or prefix (rr_live_xxxx)")
    update.add_argument("--rate-limit", required=True, type=admin_args.rate_limit, help="N/min or none")
    update.set_defaults(func=lazy("ops.cli.admin_keys:cmd_update"))


def register_deadletters(sub: SubParsers) -> None:
    """`ringready deadletters list` and `deadletters replay <id>|--all`."""
    actions = subcommands(sub, "deadletters", "events the worker could not store")
    listing = actions.add_parser("list", help="list dead letters")
    listing.add_argument("--all", action="store_true", help="include replayed ones")
    listing.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=lazy("ops.cli.deadletters:cmd_list"))
    replay = actions.add_parser("replay", help="re-enqueue dead letters once their agent exists")
    replay.add_argument("id", nargs="?", type=int, help="the dead letter's id")
    replay.add_argument("--all", action="store_true", help="every open dead letter")
    replay.set_defaults(func=lazy("ops.cli.deadletters:cmd_replay"))


def register_webhooks(sub: SubParsers) -> None:
    """`ringready webhooks disabled [--account A] [--json]` and `webhooks enable <id>`."""
    actions = subcommands(sub, "webhooks", "webhook endpoints disabled after their failure window")
    listing = actions.add_parser("disabled", help="list disabled endpoints (URL secrets redacted)")
    listing.add_argument("--account", help="only this account (id or email)")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=lazy("ops.cli.webhooks:cmd_disabled"))
    enable = actions.add_parser("enable", help="enable an endpoint again (clears its disabled_reason)")
    enable.add_argument("endpoint_id", type=admin_args.positive_id)
    enable.set_defaults(func=lazy("ops.cli.webhooks:cmd_enable"))


def register_export(sub: SubParsers) -> None:
    """`ringready export --account A [--format] [--since] [--until] [--channel] [--agent] [--output]`."""
    export = sub.add_parser("export", help="an account's conversations as NDJSON or CSV, oldest first")
    export.add_argument("--account", required=True, help="account id or email")
    export.add_argument("--format", choices=("ndjson", "csv"), default="ndjson")
    export.add_argument(
        "--since", type=admin_args.timestamp, help="started at/after (ISO 8601; no offset: UTC)"
    )
    export.add_argument(
        "--until", type=admin_args.timestamp, help="started before (ISO 8601; no offset: UTC)"
    )
    export.add_argument("--channel", choices=("phone", "web_chat"))
    export.add_argument("--agent", type=admin_args.positive_id, help="only this agent's")
    export.add_argument("--output", "-o", default="-", help="file to write (default: stdout)")
    export.set_defaults(func=lazy("ops.cli.export:cmd_export"))


def register(sub: SubParsers) -> None:
    """Every operator command group: accounts, agents, keys, dead letters, webhook endpoints, export."""
    register_accounts(sub)
    register_agents(sub)
    register_keys(sub)
    register_deadletters(sub)
    register_webhooks(sub)
    register_export(sub)
