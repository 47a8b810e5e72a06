"""Caller names only when the caller states one."""

from __future__ import annotations

import pytest

from services.worker.enrich.caller_name import extract_caller_name


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (["Hi, my name is dana lee and I need a cleaning."], "Dana Lee"),
        (["Hello, this is Sam calling about my bill."], "Sam"),
        (["I'm Priya, I booked last week."], "Priya"),
        (["Hey it's Marco here."], "Marco"),
        (["I'm calling about your hours.", "My name's O'Brien."], "O'Brien"),
        (["I'm looking for a quote."], None),
        (["This is urgent, my basement is flooding."], None),
        (["I am not sure."], None),
        ([], None),
    ],
)
def test_extract_caller_name(turns: list[str], expected: str | None) -> None:
    assert extract_caller_name(turns) == expected
