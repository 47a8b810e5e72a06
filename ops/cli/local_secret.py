"""The local webhook secret: generated once into the data dir when none is configured."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path

import msgspec

from shared.config import Settings

WEBHOOK_SECRET_FILE = "webhook_secret"  # noqa: S105 - a file name, not a secret


def with_webhook_secret(settings: Settings) -> Settings:
    """Without configured secrets, one kept in the data dir: ingest and the demo must agree on it."""
    if settings.webhook_secrets:
        return settings
    path = Path(settings.data_dir) / WEBHOOK_SECRET_FILE
    if not path.exists():
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        path.touch(mode=0o600)
        path.write_text(secret + "\n")
    return msgspec.structs.replace(settings, webhook_secrets=(path.read_text().strip(),))


def signing_secret(settings: Settings) -> str | None:
    """The secret ingest verifies with: the first configured one, else the kept one (never made here)."""
    if settings.webhook_secrets:
        return settings.webhook_secrets[0]
    try:
        return (Path(settings.data_dir) / WEBHOOK_SECRET_FILE).read_text().strip() or None
    except OSError:
        return None
