"""Rollups of what a running run's summary needs beyond the sums of :mod:`.rollups`.

:func:`wattprint.records.summarize` reads, besides the sums ``rollup_runs`` keeps, each device's
energy and duration-weighted share (with its share bases, component and first method), the
run's distinct gaps in the order first seen, its work units, and over the scored records the
energy x PUE per kind (the mean intensity's denominator), the provenance labels, the range of
the intensity (``varied``) and its latest value. Four tables hold them (see :mod:`.models`):

- ``rollup_run_devices``: per (run, device, share basis);
- ``rollup_run_intensities``: per (run, kind, source, zone, basis, scope, gases);
- ``rollup_run_gaps``: per (run, gap), with the first record (and position) it appeared in;
- ``rollup_run_work``: per (run, unit).

They are written exactly like :mod:`.rollups`' tables, in the same ingest transaction with
only the records it inserted, as upserts adding into the stored row (in key order); a
"first"/"last" column takes the value of the lower/higher sequence number, so the order the
batches arrive in does not matter. ``''`` stands for an unknown label (a key column cannot be
NULL; :meth:`wattprint.records.Record.from_row` reads ``''`` as unknown too).
"""

from __future__ import annotations

import json

from ..records import work_from_wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping

    from sqlalchemy.engine import Connection

__all__ = ["add_records", "rebuild"]

_READ_CHUNK = 20_000
_DEVICE_SUMS = ("records", "energy_j", "share_s", "seen_s", "share_sum")


class _Details:
    """The four tables' rows being summed in memory, keyed like the tables."""

    def __init__(self) -> None:
        self.devices: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.intensities: dict[tuple[str, ...], dict[str, Any]] = {}
        self.gaps: dict[tuple[str, str], dict[str, Any]] = {}
        self.work: dict[tuple[str, str], float] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        # the ingest's per-record cost: plain dict work, no call or import per component
        run_id, seq = record["run_id"], record["seq"]
        duration_s = record["duration_s"]
        devices = self.devices
        components = record["components"]
        for index, comp in enumerate(json.loads(components) if isinstance(components, str)
                                     else components or ()):
            basis = comp.get("share_basis")
            key = (run_id, comp["device"], "" if basis is None else basis)
            share = comp.get("share", 1.0)
            row = devices.get(key)
            if row is None:
                devices[key] = {"component": comp["component"], "method": comp["method"],
                                "first_seq": seq, "first_index": index, "records": 1,
                                "energy_j": comp["energy_j"], "share_s": share * duration_s,
                                "seen_s": duration_s, "share_sum": share}
                continue
            if seq < row["first_seq"]:
                row.update(component=comp["component"], method=comp["method"], first_seq=seq,
                           first_index=index)
            row["records"] += 1
            row["energy_j"] += comp["energy_j"]
            row["share_s"] += share * duration_s
            row["seen_s"] += duration_s
            row["share_sum"] += share
        gaps = record["gaps"]
        if gaps:
            for index, gap in enumerate(json.loads(gaps) if isinstance(gaps, str) else gaps):
                held = self.gaps.get((run_id, gap))
                if held is None or (seq, index) < (held["first_seq"], held["first_index"]):
                    self.gaps[(run_id, gap)] = {"first_seq": seq, "first_index": index}
        work = record.get("work")
        if work:
            for unit, count in work_from_wire(work):
                self.work[(run_id, unit)] = self.work.get((run_id, unit), 0.0) + count
        kind = record.get("intensity_kind")
        if kind is None or kind == "":
            return  # unscored: no part in the intensity figures
        self._add_intensity(run_id, seq, kind, record)

    def _add_intensity(self, run_id: str, seq: int, kind: str,
                       record: Mapping[str, Any]) -> None:
        basis, scope, gases = (record.get("intensity_basis"), record.get("intensity_scope"),
                               record.get("intensity_gases"))
        key = (run_id, kind, record["intensity_source"], record["intensity_zone"],
               "" if basis is None else basis, "" if scope is None else scope,
               "" if gases is None else gases)
        g_per_kwh = record["intensity_g_per_kwh"]
        year = record.get("intensity_year")
        if year == "":
            year = None
        live = 1 if record["intensity_live"] else 0
        pue_energy_j = record["energy_j"] * record["pue"]
        row = self.intensities.get(key)
        if row is None:
            self.intensities[key] = {
                "records": 1, "pue_energy_j": pue_energy_j, "min_g_per_kwh": g_per_kwh,
                "max_g_per_kwh": g_per_kwh, "last_seq": seq, "last_g_per_kwh": g_per_kwh,
                "max_year": year, "live": live}
            return
        row["records"] += 1
        row["pue_energy_j"] += pue_energy_j
        if g_per_kwh < row["min_g_per_kwh"]:
            row["min_g_per_kwh"] = g_per_kwh
        elif g_per_kwh > row["max_g_per_kwh"]:
            row["max_g_per_kwh"] = g_per_kwh
        if seq > row["last_seq"]:
            row["last_seq"], row["last_g_per_kwh"] = seq, g_per_kwh
        if year is not None and (row["max_year"] is None or year > row["max_year"]):
            row["max_year"] = year
        if live:
            row["live"] = 1


