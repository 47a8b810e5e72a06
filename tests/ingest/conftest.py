"""The ingest app under test, on the session's real Redis."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from services.ingest.app import create_app
from shared.config import Settings


@pytest.fixture
async def client(aiohttp_client, settings: Settings) -> TestClient:  # type: ignore[no-untyped-def]
    """A client of the real ingest app built from the test settings."""
    test_client: TestClient = await aiohttp_client(create_app(settings))
    return test_client
