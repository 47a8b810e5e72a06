"""The ingest service's OpenAPI 3.1 document, generated once from the same Structs that decode."""

from __future__ import annotations

from typing import Any

import msgspec

from services.ingest.adapters.elevenlabs import POST_CALL_TRANSCRIPTION
from services.ingest.adapters.elevenlabs_schema import ElevenWebhook
from services.ingest.adapters.native_schema import NativePhoneCall, NativeWebChat
from services.ingest.adapters.retell import RANKS
from services.ingest.adapters.retell_schema import RetellWebhook
from services.ingest.adapters.vapi_schema import VapiWebhook
from services.ingest.replies import IgnoredReply, Queued
from shared.errors import ErrorBody
from shared.openapi import REF, json_response

_STRUCTS = (
    NativePhoneCall,
    NativeWebChat,
    VapiWebhook,
    RetellWebhook,
    ElevenWebhook,
    Queued,
    IgnoredReply,
    ErrorBody,
)
(_PHONE, _CHAT, _VAPI, _RETELL, _ELEVEN, _QUEUED, _IGNORED, _ERROR), _COMPONENTS = (
    msgspec.json.schema_components(_STRUCTS, ref_template=REF)
)

_SECURITY_SCHEMES = {
    "standardWebhooks": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "Standard Webhooks v1: space-separated `v1,<base64 HMAC-SHA256>` entries over "
        "`{webhook-id}.{webhook-timestamp}.{body}`, keyed by base64-decoded `whsec_` secret; "
        "timestamp within 5 minutes.",
    },
    "vapiSecret": {"type": "apiKey", "in": "header", "name": "X-Vapi-Secret"},
    "vapiHmac": {
        "type": "apiKey",
        "in": "header",
        "name": "x-signature",
        "description": "hex HMAC-SHA256 of `{x-timestamp}.{body}` (Vapi HMAC credential defaults).",
    },
    "retellSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "x-retell-signature",
        "description": "`v=<epoch ms>,d=<hex HMAC-SHA256(api key, body + ms)>`.",
    },
    "elevenlabsSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "ElevenLabs-Signature",
        "description": "`t=<unix s>,v0=<hex HMAC-SHA256(secret, t + '.' + body)>`.",
    },
}

_STANDARD_HEADERS = [
    {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "integer"}},
]

_ERRORS = {
    "401": "missing or bad signature, or timestamp outside tolerance",
    "413": "body over the configured limit (1 MiB by default; ElevenLabs post_call_audio: 128 MiB)",
    "422": "malformed JSON or a wrong field; the detail names the field",
    "503": "the queue is unreachable; retry later",
}


# The shared error envelope, in the words of a webhook sender (whose errors also name headers).
_COMPONENTS["ErrorBody"]["description"] = "Every 4xx/5xx: what went wrong, naming the field or header."
# Rules the Structs check in code, stated in the schema too so the document and the server agree.
_COMPONENTS["NativePhoneCall"]["anyOf"] = [
    {"required": ["to"], "properties": {"to": {"type": "string"}}},
    {"required": ["agent_id"], "properties": {"agent_id": {"type": "integer"}}},
]
_COMPONENTS["NativePhoneCall"]["description"] += " Either `to` or `agent_id` is required."
for _name in ("NativePhoneCall", "NativeWebChat"):
    _COMPONENTS[_name]["description"] += (
        " `ended_at` must not be before `started_at`; the conversation lasts at most 2147483647 s."
    )


def _absent(field: str) -> dict[str, Any]:
    return {"anyOf": [{"not": {"required": [field]}}, {"properties": {field: {"type": "null"}}}]}


def _provider(stored: dict[str, Any], is_stored: dict[str, Any], is_other: dict[str, Any]) -> dict[str, Any]:
    """A provider's body: a stored event type in full, or any other type of event (200 ignored)."""
    return {
        "anyOf": [
            {"allOf": [stored, is_stored], "title": "stored event"},
            {"allOf": [{"type": "object"}, is_other], "title": "any other event type (ignored)"},
        ]
    }


def _named(field: str, values: list[str], stored: bool) -> dict[str, Any]:
    """`field` is a string that is (or is not) one of values."""
    kind: dict[str, Any] = {"enum": values} if stored else {"type": "string", "not": {"enum": values}}
    return {"required": [field], "properties": {field: kind}}


_VAPI_TYPES, _RETELL_EVENTS, _ELEVEN_TYPES = ["end-of-call-report"], list(RANKS), [POST_CALL_TRANSCRIPTION]
_VAPI_BODY = _provider(
    _VAPI,
    {"properties": {"message": _named("type", _VAPI_TYPES, True)}},
    {
        "required": ["message"],
        "properties": {"message": {"type": "object", **_named("type", _VAPI_TYPES, False)}},
    },
)
# Retell names the event `event`, some pages `event_type`; `event` wins when both are given.
_RETELL_BODY = _provider(
    _RETELL,
    {
        "anyOf": [
            _named("event", _RETELL_EVENTS, True),
            {"allOf": [_absent("event"), _named("event_type", _RETELL_EVENTS, True)]},
        ]
    },
    {
        "anyOf": [
            _named("event", _RETELL_EVENTS, False),
            {"allOf": [_absent("event"), _named("event_type", _RETELL_EVENTS, False)]},
        ]
    },
)
_ELEVEN_BODY = _provider(_ELEVEN, _named("type", _ELEVEN_TYPES, True), _named("type", _ELEVEN_TYPES, False))


def _operation(summary: str, body: dict[str, Any], security: list[str], ignores: bool) -> dict[str, Any]:
    responses = {"202": json_response(_QUEUED, "queued for storage")}
    if ignores:
        responses["200"] = json_response(_IGNORED, "authentic event of a type that is not stored")
    responses.update({code: json_response(_ERROR, text) for code, text in _ERRORS.items()})
    return {
        "post": {
            "summary": summary,
            "parameters": _STANDARD_HEADERS if security == ["standardWebhooks"] else [],
            "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
            "responses": responses,
            "security": [{name: []} for name in security],
        }
    }


def build_openapi() -> dict[str, Any]:
    """The whole document as plain data."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "RingReady ingest",
            "version": "1",
            "description": "Webhook receivers; see docs/ingest.md.",
        },
        "paths": {
            "/webhooks/v1/phone": _operation(
                "Native finished phone call", _PHONE, ["standardWebhooks"], False
            ),
            "/webhooks/v1/web-chat": _operation(
                "Native finished web chat", _CHAT, ["standardWebhooks"], False
            ),
            "/webhooks/v1/vapi": _operation(
                "Vapi end-of-call-report", _VAPI_BODY, ["vapiSecret", "vapiHmac"], True
            ),
            "/webhooks/v1/retell": _operation(
                "Retell call_ended / call_analyzed", _RETELL_BODY, ["retellSignature"], True
            ),
            "/webhooks/v1/elevenlabs": _operation(
                "ElevenLabs post_call_transcription", _ELEVEN_BODY, ["elevenlabsSignature"], True
            ),
        },
        "components": {"schemas": _COMPONENTS, "securitySchemes": _SECURITY_SCHEMES},
    }


OPENAPI_JSON = msgspec.json.encode(build_openapi())
