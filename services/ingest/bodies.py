"""Reading a webhook body: at most RINGREADY_MAX_BODY_BYTES, except ElevenLabs' audio.

ElevenLabs sends `post_call_audio` (the call's MP3 as base64, ~1.3 MB a minute) to the same URL as
the transcripts and disables a webhook that keeps failing, so it must get its 200 although we
store no audio. Such a body is streamed: the first RINGREADY_MAX_BODY_BYTES are kept to read the
type, everything is fed to the signature's HMAC and then dropped, so memory stays bounded.
"""

from __future__ import annotations

import re
import time

from aiohttp import web

from services.ingest import signatures
from services.ingest.adapters.common import Ignored
from shared.config import Settings
from shared.errors import PayloadTooLarge

# ~100 minutes of audio; past this even a correctly signed audio body is 413.
AUDIO_MAX_BYTES = 128 * 1024 * 1024
CHUNK_BYTES = 64 * 1024
# The audio event's type; ElevenLabs writes it first, before `data` and its megabytes.
_AUDIO_TYPE = re.compile(rb'"type"\s*:\s*"post_call_audio"')
AUDIO_IGNORED = Ignored("elevenlabs webhook type 'post_call_audio' is not stored")


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge("Request body too large")


async def read_body(request: web.Request, source: str, settings: Settings) -> bytes | Ignored:
    """The body (client_max_size gives 413 past the limit), or Ignored for authentic large audio."""
    declared = request.content_length
    if source != "elevenlabs" or (declared is not None and declared <= settings.max_body_bytes):
        return await request.read()
    if declared is not None and declared > AUDIO_MAX_BYTES:
        raise _too_large()
    return await _read_elevenlabs(request, settings)


async def _read_elevenlabs(request: web.Request, settings: Settings) -> bytes | Ignored:
    limit = settings.max_body_bytes
    head = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        head += chunk
        if len(head) > limit:
            break
    else:
        return bytes(head)  # within the limit after all: the ordinary path
    if not _AUDIO_TYPE.search(head, 0, limit):
        raise _too_large()
    macs, presented = signatures.elevenlabs_macs(
        settings.elevenlabs_secrets, request.headers, time.time(), settings.webhook_tolerance_s
    )
    size = len(head)
    for mac in macs:
        mac.update(head)
    del head
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > AUDIO_MAX_BYTES:
            raise _too_large()
        for mac in macs:
            mac.update(chunk)
    signatures.check_elevenlabs(macs, presented)
    return AUDIO_IGNORED
