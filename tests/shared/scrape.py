"""Read a /metrics answer into samples a test can compare before and after an event."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample by (name, labels); the text must be valid exposition format to parse."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value, 0 when it is absent (a labelled series appears on its first event)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: TestClient) -> Samples:
    """GET /metrics without any credentials; it must answer 200 in the Prometheus text format."""
    reply = await client.get("/metrics")
    assert reply.status == 200, await reply.text()
    assert reply.headers["Content-Type"].startswith("text/plain; version=")
    return parse(await reply.text())
