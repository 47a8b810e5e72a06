"""The pieces both services' OpenAPI 3.1 documents are built from (each service owns its document)."""

from __future__ import annotations

from typing import Any

REF = "#/components/schemas/{name}"


def ref(model: type) -> dict[str, str]:
    """A reference to the component msgspec generates for `model` (with ref_template=REF)."""
    return {"$ref": REF.format(name=model.__name__)}


def json_response(
    schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One response object with a JSON body (and, when given, the headers it carries)."""
    response: dict[str, Any] = {"description": description}
    if headers is not None:
        response["headers"] = headers
    response["content"] = {"application/json": {"schema": schema}}
    return response
