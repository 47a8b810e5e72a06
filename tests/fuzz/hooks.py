"""schemathesis hooks, loaded by the `st run` process (SCHEMATHESIS_HOOKS=tests.fuzz.hooks).

before_call attaches the webhook signer to every ingest request. after_call appends one line per
answered request to FUZZ_CALL_LOG, so the test can prove the harness's own credentials were never
refused: no 401 on a signed webhook, no 401/403 on the fuzz key, no 429 anywhere. schemathesis's
auth probes (ignored_auth) are sent without hooks and without the signer, so they stay unsigned.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import schemathesis

from tests.fuzz.signing import SIGNATURE_HEADERS, WebhookSigner

WEBHOOKS_PREFIX = "/webhooks/v1/"
_log_lock = threading.Lock()
_signed: set[str] = set()


def _source(path: str) -> str | None:
    """The webhook source an operation's path names (None: not an ingest webhook)."""
    name = path.removeprefix(WEBHOOKS_PREFIX)
    return name if path.startswith(WEBHOOKS_PREFIX) and name in SIGNATURE_HEADERS else None


@schemathesis.hook
def before_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]
) -> None:
    """Sign ingest requests at send time, over the body bytes requests has prepared."""
    source = _source(case.path)
    if source is not None:
        kwargs["auth"] = WebhookSigner(source, lambda: _signed.add(case.id))


def _entry(case: schemathesis.Case[Any], response: schemathesis.Response) -> dict[str, object]:
    key = os.environ.get("FUZZ_API_KEY", "")
    meta = case.meta
    entry: dict[str, object] = {
        "operation": f"{case.method.upper()} {case.path}",
        "phase": meta.phase.name.value if meta is not None else None,
        "mode": meta.generation.mode.value if meta is not None else None,
        "status": response.status_code,
        "signed": case.id in _signed,
        "fuzz_key": bool(key) and response.request.headers.get("Authorization") == f"Bearer {key}",
    }
    if response.status_code in (401, 403, 429):
        entry["headers"] = dict(response.request.headers)
        entry["detail"] = response.text[:300]
    return entry


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case[Any], response: schemathesis.Response
) -> None:
    """One JSON line per answered request: operation, status, and whether our credentials rode on it."""
    line = json.dumps(_entry(case, response))
    _signed.discard(case.id)
    with _log_lock, open(os.environ["FUZZ_CALL_LOG"], "a", encoding="utf-8") as log:
        log.write(line + "\n")
