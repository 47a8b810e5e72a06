"""Run `st run` (schemathesis's CLI) against a live OpenAPI document, as CI would, and read the result.

The CLI runs in its own process so that its global hooks and auth registry never touch the pytest
process. It is configured by a schemathesis.toml written into the test's tmp_path, and runs there,
so nothing (cache, reports, hypothesis database) lands in the repository.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.signing import PLACEHOLDER
from tests.helpers import REPO_ROOT

# Per operation and phase: about 2 min for both services on a slow 2-core machine (README.md).
DEFAULT_EXAMPLES = 150
# Warnings that mean the harness, not the service, is wrong: credentials unused or refused, 429s.
HARNESS_WARNINGS = ("missing_auth", "unused_openapi_auth", "rate_limited", "base_url_mismatch")
REQUEST_TIMEOUT_S = 10
# A `before_id` must be one of the caller's conversations (422 otherwise, declared and documented):
# no schema can say "an id that exists", so a schema-valid random cursor may be refused with 422.
# Only that operation's positive-data check allows it; every other check stays as it is.
CURSOR_RULE = (
    "[[operations]]",
    'include-operation-id = "listConversations"',
    'checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "422", "429"]',
)
# An If-Match must name the agent's current ETag (412 otherwise, declared and documented): a
# schema-valid random tag names none. Only that operation's positive-data check allows it.
IF_MATCH_RULE = (
    "[[operations]]",
    'include-operation-id = "updateAgent"',
    'checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "412", "422", "429"]',
)
# Webhook endpoint URLs must not resolve to internal addresses (docs/webhooks.md, "Safety"), a rule
# no schema can state: a schema-valid url (https://000 is 0.0.0.0) may be refused with 422 there.
ENDPOINT_URL_RULES = tuple(
    line
    for operation in ("createWebhookEndpoint", "updateWebhookEndpoint")
    for line in ("[[operations]]", f'include-operation-id = "{operation}"', CURSOR_RULE[2])
)
# A webhook's rules that JSON Schema cannot state, written in the document's descriptions instead
# (docs/ingest.md): the end not before the start, a span that fits the stored duration, times in
# 1970-2100 after the offset is applied, and integers written as integers (1.0 is an integer to
# JSON Schema, not to our decoders). So a schema-valid body may be refused with 422; only that
# check allows it. tests/ingest/test_openapi.py checks the agreement wherever the schema can.
WEBHOOK_RULES = (
    "[checks.positive_data_acceptance]",
    'expected-statuses = ["2xx", "401", "403", "404", "422"]',
)

API_AUTH = {"bearerAuth": {"bearer": "${FUZZ_API_KEY}"}}
# The signer (tests/fuzz/signing.py) replaces the placeholder with a signature over the final bytes.
# Vapi is signed with its HMAC credential: the static X-Vapi-Secret would not depend on the body.
INGEST_AUTH = {
    scheme: {"api_key": PLACEHOLDER}
    for scheme in ("standardWebhooks", "vapiHmac", "retellSignature", "elevenlabsSignature")
}


def examples_per_operation() -> int:
    """FUZZ_EXAMPLES, or the CI-sized default (hypothesis's max_examples per operation and phase)."""
    return int(os.environ.get("FUZZ_EXAMPLES", DEFAULT_EXAMPLES))


def _toml(value: object) -> str:
    return json.dumps(value)  # a JSON string, number or list of strings is valid TOML


def config_toml(workdir: Path, auth: dict[str, dict[str, str]], rules: tuple[str, ...] = ()) -> str:
    """schemathesis.toml: every check, positive and negative data, every phase, derandomized.

    FUZZ_SEED switches from deterministic generation (the same cases on every run) to a seeded
    random run, for exploring beyond the CI cases.
    """
    seed = os.environ.get("FUZZ_SEED")
    lines = [
        *([f"seed = {int(seed)}"] if seed else []),
        "continue-on-failure = true",
        "workers = 1",
        # hypothesis's generation-speed health check trips on a loaded CI host: the harness's fault,
        # not the service's. The other health checks (schema constraints too hard to satisfy) stay.
        'suppress-health-check = ["too_slow"]',
        "[warnings]",
        f"fail-on = {_toml(list(HARNESS_WARNINGS))}",
        # Reproductions must be exact: the key and the secrets are throwaway test values.
        "[output.sanitization]",
        "enabled = false",
        "[cache]",
        "enabled = false",
        "[generation]",
        'mode = "all"',
        f"max-examples = {examples_per_operation()}",
        f"deterministic = {'false' if seed else 'true'}",
        'database = "none"',
        "[checks]",
        "enabled = true",
        "[phases.stateful]",
        "enabled = true",
        "[reports]",
        f"directory = {_toml(str(workdir / 'reports'))}",
        "[reports.junit]",
        "enabled = true",
    ]
    for scheme, values in auth.items():
        lines.append(f"[auth.openapi.{scheme}]")
        lines.extend(f"{name} = {_toml(value)}" for name, value in values.items())
    lines.extend(rules)
    return "\n".join(lines) + "\n"


@dataclass
class Calls:
    """What the hooks logged: one entry per answered request (auth probes excluded)."""

    entries: list[dict[str, object]] = field(default_factory=list)

    def refused_credentials(self) -> list[dict[str, object]]:
        """Requests refused although they carried the harness's valid credentials, and any 429."""
        return [
            entry
            for entry in self.entries
            if entry["status"] == 429
            or (entry["status"] == 401 and entry["signed"])
            or (entry["status"] in (401, 403) and entry["fuzz_key"])  # the key has read and write
        ]

    def summary(self) -> str:
        """One line per operation: how many requests, and their statuses."""
        table: dict[str, Counter[str]] = {}
        for entry in self.entries:
            table.setdefault(str(entry["operation"]), Counter())[str(entry["status"])] += 1
        return "\n".join(
            f"  {operation}: " + " ".join(f"{status}x{n}" for status, n in sorted(counts.items()))
            for operation, counts in sorted(table.items())
        )


@dataclass(frozen=True)
class Run:
    """One `st run`: its exit code, its console output and the hooks' call log."""

    returncode: int
    output: str
    calls: Calls
    elapsed_s: float


def _prepare(workdir: Path, auth: dict[str, dict[str, str]], rules: tuple[str, ...]) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "schemathesis.toml"
    config.write_text(config_toml(workdir, auth, rules))
    return config


def _collect(workdir: Path, returncode: int, output: str, elapsed_s: float) -> Run:
    (workdir / "output.txt").write_text(output)
    call_log = workdir / "calls.jsonl"
    calls = Calls(
        [json.loads(line) for line in call_log.read_text().splitlines()] if call_log.exists() else []
    )
    return Run(returncode, output, calls, elapsed_s)


async def run_schemathesis(
    schema_url: str,
    workdir: Path,
    auth: dict[str, dict[str, str]],
    env: dict[str, str] | None = None,
    rules: tuple[str, ...] = (),
) -> Run:
    """`st run schema_url --checks all`, configured by config_toml; each request is bounded."""
    config = _prepare(workdir, auth, rules)
    child_env = {
        **os.environ,
        **(env or {}),
        "PYTHONPATH": str(REPO_ROOT),
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "FUZZ_CALL_LOG": str(workdir / "calls.jsonl"),
        "COLUMNS": "160",
    }
    loop = asyncio.get_running_loop()
    started = loop.time()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
        "run", schema_url, "--checks", "all", "--request-timeout", str(REQUEST_TIMEOUT_S),
        cwd=workdir, env=child_env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    stdout, _ = await process.communicate()
    return _collect(workdir, process.returncode or 0, stdout.decode(errors="replace"), loop.time() - started)


def server_errors(log_path: Path) -> str:
    """The service's logged 500s, one line each: request path and the exception's last line."""
    lines = []
    for raw in log_path.read_text(errors="replace").splitlines() if log_path.exists() else []:
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if event.get("event") == "request_failed":
            cause = str(event.get("exception", "")).strip().splitlines()[-1:] or ["?"]
            lines.append(f"  {event.get('method')} {event.get('path')} {event.get('request_id')}: {cause[0]}")
    return "\n".join(lines) or "  (none logged)"
