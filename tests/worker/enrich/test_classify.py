"""Topic labels from what the caller said, including the provider samples in tests/fixtures."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.worker.enrich.classify import classify
from tests.worker.enrich import samples


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (["Hi, I'd like to book an appointment for a cleaning next week."], "Appointment Booking"),
        (["How much does a crown cost?", "Do you take insurance for the price?"], "Pricing Question"),
        (["My basement is flooding, I need someone right away, it's an emergency!"], "Emergency Service"),
        (["Can I see a demo of the product?"], "Demo Request"),
        (["Are you open on Saturday?"], "Opening Hours"),
        (["Oh sorry, wrong number."], "Wrong Number"),
        (["Congratulations, you've won a free cruise! Press 1 now."], "Spam"),
        (["We're calling about your car's extended warranty."], "Spam"),
        (["Hello?"], "Hang-up"),
        ([], "Hang-up"),
        (["I'd like a refund for the invoice I was charged twice."], "Billing Question"),
        (["Where is my order? The tracking hasn't moved."], "Order Status"),
        (["I just wanted to say hi to Maria."], "General Inquiry"),
    ],
)
def test_classify(turns: list[str], expected: str) -> None:
    assert classify(turns) == expected


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (samples.vapi_caller_turns, "Opening Hours"),
        (samples.retell_caller_turns, "Emergency Service"),
        (samples.elevenlabs_caller_turns, "Appointment Booking"),
        (samples.vapi_fixture_caller_turns, "Hang-up"),
    ],
)
def test_classify_provider_samples(turns: Callable[[], list[str]], expected: str) -> None:
    assert classify(turns()) == expected
