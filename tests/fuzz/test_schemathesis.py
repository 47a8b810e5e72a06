"""schemathesis against the live API and ingest: every operation of each OpenAPI document, every
check, positive and negative data, every phase (examples, coverage, fuzzing, stateful).

Bounded by FUZZ_EXAMPLES (per operation and phase) and derandomized; see tests/fuzz/README.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.conftest import FuzzWorld
from tests.fuzz.runner import (
    API_AUTH,
    CURSOR_RULE,
    ENDPOINT_URL_RULES,
    IF_MATCH_RULE,
    INGEST_AUTH,
    WEBHOOK_RULES,
    Run,
    examples_per_operation,
    run_schemathesis,
    server_errors,
)

# The default run takes 35-80 s per service here; the margin covers a loaded CI host and larger runs.
TIMEOUT_S = 180 + 3 * examples_per_operation()


def _assert_harness_sound(run: Run) -> None:
    """The harness's own credentials were never refused: a 401 or 429 there would be our fault."""
    sent = len(run.calls.entries)
    assert sent > 0, f"schemathesis sent nothing:\n{run.output}"
    refused = run.calls.refused_credentials()
    assert not refused, f"the harness's credentials were refused: {refused[:5]}\n{run.output}"


def _verdict(run: Run, what: str, service_log: Path) -> str:
    """The report of a failing run: requests per operation, the service's 500s, schemathesis's report."""
    return (
        f"schemathesis found problems in {what} (exit {run.returncode}, {run.elapsed_s:.0f} s).\n"
        f"Requests per operation (status x count):\n{run.calls.summary()}\n"
        f"Server errors in {service_log}:\n{server_errors(service_log)}\n\n{run.output}"
    )


@pytest.mark.timeout(TIMEOUT_S)
async def test_api_conforms_to_its_openapi(api_url: str, fuzz_world: FuzzWorld, tmp_path: Path) -> None:
    schema = f"{api_url}/api/v1/openapi.json"
    run = await run_schemathesis(
        schema,
        tmp_path / "st-api",
        API_AUTH,
        {"FUZZ_API_KEY": fuzz_world.key},
        rules=CURSOR_RULE + ENDPOINT_URL_RULES + IF_MATCH_RULE,
    )
    _assert_harness_sound(run)
    exit_code = run.returncode  # not `run.returncode`: pytest -vv would print the whole call log
    assert exit_code == 0, _verdict(run, "the Developer API", tmp_path / "api.log")


@pytest.mark.timeout(TIMEOUT_S)
async def test_ingest_conforms_to_its_openapi(ingest_url: str, tmp_path: Path) -> None:
    schema = f"{ingest_url}/webhooks/v1/openapi.json"
    run = await run_schemathesis(schema, tmp_path / "st-ingest", INGEST_AUTH, rules=WEBHOOK_RULES)
    _assert_harness_sound(run)
    signed = sum(1 for entry in run.calls.entries if entry["signed"])
    assert signed > 0, f"no webhook was signed:\n{run.output}"
    exit_code = run.returncode
    assert exit_code == 0, _verdict(run, "ingest", tmp_path / "ingest.log")
