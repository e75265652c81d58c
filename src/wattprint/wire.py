"""The published wire format: every object a run emits, as JSON, with a ``schema_version``.

One tagged object per item: ``{"type": "run" | "record" | "span" | "heartbeat" | "prediction" |
"summary", "schema_version": 4, ...}``. The JSON Lines sink, the spool, the store's exports and the HTTP
exporter write exactly these; :func:`schema` is the JSON Schema (draft 2020-12) they validate
against (``wire_schema.json`` beside this module), printed by ``wattprint schema``.
``docs/wire-format.md`` describes the objects and the migrations from versions 1 to 3.

:func:`to_wire` builds the object field by field (not from ``asdict``) so that what goes out is
the schema's shape, with JSON-native types only (lists, not tuples). :func:`from_wire` is its
inverse and also reads version 1 (wattprint 0.1.0), 2 and 3 objects, upgrading them on the way
in (:func:`upgrade`).
Neither validates against the schema: the JSON Schema library is a test dependency, and the
tests check that every object the sinks write validates.
"""

from __future__ import annotations

from ._struct import field_names
from .records import Heartbeat, Prediction, Record, RunInfo, RunSummary, SpanRecord

__all__ = ["WIRE_VERSION", "Item", "from_wire", "schema", "to_wire", "upgrade"]

#: Version of the wire format. Changing the format means a new version and a migration note
#: in ``docs/wire-format.md`` (and a new ``$id`` in ``wire_schema.json``).
WIRE_VERSION = 4

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Union

    Item = Union[RunInfo, Record, SpanRecord, Heartbeat, Prediction, RunSummary]


def __getattr__(name: str) -> object:
    if name == "Item":  # built on demand: typing costs milliseconds to import
        from typing import Union

        return Union[RunInfo, Record, SpanRecord, Heartbeat, Prediction, RunSummary]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

_SCHEMA_FILE = "wire_schema.json"
_TYPES = ("run", "record", "span", "heartbeat", "prediction", "summary")


