"""One signer per webhook path, so a test can send any body, correctly signed, to any source."""

from __future__ import annotations

from collections.abc import Callable

from tests.ingest.webhooks import elevenlabs_headers, retell_headers, standard_headers, vapi_hmac_headers

SIGNERS: dict[str, Callable[[bytes], dict[str, str]]] = {
    "/webhooks/v1/phone": standard_headers,
    "/webhooks/v1/web-chat": standard_headers,
    "/webhooks/v1/vapi": vapi_hmac_headers,
    "/webhooks/v1/retell": retell_headers,
    "/webhooks/v1/elevenlabs": elevenlabs_headers,
}
PATHS = tuple(SIGNERS)


def signed(path: str, body: bytes) -> dict[str, str]:
    """The headers the sender of `path` would put on `body`."""
    return SIGNERS[path](body)