def _tables() -> dict[str, Any]:
    from .models import RollupRunDevice, RollupRunGap, RollupRunIntensity, RollupRunWork

    return {"devices": RollupRunDevice.__table__, "intensities": RollupRunIntensity.__table__,
            "gaps": RollupRunGap.__table__, "work": RollupRunWork.__table__}


# (dialect, table) -> its upsert, built once per process (SQLAlchemy's compiled cache then
# serves every call; see rollups._UPSERTS)
_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert_statement(dialect: str, table: Any) -> Any:
    statement = _UPSERTS.get((dialect, table.name))
    if statement is not None:
        return statement
    from sqlalchemy import case, func

    from .rollups import dialect_upsert

    insert, least, greatest = dialect_upsert(dialect)
    stmt = insert(table)
    new, old = stmt.excluded, table.c
    updates: dict[str, Any]
    if table.name == "rollup_run_devices":
        earlier = new.first_seq < old.first_seq
        updates = {name: old[name] + new[name] for name in _DEVICE_SUMS}
        # every right-hand side reads the stored row as it was before this update
        updates.update({name: case((earlier, new[name]), else_=old[name])
                        for name in ("component", "method", "first_index")})
        updates["first_seq"] = least(old.first_seq, new.first_seq)
    elif table.name == "rollup_run_intensities":
        updates = {"records": old.records + new.records,
                   "pue_energy_j": old.pue_energy_j + new.pue_energy_j,
                   "min_g_per_kwh": least(old.min_g_per_kwh, new.min_g_per_kwh),
                   "max_g_per_kwh": greatest(old.max_g_per_kwh, new.max_g_per_kwh),
                   "last_seq": greatest(old.last_seq, new.last_seq),
                   "last_g_per_kwh": case((new.last_seq > old.last_seq, new.last_g_per_kwh),
                                          else_=old.last_g_per_kwh),
                   # SQLite's max() of a NULL is NULL: a missing year never wins
                   "max_year": greatest(func.coalesce(old.max_year, new.max_year),
                                        func.coalesce(new.max_year, old.max_year)),
                   "live": greatest(old.live, new.live)}
    elif table.name == "rollup_run_gaps":
        earlier = (new.first_seq < old.first_seq) | (
            (new.first_seq == old.first_seq) & (new.first_index < old.first_index))
        updates = {"first_index": case((earlier, new.first_index), else_=old.first_index),
                   "first_seq": least(old.first_seq, new.first_seq)}
    else:
        updates = {"count": old["count"] + new["count"]}
    keys = [column.name for column in table.primary_key.columns]
    statement = stmt.on_conflict_do_update(index_elements=keys, set_=updates)
    _UPSERTS[(dialect, table.name)] = statement
    return statement


def _write(connection: Connection, acc: _Details) -> None:
    tables = _tables()
    rows: dict[str, list[dict[str, Any]]] = {
        "devices": [{"run_id": r, "device": d, "share_basis": b, **row}
                    for (r, d, b), row in sorted(acc.devices.items())],
        "intensities": [
            {"run_id": key[0], "intensity_kind": key[1], "source": key[2], "zone": key[3],
             "basis": key[4], "scope": key[5], "gases": key[6], **row}
            for key, row in sorted(acc.intensities.items())],
        "gaps": [{"run_id": r, "gap": g, **row} for (r, g), row in sorted(acc.gaps.items())],
        "work": [{"run_id": r, "unit": u, "count": c} for (r, u), c in sorted(acc.work.items())],
    }
    for name, table_rows in rows.items():  # a fixed table order, rows in key order: no deadlock
        if table_rows:
            table = tables[name]
            connection.execute(_upsert_statement(connection.dialect.name, table), table_rows)


def add_records(connection: Connection, records: Iterable[Mapping[str, Any]]) -> None:
    """Add newly inserted records (rows of the records table) to the detail rollups; like
    :func:`.rollups.add_records`, only the records this transaction inserted."""
    acc = _Details()
    for record in records:
        acc.add(record)
    _write(connection, acc)


