"""Load generators and servers for the API benchmark: wrk, pgbench, the API and a bare handler."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.ingest_bench import wait_port
from ops.embedded import pgbench_path

WRK_HELP = "wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) and run the bench again."
_WRK_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_WRK_PCT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_PGBENCH_TPS = re.compile(r"tps = ([\d.]+)")
_PARAM = re.compile(r"\$(\d+)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def require_wrk() -> str:
    """wrk's path, or exit with how to install it."""
    path = shutil.which("wrk")
    if path is None:
        sys.exit(WRK_HELP)
    return path


def wrk(url: str, seconds: float, connections: int, key: str | None) -> dict[str, Any]:
    """One bounded wrk run (one thread: the load generator must not starve a 2-core box)."""
    argv = [require_wrk(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    if key is not None:
        argv[1:1] = ["-H", f"Authorization: Bearer {key}"]
    out = subprocess.run(argv, capture_output=True, check=True, text=True, timeout=seconds + 30).stdout
    rps = _WRK_RPS.search(out)
    if rps is None:
        raise RuntimeError(f"wrk printed no rate:\n{out}")
    pct = {p: float(v) * _UNIT_MS[u] for p, v, u in _WRK_PCT.findall(out)}
    non_2xx = _WRK_NON_2XX.search(out)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": pct.get("50"),
        "p99_ms": pct.get("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }


def _pgbench_value(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def pgbench(
    database_url: str, sql: str, args: list[object], seconds: float, clients: int, workdir: Path
) -> float:
    """TPS of exactly this statement, its $n bound as prepared-statement parameters (-M prepared)."""
    script = workdir / "pgbench.sql"
    script.write_text(_PARAM.sub(r":p\1", sql) + ";\n")
    argv = [pgbench_path(), "-n", "-M", "prepared", "-j", "1", "-c", str(clients), "-T", str(int(seconds))]
    for n, value in enumerate(args, start=1):
        argv += ["-D", f"p{n}={_pgbench_value(value)}"]
    argv += ["-f", str(script), database_url]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    tps = _PGBENCH_TPS.search(result.stdout)
    if result.returncode != 0 or tps is None:
        raise RuntimeError(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    return float(tps.group(1))


def start_api(
    fixture_env: dict[str, str], port: int, processes: int, limiter: str
) -> subprocess.Popen[bytes]:
    """The real API (bench.api_server: create_app + the limiter switch), JSON logs to /dev/null."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RINGREADY_")}
    env |= fixture_env | {
        "RINGREADY_API_PORT": str(port),
        "RINGREADY_API_PROCESSES": str(processes),
        "RINGREADY_LOG_FORMAT": "json",
    }
    argv = [sys.executable, "-m", "bench.api_server", "--limiter", limiter]
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, 30)
    return process


def start_bare(port: int) -> subprocess.Popen[bytes]:
    """The HTTP ceiling: a bare aiohttp handler on uvloop returning a fixed small JSON."""
    argv = [sys.executable, "-m", "bench.api_bench", "--bare", str(port)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, 30)
    return process


def run_bare(port: int) -> None:
    """Serve the bare handler (runs in its own process)."""
    from aiohttp import web

    from shared.serve import install_uvloop

    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"conversations": [], "next_before_id": None, "limit": 50})

    install_uvloop()
    app = web.Application()
    app.router.add_get("/api/v1/conversations", handler)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the supervisor forwards it to its children) and wait."""
    process.terminate()
    process.wait(30)