def schema() -> dict[str, Any]:
    """The JSON Schema of the wire format (a fresh dict on every call)."""
    import json
    from importlib.resources import files

    text = files("wattprint").joinpath(_SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _plain(value: Any) -> Any:
    """A JSON-native deep copy: mappings -> dicts, tuples and lists -> lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _work(pairs: tuple[tuple[str, float], ...]) -> list[dict[str, Any]]:
    return [{"unit": unit, "count": count} for unit, count in pairs]


def _fields(item: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {name: _plain(getattr(item, name)) for name in field_names(item)
            if name not in skip}


def to_wire(item: Item) -> dict[str, Any]:
    """The wire object for ``item``: a new, JSON-serialisable dict of the schema's shape."""
    if isinstance(item, RunInfo):
        # RunInfo.schema_version is the record module's own counter, not the wire version:
        # the wire object carries WIRE_VERSION alone.
        data = _fields(item, skip=("schema_version",))
        kind = "run"
    elif isinstance(item, Record):
        data = _fields(item, skip=("components", "work"))
        data["components"] = [c.to_dict() for c in item.components]
        data["work"] = _work(item.work)
        kind = "record"
    elif isinstance(item, SpanRecord):
        data = _fields(item, skip=("work",))
        data["work"] = _work(item.work)
        kind = "span"
    elif isinstance(item, Heartbeat):
        data = _fields(item)
        kind = "heartbeat"
    elif isinstance(item, Prediction):
        data = _fields(item)
        kind = "prediction"
    elif isinstance(item, RunSummary):
        # energy_kwh (in RunSummary.to_json) is presentation; the wire carries SI units only.
        data = _fields(item)
        kind = "summary"
    else:
        raise TypeError(f"not a wire item: {type(item).__name__}")
    data["type"] = kind
    data["schema_version"] = WIRE_VERSION
    return data


def from_wire(data: Mapping[str, Any]) -> Item:
    """The item a wire object describes: the inverse of :func:`to_wire`.

    Objects of versions 1 (no ``schema_version``, or 1) to 3 are upgraded first.
    Raises ``ValueError`` for an unknown type, a version newer than this wattprint knows, or a
    malformed object.
    """
    kind = data.get("type")
    data = upgrade(data)
    if kind not in _TYPES:
        raise ValueError(f"unknown wire object type {kind!r}")
    body = {k: v for k, v in data.items() if k not in ("type", "schema_version")}
    try:
        return _build(kind, body)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed {kind} wire object: {exc!r}") from exc


def upgrade(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` in the current version's shape: an object of this version as is, one of
    versions 1 to 3 upgraded (a new dict). Raises ``ValueError`` for any other version."""
    version = data.get("schema_version", 1)
    if version == WIRE_VERSION:
        return data
    if version == 1:
        data, version = _upgrade_v1(data), 2
    if version == 2:
        data, version = _upgrade_v2(data), 3
    if version == 3:
        return _upgrade_v3(data)
    raise ValueError(f"wire object of schema_version {version!r}: this wattprint reads "
                     f"versions 1 to {WIRE_VERSION}; upgrade wattprint to read it")


def _build(kind: str, body: dict[str, Any]) -> Item:
    if kind == "run":
        return RunInfo.from_dict(body)
    if kind == "record":
        return Record.from_row(body)
    if kind == "span":
        return SpanRecord.from_dict(body)
    if kind == "heartbeat":
        return Heartbeat(run_id=str(body["run_id"]), at_s=float(body["at_s"]),
                         every_s=float(body["every_s"]))
    if kind == "prediction":
        return Prediction.from_dict(body)
    if kind == "summary":
        return RunSummary.from_json(body)
    raise AssertionError(kind)


def _upgrade_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """A version 1 object (wattprint 0.1.0) in version 2's shape, as far as v1 knew it (then
    :func:`_upgrade_v2` takes it on to version 3).

    v1 spans were one row per closed instance with ``start_s``/``end_s``, their edges read from
    the sensors on the caller's thread: a v2 aggregate of count 1 with ``boundary`` "exact".
    v1 records had no ``work``; v1 summaries had ``energy_kwh``, no ``work``/``delivery``, and
    listed v1 spans (upgraded the same way).
    Fields v1 never had (``host.host_id``, ``host.tracker_pid``) stay absent: an upgraded run is
    readable, not schema-valid.
    """
    out = dict(data)
    kind = out.get("type")
    if kind == "span":
        out = _upgrade_v1_span(out)
    elif kind == "record":
        out.setdefault("work", [])
    elif kind == "summary":
        out.pop("energy_kwh", None)
        out["spans"] = [_upgrade_v1_span(dict(row)) for row in out.get("spans", ())]
    out["schema_version"] = 2
    return out


def _upgrade_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    """A version 2 object in version 3's shape. What version 2 did not say becomes null
    (unknown), never a guess; what it said wrongly is corrected where the object itself shows it:

    - record: ``intensity_basis``, ``intensity_scope``, ``intensity_gases`` null; each
      component's ``share_basis`` null; ``intensity_kind`` null where ``intensity_source`` is
      ``"unavailable"`` (version 2 labelled an interval without intensity "average").
    - summary: each component's ``share`` and ``share_basis`` null (version 2 summaries dropped
      them); in ``intensity``, ``by_kind`` null (not knowable without the records), and
      ``basis``/``scope``/``gases`` kept if present, else null.
    - run and summary: the ``job``'s ``job_id_from`` and ``node_rank`` null.
    """
    out = dict(data)
    kind = out.get("type")
    if isinstance(out.get("job"), dict):
        out["job"] = {"job_id_from": None, "node_rank": None, **out["job"]}
    if kind == "record":
        for key in ("intensity_basis", "intensity_scope", "intensity_gases"):
            out.setdefault(key, None)
        if out.get("intensity_source") == "unavailable":
            out["intensity_kind"] = None
        out["components"] = [{"share_basis": None, **c} for c in out.get("components", ())]
    elif kind == "summary":
        out["components"] = [{"share": None, "share_basis": None, **c}
                             for c in out.get("components", ())]
        intensity = out.get("intensity") or {}
        if "g_per_kwh" in intensity:
            out["intensity"] = {"basis": None, "scope": None, "gases": None, "by_kind": None,
                                **intensity}
    out["schema_version"] = 3
    return out


def _upgrade_v3(data: Mapping[str, Any]) -> dict[str, Any]:
    """A version 3 object in version 4's shape: version 4 added the ``prediction`` object and
    the summary's ``prediction`` and ``budget``, which a version 3 summary lacks (null: no
    prediction was made, no budget was set; version 3 trackers had neither)."""
    out = dict(data)
    if out.get("type") == "summary":
        out.setdefault("prediction", None)
        out.setdefault("budget", None)
    out["schema_version"] = WIRE_VERSION
    return out


def _upgrade_v1_span(row: dict[str, Any]) -> dict[str, Any]:
    if "count" in row:  # already an aggregate
        return row
    start_s, end_s = float(row.pop("start_s")), float(row.pop("end_s"))
    duration_s, energy_j = float(row["duration_s"]), float(row["energy_j"])
    row.update(count=1, first_start_s=start_s, last_end_s=end_s, duration_min_s=duration_s,
               duration_max_s=duration_s, energy_min_j=energy_j, energy_max_j=energy_j,
               work=[], boundary="exact")
    return row
