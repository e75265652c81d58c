"""A schema-valid record wire object -> its ``records`` row, without building a Record.

The ingest hot path used to build a :class:`wattprint.records.Record` with
:func:`wattprint.wire.from_wire` and serialise it again with ``to_wire`` (about 40 µs per
record, more than the database's share). For an object that passed the record schema, the
row is the same as ``to_wire(from_wire(obj))`` less ``type`` and ``schema_version``: numbers as
float (``seq`` and ``intensity_year`` as int), components rebuilt field by field, work sorted
by unit. tests/server/test_record_rows.py pins the two against each other.
"""

from __future__ import annotations

from .bounds import INT32_MAX as _INT_MAX
from .bounds import MAGNITUDE_LIMIT

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["TIME_LIMIT_S", "RowError", "record_row"]
#: Unix seconds within about 3,000 years of 1970: the records' times, and the query API's
#: since/until (schemas.MAX_TIME_S)
TIME_LIMIT_S = 1e11

_FLOATS = ("start_s", "duration_s", "cpu_energy_j", "gpu_energy_j", "ram_energy_j",
           "other_energy_j", "energy_j", "pue", "emissions_g", "intensity_g_per_kwh")


class RowError(ValueError):
    """A schema-valid value the database cannot hold (JSON numbers have no size limit)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def record_row(obj: dict[str, Any]) -> dict[str, Any]:
    """The row for ``obj``, which must already have passed the record schema.

    Raises :class:`RowError` for a number the database cannot hold.
    """
    try:
        row = _row(obj)
    except OverflowError:  # an integer no float holds: say which (the slow way, once)
        raise _overflow(obj)
    seq, year = row["seq"], row["intensity_year"]
    if seq > _INT_MAX:
        raise RowError("seq", f"seq {seq} is over {_INT_MAX}, the largest the server stores")
    if year is not None and not -_INT_MAX <= year <= _INT_MAX:
        raise RowError("intensity_year", f"intensity_year {year} is not a year")
    for name in _FLOATS:
        if not -MAGNITUDE_LIMIT <= row[name] <= MAGNITUDE_LIMIT:  # NaN fails both comparisons
            raise RowError(name, f"{name} {row[name]} is not a finite number of at most "
                                 f"{MAGNITUDE_LIMIT:g} in size, as every real figure is")
    for field, key in (("components", "energy_j"), ("work", "count")):
        if not all(-MAGNITUDE_LIMIT <= part[key] <= MAGNITUDE_LIMIT for part in row[field]):
            raise RowError(field, f"a number in {field} is not finite or over "
                                  f"{MAGNITUDE_LIMIT:g} in size")
    end_s = row["start_s"] + row["duration_s"]
    if not -TIME_LIMIT_S <= row["start_s"] <= end_s <= TIME_LIMIT_S:
        # the rollups cut a record at whole hours, as integers the database must hold
        raise RowError("start_s", f"start_s {row['start_s']} + duration_s {row['duration_s']} "
                                  "is not a time within 3,000 years of 1970")
    return row


def _row(obj: dict[str, Any]) -> dict[str, Any]:
    # the hot path: a number that already is a float (what senders write) is not converted
    seq, year = obj["seq"], obj["intensity_year"]
    row: dict[str, Any] = {"run_id": obj["run_id"],
                           "seq": seq if type(seq) is int else int(seq)}
    for name in _FLOATS:
        value = obj[name]
        row[name] = value if type(value) is float else float(value)
    row["intensity_zone"] = obj["intensity_zone"]
    row["intensity_source"] = obj["intensity_source"]
    row["intensity_year"] = year if year is None or type(year) is int else int(year)
    row["intensity_kind"] = obj["intensity_kind"]
    row["intensity_live"] = obj["intensity_live"]
    row["intensity_basis"] = obj["intensity_basis"]
    row["intensity_scope"] = obj["intensity_scope"]
    row["intensity_gases"] = obj["intensity_gases"]
    row["gaps"] = list(obj["gaps"])
    components = []
    for c in obj["components"]:
        energy_j, share = c["energy_j"], c["share"]
        components.append({
            "component": c["component"], "device": c["device"], "method": c["method"],
            "energy_j": energy_j if type(energy_j) is float else float(energy_j),
            "share": share if type(share) is float else float(share),
            "share_basis": c["share_basis"]})
    row["components"] = components
    work = obj["work"]
    row["work"] = [{"unit": unit, "count": count} for unit, count in sorted(
        (w["unit"], float(w["count"])) for w in work)] if work else []
    return row


def _overflow(obj: dict[str, Any]) -> RowError:
    for name in _FLOATS:
        if _too_large(obj[name]):
            return RowError(name, f"{name} {obj[name]} is too large for a 64-bit float")
    for field, key in (("components", "energy_j"), ("work", "count")):
        if any(_too_large(part[key]) for part in obj[field]):
            return RowError(field, f"a number in {field} is too large for a 64-bit float")
    return RowError("object", "a number is too large for a 64-bit float")


def _too_large(value: Any) -> bool:
    try:
        float(value)
    except OverflowError:
        return True
    return False
