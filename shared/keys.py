"""API key format: rr_live_ + 40 base62 characters; stored as sha256 with a display prefix."""

from __future__ import annotations

import hashlib
import re
import secrets
import string

KEY_PREFIX = "rr_live_"
RANDOM_LENGTH = 40  # 40 base62 chars ≈ 238 bits
DISPLAY_CHARS = 4  # rr_live_8f3a
SCOPES = ("read", "write")
_ALPHABET = string.ascii_letters + string.digits
KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}[A-Za-z0-9]{{32,64}}$")


def generate_key() -> str:
    """A new secret key; shown to the operator once, never stored."""
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_LENGTH))


def hash_key(key: str) -> bytes:
    """What the database stores and looks keys up by."""
    return hashlib.sha256(key.encode()).digest()


def display_prefix(key: str) -> str:
    """The part shown in listings and whoami, e.g. rr_live_8f3a."""
    return key[: len(KEY_PREFIX) + DISPLAY_CHARS]


def looks_like_key(value: str) -> bool:
    """Cheap shape check before any lookup."""
    return bool(KEY_PATTERN.match(value))


# Published (with the key id as message) whenever a key is revoked or changed, so every API
# process drops it from its cache at once.
KEYS_CHANGED_CHANNEL = "ringready:keys:changed"
