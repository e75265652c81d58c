"""The ingest body in the OpenAPI document is the published wire schema itself.

``/openapi.json`` describes ``POST /api/v1/ingest`` as ``{"items": [WireObject]}``, where
``WireObject`` is :func:`wattprint.wire.schema` with its ``$defs`` moved to
``components/schemas`` (as ``Wire_<name>``, references rewritten), so clients generated from the
document, and fuzzers, see exactly what the ingest validates against. Generated from the schema
when the document is first asked for, never written twice by hand.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from fastapi import FastAPI

__all__ = ["WIRE_OBJECT", "install"]

WIRE_OBJECT = "WireObject"
_PREFIX = "Wire_"
_DEFS_REF = "#/$defs/"
_COMPONENTS_REF = "#/components/schemas/"


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        out = {key: _rewrite(value) for key, value in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFS_REF):
            out["$ref"] = _COMPONENTS_REF + _PREFIX + ref[len(_DEFS_REF):]
        return out
    if isinstance(node, list):
        return [_rewrite(value) for value in node]
    return node


def wire_components() -> dict[str, Any]:
    """``components/schemas`` entries for the wire schema: ``WireObject`` and its parts."""
    from ..wire import schema

    wire = dict(schema())
    defs = wire.pop("$defs", {})
    components = {_PREFIX + name: _rewrite(part) for name, part in defs.items()}
    components[WIRE_OBJECT] = _rewrite({key: value for key, value in wire.items()
                                        if key not in ("$schema", "$id")})
    return components


def install(app: FastAPI, ingest_path: str) -> None:
    """Make ``app.openapi()`` describe the ingest's items with the wire schema."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = build()
        document.setdefault("components", {}).setdefault("schemas", {}).update(
            wire_components())
        body = document["paths"][ingest_path]["post"]["requestBody"]
        items = body["content"]["application/json"]["schema"]["properties"]["items"]
        items["items"] = {"$ref": _COMPONENTS_REF + WIRE_OBJECT}
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
