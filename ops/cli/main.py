"""`ringready`: run a service, migrate, bring everything up and read its logs, or administer the accounts."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ops.cli import commands, demo_webhook, logs
from ops.cli.commands import lazy
from ops.runner import SERVICE_MODULES
from shared.config import ConfigError, Settings, from_env

Command = Callable[[Settings, argparse.Namespace], int]


class UsageError(Exception):
    """Bad arguments: one line on stderr and exit code 2, nothing written."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def cmd_service(settings: Settings, args: argparse.Namespace) -> int:
    """Replace this process with one service (what a container runs)."""
    module = SERVICE_MODULES[args.command]
    os.execv(sys.executable, [sys.executable, "-m", module])  # noqa: S606 - our own module


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    """Embedded servers (if needed), migrations, and all three services until Ctrl-C."""
    from ops.cli.up import run_up  # heavy (asyncpg, aiohttp): other commands skip it

    return run_up(settings, demo=args.demo)


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand; nothing heavy is imported until one runs (ops.cli.commands.lazy)."""
    parser = _Parser(prog="ringready", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(
        func=lazy("ops.cli.migrate:cmd_migrate")
    )
    for name in SERVICE_MODULES:
        sub.add_parser(name, help=f"run the {name} service").set_defaults(func=cmd_service)
    up = sub.add_parser("up", help="run the whole system locally")
    up.add_argument("--demo", action="store_true", help="also create demo data and print a curl line")
    up.set_defaults(func=cmd_up)
    logs.register(sub)
    demo_webhook.register(sub)
    commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, configure, dispatch; exit 2 on bad arguments or configuration."""
    try:
        args = build_parser().parse_args(argv)
        settings = from_env()
    except (UsageError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from shared.logging import configure_logging  # structlog: only for a command that runs

    configure_logging(settings, "cli")
    func: Command = args.func
    try:
        return func(settings, args)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