def rebuild(connection: Connection) -> None:
    """Recompute the four tables from the records table, a chunk of records at a time."""
    from sqlalchemy import delete, select, tuple_

    from .models import IntervalRecord as r

    for table in _tables().values():
        connection.execute(delete(table))
    if connection.dialect.name == "postgresql":
        from sqlalchemy import text

        for statement in _REBUILD_SQL:  # set-based: no round trip per record
            connection.execute(text(statement))
        return
    columns = (r.run_id, r.seq, r.duration_s, r.energy_j, r.pue, r.intensity_g_per_kwh,
               r.intensity_zone, r.intensity_source, r.intensity_year, r.intensity_kind,
               r.intensity_live, r.intensity_basis, r.intensity_scope, r.intensity_gases,
               r.components, r.gaps, r.work)
    after: tuple[str, int] | None = None
    while True:  # keyset pages by (run_id, seq), the primary key's order
        query = select(*columns).order_by(r.run_id, r.seq).limit(_READ_CHUNK)
        if after is not None:
            query = query.where(tuple_(r.run_id, r.seq) > tuple_(*after))
        rows = connection.execute(query).mappings().all()
        if not rows:
            return
        add_records(connection, [dict(row) for row in rows])
        after = (rows[-1]["run_id"], rows[-1]["seq"])


# The same rows as _Details, computed by PostgreSQL from the records (the JSON columns expanded
# in place); "first"/"last" values are the first element of an array ordered by seq.
_REBUILD_SQL = (
    """
INSERT INTO rollup_run_devices (run_id, device, share_basis, component, method, first_seq,
  first_index, records, energy_j, share_s, seen_s, share_sum)
SELECT run_id, device, basis, (array_agg(component ORDER BY seq, idx))[1],
  (array_agg(method ORDER BY seq, idx))[1], min(seq), (array_agg(idx ORDER BY seq, idx))[1],
  count(*), sum(energy_j), sum(share * duration_s), sum(duration_s), sum(share)
FROM (SELECT r.run_id, r.seq, r.duration_s, c.value->>'device' AS device,
             coalesce(c.value->>'share_basis', '') AS basis,
             c.value->>'component' AS component, c.value->>'method' AS method,
             (c.idx - 1)::int AS idx, (c.value->>'energy_j')::float8 AS energy_j,
             coalesce((c.value->>'share')::float8, 1.0) AS share
      FROM records r
      CROSS JOIN LATERAL json_array_elements(r.components) WITH ORDINALITY AS c(value, idx)
      WHERE json_typeof(r.components) = 'array') AS x
GROUP BY run_id, device, basis
""",
    """
INSERT INTO rollup_run_intensities (run_id, intensity_kind, source, zone, basis, scope, gases,
  records, pue_energy_j, min_g_per_kwh, max_g_per_kwh, last_seq, last_g_per_kwh, max_year, live)
SELECT run_id, intensity_kind, intensity_source, intensity_zone, coalesce(intensity_basis, ''),
  coalesce(intensity_scope, ''), coalesce(intensity_gases, ''), count(*), sum(energy_j * pue),
  min(intensity_g_per_kwh), max(intensity_g_per_kwh), max(seq),
  (array_agg(intensity_g_per_kwh ORDER BY seq DESC))[1], max(intensity_year),
  max(CASE WHEN intensity_live THEN 1 ELSE 0 END)
FROM records WHERE intensity_kind IS NOT NULL AND intensity_kind <> ''
GROUP BY 1, 2, 3, 4, 5, 6, 7
""",
    """
INSERT INTO rollup_run_gaps (run_id, gap, first_seq, first_index)
SELECT run_id, gap, min(seq), (array_agg(idx ORDER BY seq, idx))[1]
FROM (SELECT r.run_id, r.seq, g.value AS gap, (g.idx - 1)::int AS idx
      FROM records r
      CROSS JOIN LATERAL json_array_elements_text(r.gaps) WITH ORDINALITY AS g(value, idx)
      WHERE json_typeof(r.gaps) = 'array') AS x
GROUP BY run_id, gap
""",
    """
INSERT INTO rollup_run_work (run_id, unit, count)
SELECT r.run_id, w.value->>'unit', sum((w.value->>'count')::float8)
FROM records r CROSS JOIN LATERAL json_array_elements(r.work) AS w(value)
WHERE json_typeof(r.work) = 'array'
GROUP BY 1, 2
""",
)
