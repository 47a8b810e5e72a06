"""Container health check for the HTTP services: `python -m ops.cli.probe URL`.

Exit 0 when the URL answers 200, 1 otherwise; the image needs no curl or shell. (The worker
has its own: `python -m services.worker --check`.)
"""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Sequence


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """The URL answers 200 (the services' /readyz)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:  # noqa: S310 - operator-given URL
            return bool(reply.status == 200)
    except OSError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Probe one URL; prints why when unhealthy."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0].startswith(("http://", "https://")):
        print("usage: python -m ops.cli.probe URL", file=sys.stderr)
        return 2
    if not http_ok(args[0]):
        print(f"unhealthy: {args[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
