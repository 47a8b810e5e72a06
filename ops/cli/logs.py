"""`ringready logs [service]`: the services' logs, which `up` writes under <data dir>/logs/."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from shared.config import Settings

SERVICES = ("api", "ingest", "worker")


def log_dir(settings: Settings) -> Path:
    """Where `up` writes one file per service."""
    return Path(settings.data_dir).resolve() / "logs"


def cmd_logs(settings: Settings, args: argparse.Namespace) -> int:
    """Hand over to `tail`: the last lines of one service's log or of all three, following with -f."""
    names = [args.service] if args.service else list(SERVICES)
    paths = [str(log_dir(settings) / f"{name}.log") for name in names]
    present = [path for path in paths if Path(path).exists()]
    if not present:
        print(f"error: no logs under {log_dir(settings)}: has `ringready up` run there?", file=sys.stderr)
        return 2
    argv = ["tail", "-n", str(args.lines), *(["-F"] if args.follow else []), *present]
    os.execvp("tail", argv)  # noqa: S606, S607 - tail from PATH is the point


def register(sub: argparse._SubParsersAction[Any]) -> None:
    """Add `logs` to `ringready`."""
    logs = sub.add_parser("logs", help="show the services' logs (written by `up`)")
    logs.add_argument("service", nargs="?", choices=SERVICES, help="one service (default: all three)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("-n", "--lines", type=int, default=50, help="lines per file (default 50)")
    logs.set_defaults(func=cmd_logs)
