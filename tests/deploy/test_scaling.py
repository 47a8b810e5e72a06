"""deploy/SCALING.md cites only what docs/BENCHMARKS.md measured, and the overlay uses its sizes."""

from __future__ import annotations

import re

from tests.deploy.deployfiles import kustomize
from tests.helpers import REPO_ROOT

SCALING = (REPO_ROOT / "deploy" / "SCALING.md").read_text()
MEASURED = (REPO_ROOT / "docs" / "BENCHMARKS.md").read_text() + (
    REPO_ROOT / "docs" / "rate-limits.md"
).read_text()
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
MEASURED_NUMBERS = {number.rstrip(",") for number in NUMBER.findall(MEASURED)}


def _measured_rows() -> list[list[str]]:
    """The cells of the table of measured costs (rows M1, M2, ...)."""
    rows = [line.split("|")[1:-1] for line in SCALING.splitlines() if re.match(r"\| M\d+ \|", line)]
    return [[cell.strip() for cell in row] for row in rows]


def test_every_measured_value_is_in_the_benchmarks() -> None:
    rows = _measured_rows()
    assert len(rows) >= 10
    missing = []
    for label, _, value, _ in rows:
        # Plan limits and counts of one or two digits are too common to check by search.
        numbers = [n for n in NUMBER.findall(value) if len(n.replace(",", "")) >= 3 or "." in n]
        missing += [(label, n) for n in numbers if n not in MEASURED_NUMBERS]
    assert missing == []


def test_every_cited_section_and_command_exists() -> None:
    for label, _, _, source in _measured_rows():
        for quoted in re.findall(r"\"([^\"]+)\"", source):
            assert quoted in MEASURED, (label, quoted)
        for module in re.findall(r"`bench\.(\w+)", source):
            assert (REPO_ROOT / "bench" / f"{module}.py").is_file(), (label, module)
            assert f"bench.{module}" in MEASURED, (label, module)


def test_the_production_overlay_uses_the_replicas_of_the_model() -> None:
    hpas = {
        obj["metadata"]["name"].removeprefix("ringready-"): (
            obj["spec"]["minReplicas"],
            obj["spec"]["maxReplicas"],
        )
        for obj in kustomize("overlays/production")
        if obj["kind"] == "HorizontalPodAutoscaler"
    }
    modelled = {
        row.split("|")[1].strip(): tuple(map(int, match.groups()))
        for row in SCALING.splitlines()
        if (match := re.search(r"HPA \*\*(\d+)–(\d+)\*\* pods", row))
    }
    assert modelled == hpas == {"api": (6, 12), "ingest": (2, 4), "worker": (3, 6)}
