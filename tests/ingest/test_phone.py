from __future__ import annotations

import pytest

from services.ingest.phone import to_e164


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+15550100001", "+15550100001"),
        ("+1 (555) 010-0001", "+15550100001"),
        ("1.555.010.0001", "+15550100001"),
        ("0044 20 7946 0018", "+442079460018"),
        ("+49 30 123456", "+4930123456"),
    ],
)
def test_normalises_to_e164(raw: str, expected: str) -> None:
    assert to_e164(raw) == expected


@pytest.mark.parametrize(
    "raw", [None, "", "anonymous", "+0123456789", "+1234", "+1234567890123456", "sip:bob@x"]
)
def test_rejects_what_is_not_a_number(raw: str | None) -> None:
    assert to_e164(raw) is None
