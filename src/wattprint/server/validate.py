"""Checks ingested wire objects against the published schema, naming the item and the field.

Each object is checked against its own type's definition (``$defs/<type>`` of
:func:`wattprint.wire.schema`), not the top-level ``oneOf``: a ``oneOf`` failure says only that
no branch matched, while the type's definition names the field that is wrong. Then
:func:`wattprint.wire.from_wire` must build it, so what is stored is what a tracker can read.
"""

from __future__ import annotations

from ..wire import WIRE_VERSION, from_wire, upgrade
from .bounds import out_of_bounds
from .record_rows import RowError, record_row

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Sequence

    from jsonschema.exceptions import ValidationError
    from jsonschema.protocols import Validator

    from ..wire import Item

__all__ = ["IngestError", "Validated", "WireValidator", "json_path"]

WIRE_TYPES = ("run", "record", "span", "heartbeat", "prediction", "summary")
#: Older wire versions still accepted, upgraded on the way in (a tracker not yet upgraded): the
#: previous version differs only by what it lacks (see wattprint.wire.upgrade).
ACCEPTED_VERSIONS = (WIRE_VERSION - 1, WIRE_VERSION)


class IngestError(Exception):
    """A refused request: HTTP ``status`` and the ``detail`` object of the contract."""

    def __init__(self, status: int, message: str, *, index: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.detail = {"index": index, "field": field, "message": message}


class Validated:
    """One checked object: a record carries its database ``row`` (built straight from the
    wire, see :mod:`.record_rows`) and no ``item``; every other type its ``item``.

    A plain slotted class, not a ``_struct`` record: one is made per ingested object, and the
    generic keyword ``__init__`` cost twice as much (about 3 µs a record).
    """

    __slots__ = ("index", "kind", "item", "wire", "row")

    def __init__(self, index: int, kind: str, item: Item | None, wire: dict[str, Any],
                 row: dict[str, Any] | None = None) -> None:
        self.index = index
        self.kind = kind
        self.item = item
        self.wire = wire
        self.row = row


def json_path(parts: Sequence[str | int]) -> str:
    """``("components", 0, "energy_j")`` -> ``"components[0].energy_j"``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _error_path(error: ValidationError) -> str | None:
    parts: list[str | int] = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            parts.append(missing[0])
    return json_path(parts) or None


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``{"$ref": "#/$defs/x"}`` replaced by (inlined) ``defs["x"]``."""
    if isinstance(node, list):
        return [_inline(value, defs) for value in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = _inline(defs[ref.removeprefix("#/$defs/")], defs)
        rest = {k: _inline(v, defs) for k, v in node.items() if k != "$ref"}
        # a $ref beside other keywords applies both (draft 2020-12), as allOf does
        return {"allOf": [target], **rest} if rest else target
    return {key: _inline(value, defs) for key, value in node.items()}


class WireValidator:
    def __init__(self) -> None:
        from jsonschema import Draft202012Validator

        from ..wire import schema
        from .fastcheck import compile_check

        defs = schema()["$defs"]
        # each type's definition with its $refs inlined: resolving references is most of
        # jsonschema's time per object, and the wire schema's references have no cycles
        inlined = {kind: _inline(defs[kind], defs) for kind in WIRE_TYPES}
        self._by_type: dict[str, Validator] = {
            kind: Draft202012Validator(inlined[kind]) for kind in WIRE_TYPES}
        # the fast yes/no path (records, heartbeats, runs); jsonschema explains any "no"
        self._fast = {kind: compile_check(inlined[kind]) for kind in WIRE_TYPES}

    def check(self, index: int, obj: object) -> Validated:
        if not isinstance(obj, dict):
            raise IngestError(400, f"item {index} is a {type(obj).__name__}, not a wire object",
                              index=index)
        kind = obj.get("type")
        if kind not in WIRE_TYPES:
            raise IngestError(400, f"unknown wire object type {kind!r}: expected one of "
                                   f"{', '.join(WIRE_TYPES)}", index=index, field="type")
        version = obj.get("schema_version")
        if version != WIRE_VERSION:
            if type(version) is not int or version not in ACCEPTED_VERSIONS \
                    or kind == "prediction":
                raise IngestError(
                    400, f"schema_version {version!r}: this server accepts versions "
                         f"{ACCEPTED_VERSIONS[0]} to {WIRE_VERSION}; send the objects "
                         f"wattprint.wire.to_wire emits (upgrade the tracker, or re-export the "
                         f"run with this wattprint)", index=index, field="schema_version")
            obj = dict(upgrade(obj))
        fast = self._fast[kind]
        if fast is None or not fast(obj):
            self._explain(kind, index, obj)
        if kind == "record":  # the hot path: no Record object built and serialised again
            try:
                row = record_row(obj)
            except RowError as exc:
                raise IngestError(400, f"record object: {exc.field}: {exc}", index=index,
                                  field=exc.field)
            return Validated(index, kind, None, obj, row)
        bad = out_of_bounds(kind, obj)
        if bad is not None:
            raise IngestError(400, f"{kind} object: {bad[0]}: {bad[1]}", index=index,
                              field=bad[0])
        try:
            item = from_wire(obj)
        except (ValueError, OverflowError) as exc:
            raise IngestError(400, str(exc), index=index)
        return Validated(index=index, kind=kind, item=item, wire=obj)

    def _explain(self, kind: str, index: int, obj: dict[str, Any]) -> None:
        """Refuse ``obj`` with jsonschema's best error (none: it is valid, so return)."""
        from jsonschema.exceptions import best_match

        error = best_match(self._by_type[kind].iter_errors(obj))
        if error is not None:
            path = _error_path(error)
            raise IngestError(400, f"{kind} object: {path or 'object'}: {error.message}",
                              index=index, field=path)
