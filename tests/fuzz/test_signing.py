"""The fuzz signer: what it signs, ingest's own verifiers accept; what it leaves alone, they refuse."""

from __future__ import annotations

import time

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from services.ingest.sources import SOURCES
from shared.config import Settings
from shared.errors import Unauthenticated
from tests.fuzz.signing import PLACEHOLDER, SIGNATURE_HEADERS, WebhookSigner, sign

BODY = '{"call_id": "c-1", "caller_name": "Zoë"}'.encode()


def _headers(source: str, **extra: str) -> CaseInsensitiveDict[str]:
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict({SIGNATURE_HEADERS[source]: PLACEHOLDER})
    if source in ("phone", "web-chat"):
        headers.update({"webhook-id": "msg_1", "webhook-timestamp": "-42"})
    headers.update(extra)
    return headers


@pytest.mark.parametrize("source", sorted(SIGNATURE_HEADERS))
def test_signed_requests_pass_ingest_verification(source: str, settings: Settings) -> None:
    headers = _headers(source)
    assert sign(source, headers, BODY, time.time())
    SOURCES[source].verify(settings, headers, BODY, time.time())


@pytest.mark.parametrize("source", sorted(SIGNATURE_HEADERS))
def test_the_signature_covers_the_prepared_body(source: str, settings: Settings) -> None:
    signed: list[bool] = []
    request = requests.Request(
        "POST", "http://127.0.0.1:1/", json={"z": "é", "a": [1]}, headers=dict(_headers(source)),
        auth=WebhookSigner(source, lambda: signed.append(True)),
    ).prepare()  # fmt: skip
    assert signed == [True]
    assert isinstance(request.body, bytes)
    SOURCES[source].verify(settings, request.headers, request.body, time.time())


@pytest.mark.parametrize("source", sorted(SIGNATURE_HEADERS))
def test_probes_and_missing_headers_stay_unsigned(source: str, settings: Settings) -> None:
    probe = _headers(source, **{SIGNATURE_HEADERS[source]: "SCHEMATHESIS-INVALID-VALUE"})
    absent = _headers(source)
    del absent[SIGNATURE_HEADERS[source]]
    for headers in (probe, absent):
        assert not sign(source, headers, BODY, time.time())
        with pytest.raises(Unauthenticated):
            SOURCES[source].verify(settings, headers, BODY, time.time())


def test_standard_webhooks_negative_headers_stay_unsigned() -> None:
    for extra in ({"webhook-timestamp": "soon"}, {"webhook-timestamp": "1.5"}, {"webhook-id": "é"}):
        headers = _headers("phone", **extra)
        assert not sign("phone", headers, BODY, time.time())
        assert headers["webhook-signature"] == PLACEHOLDER


def test_a_blank_webhook_id_gets_one_derived_from_the_body(settings: Settings) -> None:
    headers = _headers("web-chat", **{"webhook-id": " "})
    assert sign("web-chat", headers, BODY, time.time())
    assert headers["webhook-id"].startswith("msg_fuzz_")
    SOURCES["web-chat"].verify(settings, headers, BODY, time.time())
