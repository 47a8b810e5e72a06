"""The topic table the classifier scores and the summarizer words: one place to tune both."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """A label, how a summary phrases it ("asked" + prep + object), and phrases that signal it."""

    label: str
    prep: str
    obj: str
    phrases: tuple[tuple[str, float], ...]


# Order matters only to break ties: earlier topics win.
TOPICS: tuple[Topic, ...] = (
    Topic(
        "Emergency Service",
        "for",
        "urgent help",
        (
            ("emergency", 3),
            ("urgent", 2),
            ("flooding", 3),
            ("flooded", 3),
            ("burst", 2),
            ("leak", 2),
            ("leaking", 2),
            ("no heat", 3),
            ("gas smell", 3),
            ("smell gas", 3),
            ("fire", 2),
            ("right away", 1),
            ("asap", 1),
            ("as soon as possible", 1),
        ),
    ),
    Topic(
        "Demo Request",
        "for",
        "a demo",
        (("demo", 3), ("demonstration", 3), ("walkthrough", 2), ("trial", 1), ("see the product", 2)),
    ),
    Topic(
        "Appointment Booking",
        "to",
        "book an appointment",
        (
            ("appointment", 2),
            ("book", 2),
            ("booking", 2),
            ("schedule", 2),
            ("reschedule", 2),
            ("reservation", 2),
            ("reserve", 2),
            ("slot", 1),
            ("available", 1),
            ("availability", 1),
            ("come in", 1),
            ("consultation", 1),
            ("cleaning", 1),
            ("check-up", 1),
            ("checkup", 1),
        ),
    ),
    Topic(
        "Pricing Question",
        "for",
        "pricing",
        (
            ("price", 2),
            ("prices", 2),
            ("pricing", 3),
            ("cost", 2),
            ("costs", 2),
            ("how much", 3),
            ("quote", 2),
            ("estimate", 2),
            ("rate", 1),
            ("rates", 1),
            ("fee", 1),
            ("plan", 1),
            ("plans", 1),
            ("charge", 1),
        ),
    ),
    Topic(
        "Opening Hours",
        "about",
        "opening hours",
        (
            ("hours", 2),
            ("open", 2),
            ("opening", 2),
            ("close", 1),
            ("closing", 2),
            ("what time", 2),
            ("weekend", 1),
        ),
    ),
    Topic(
        "Billing Question",
        "about",
        "a bill",
        (("bill", 2), ("billing", 3), ("invoice", 3), ("charged", 2), ("refund", 3), ("payment", 2)),
    ),
    Topic(
        "Order Status",
        "about",
        "an order",
        (("order", 2), ("delivery", 2), ("shipped", 2), ("tracking", 2), ("package", 2)),
    ),
    Topic(
        "Complaint",
        "to",
        "make a complaint",
        (("complaint", 3), ("complain", 3), ("unhappy", 2), ("disappointed", 2), ("terrible", 2)),
    ),
    Topic(
        "Callback Request",
        "for",
        "a callback",
        (("call me back", 3), ("callback", 3), ("call back", 2), ("get back to me", 2)),
    ),
    Topic(
        "Location Question",
        "about",
        "directions",
        (("address", 2), ("directions", 3), ("located", 2), ("location", 2), ("parking", 2)),
    ),
)

GENERAL = Topic("General Inquiry", "", "", ())
HANG_UP = Topic("Hang-up", "", "", ())
WRONG_NUMBER = Topic(
    "Wrong Number",
    "",
    "",
    (
        ("wrong number", 5),
        ("sorry wrong", 4),
        ("dialed the wrong", 5),
        ("dialled the wrong", 5),
        ("meant to call", 4),
        ("is this not", 2),
        ("who is this", 2),
    ),
)
SPAM = Topic(
    "Spam",
    "",
    "",
    (
        ("extended warranty", 5),
        ("car's warranty", 5),
        ("you have won", 5),
        ("you've won", 5),
        ("free cruise", 5),
        ("press 1", 4),
        ("press one", 4),
        ("final notice", 4),
        ("seo services", 4),
        ("first page of google", 5),
        ("business listing", 3),
        ("lower your interest", 5),
        ("student loan", 3),
        ("limited time offer", 4),
    ),
)
