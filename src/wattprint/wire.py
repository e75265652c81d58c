"""The published wire format: every object a run emits, as JSON, with a ``schema_version``.

One tagged object per item: ``{"type": "run" | "record" | "span" | "heartbeat" | "summary",
"schema_version": N, ...}``. The JSON Lines sink, the spool, the store's exports and the HTTP
exporter write exactly these; :func:`schema` is the JSON Schema (draft 2020-12) they validate
against, printed by ``wattprint schema``.
"""

from __future__ import annotations

from typing import Any, Mapping, Union

from .records import Heartbeat, Record, RunInfo, RunSummary, SpanRecord

__all__ = ["WIRE_VERSION", "Item", "from_wire", "to_wire"]

#: Version of the wire format. Changing the format means a new version and a migration note
#: in ``docs/wire-format.md``.
WIRE_VERSION = 2

Item = Union[RunInfo, Record, SpanRecord, Heartbeat, RunSummary]

_TYPE_OF = {RunInfo: "run", Record: "record", SpanRecord: "span", Heartbeat: "heartbeat",
            RunSummary: "summary"}


def to_wire(item: Item) -> dict[str, Any]:
    """The wire object for ``item`` (a new dict, JSON-serialisable)."""
    kind = _TYPE_OF[type(item)]
    if isinstance(item, Record):
        data = item.to_row()
        data["components"] = [c.to_dict() for c in item.components]
        data["gaps"] = list(item.gaps)
        data["work"] = [{"unit": u, "count": c} for u, c in item.work]
    elif isinstance(item, RunSummary):
        data = item.to_json()
    else:
        data = item.to_dict()
    data["type"] = kind
    data["schema_version"] = WIRE_VERSION
    return data


def from_wire(data: Mapping[str, Any]) -> Item:
    """The item a wire object describes (the inverse of :func:`to_wire`)."""
    kind = data.get("type")
    body = {k: v for k, v in data.items() if k not in ("type", "schema_version")}
    if kind == "run":
        return RunInfo.from_dict(body)
    if kind == "record":
        return Record.from_row(body)
    if kind == "span":
        return SpanRecord.from_dict(body)
    if kind == "heartbeat":
        return Heartbeat(run_id=str(body["run_id"]), at_s=float(body["at_s"]),
                         every_s=float(body["every_s"]))
    if kind == "summary":
        return RunSummary.from_json(body)
    raise ValueError(f"unknown wire object type {kind!r}")
