"""Domain errors carry stable codes; the error envelope is one Struct for both HTTP services."""

from __future__ import annotations

import msgspec
import pytest

from shared import errors
from shared.errors import AppError, ErrorBody, NotFound


def test_every_domain_error_names_its_own_code() -> None:
    subclasses = AppError.__subclasses__()
    codes = [cls.code for cls in subclasses]
    assert len(subclasses) >= 8 and len(set(codes)) == len(codes)
    assert "error" not in codes
    assert (errors.NotFound.code, errors.RateLimited.code) == ("not_found", "rate_limited")


def test_a_subclass_without_a_code_keeps_its_parents() -> None:
    class GoneAgent(NotFound):
        pass

    assert GoneAgent("Agent not found.").code == "not_found"


def test_the_envelope_is_keyword_only_and_just_a_detail() -> None:
    with pytest.raises(TypeError):
        ErrorBody("positional")  # type: ignore[misc]  # kw_only: a reader sees which field
    assert (
        msgspec.json.encode(ErrorBody(detail="limit: must be <= 200"))
        == b'{"detail":"limit: must be <= 200"}'
    )
    assert msgspec.json.schema(ErrorBody)["$defs"]["ErrorBody"]["required"] == ["detail"]
