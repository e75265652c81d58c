"""Rollups: the read path of totals and the runs list, kept beside the records table.

Two tables (see :mod:`.models`) hold sums of a run's interval records, per kind of intensity
(average and marginal grams are never added into one another):

- ``rollup_runs``: per run, its records whole;
- ``rollup_run_hours``: per run and UTC hour. A record spanning an hour boundary is split pro
  rata of time (its power taken as even over its interval, the rule :mod:`.dedup` clips with),
  so an hour holds exactly the energy that fell in it; its ``records`` count goes to the hour
  the record starts in. ``first_seq``/``last_seq`` bound the sequence numbers of the records
  with a share in the hour: the query reading a partial edge hour from the records table reads
  each run's records by primary key between them (:mod:`.query`); ``first_start_s`` is the
  earliest start among them.

Exactness: :func:`add_records` is called by the ingest inside its transaction with exactly the
records that transaction inserted (a retried record is never added twice), and it writes
``column = column + excluded.column`` upserts, so two requests adding to one row add up
(PostgreSQL locks the row; SQLite has one writer). Rows are written in key order so concurrent
transactions lock them in the same order (no deadlock). :func:`rebuild` recomputes both tables
from the records (migration 0003 backfills with it).
:mod:`.rollup_details` keeps, the same way, what a running run's summary needs besides (its
devices, intensity provenance, gaps and work units); :func:`add_records` and :func:`rebuild`
maintain both.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping

    from sqlalchemy.engine import Connection

__all__ = ["HOUR_S", "SUM_COLUMNS", "add_records", "hour_of", "rebuild", "rebuild_sums"]

HOUR_S = 3600
COMPONENTS = ("cpu", "gpu", "ram", "other")
# the columns a rollup row adds up (besides first_/last_ start_s, end_s and seq: min / max)
SUM_COLUMNS = ("records", "duration_s", "energy_j", "cpu_energy_j", "gpu_energy_j",
               "ram_energy_j", "other_energy_j", "emissions_g", "cpu_emissions_g",
               "gpu_emissions_g", "ram_emissions_g", "other_emissions_g")
_READ_CHUNK = 20_000


def hour_of(time_s: float) -> int:
    """The start of the UTC hour holding ``time_s``."""
    return int(math.floor(time_s / HOUR_S)) * HOUR_S


def _shares(start_s: float, duration_s: float) -> list[tuple[int, float]]:
    """(hour, fraction of the record) for each hour the record has time in."""
    hour = hour_of(start_s)
    end_s = start_s + duration_s
    if duration_s <= 0 or end_s <= hour + HOUR_S:
        # within one hour: the whole record, exactly (a fraction computed from Unix times
        # would be off by their rounding, about 2e-7 s, relative to the duration)
        return [(hour, 1.0)]
    out = []
    while hour < end_s:
        inside_s = min(end_s, hour + HOUR_S) - max(start_s, hour)
        if inside_s > 0:
            out.append((hour, inside_s / duration_s))
        hour += HOUR_S
    return out


def _record_sums(record: Mapping[str, Any]) -> dict[str, float]:
    energy_j = float(record["energy_j"])
    grams = float(record["emissions_g"])
    sums = {"duration_s": float(record["duration_s"]), "energy_j": energy_j, "emissions_g": grams}
    for comp in COMPONENTS:
        comp_j = float(record[f"{comp}_energy_j"])
        sums[f"{comp}_energy_j"] = comp_j
        # a component's share of the record's grams is its share of the record's energy
        sums[f"{comp}_emissions_g"] = grams * comp_j / energy_j if energy_j > 0 else 0.0
    return sums


class _Accumulator:
    """Rollup rows being summed in memory, keyed like the tables."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], dict[str, float]] = {}
        self.hours: dict[tuple[str, int, str], dict[str, float]] = {}

    @staticmethod
    def _add(row: dict[str, float] | None, sums: Mapping[str, float], fraction: float,
             records: int, start_s: float, end_s: float, seq: int) -> dict[str, float]:
        if row is None:
            row = dict.fromkeys(SUM_COLUMNS, 0.0)
            row["records"] = 0
            row["first_start_s"], row["last_end_s"] = start_s, end_s
            row["first_seq"] = row["last_seq"] = seq
        for name, value in sums.items():
            row[name] += value * fraction
        row["records"] += records
        row["first_start_s"] = min(row["first_start_s"], start_s)
        row["last_end_s"] = max(row["last_end_s"], end_s)
        row["first_seq"] = min(row["first_seq"], seq)
        row["last_seq"] = max(row["last_seq"], seq)
        return row

    def add(self, record: Mapping[str, Any]) -> None:
        run_id, kind = record["run_id"], record.get("intensity_kind") or ""
        start_s, duration_s = float(record["start_s"]), float(record["duration_s"])
        end_s = start_s + max(duration_s, 0.0)
        sums = _record_sums(record)
        seq = int(record["seq"])
        self.runs[(run_id, kind)] = self._add(self.runs.get((run_id, kind)), sums, 1.0, 1,
                                              start_s, end_s, seq)
        first_hour = hour_of(start_s)
        for hour, fraction in _shares(start_s, duration_s):
            key = (run_id, hour, kind)
            self.hours[key] = self._add(self.hours.get(key), sums, fraction,
                                        1 if hour == first_hour else 0, start_s, end_s, seq)


def _tables() -> tuple[Any, Any]:
    from .models import RollupRun, RollupRunHour

    return RollupRun.__table__, RollupRunHour.__table__


# (dialect name, table name) -> its upsert: built once per process, so SQLAlchemy's compiled
# cache serves every later call (building the statement from rows each time recompiled it:
# ~18 us of the ingest's ~75 us per record at batches of 100)
_UPSERTS: dict[tuple[str, str], Any] = {}


def dialect_upsert(dialect: str) -> tuple[Any, Any, Any]:
    """The dialect's ``insert`` (with ON CONFLICT ... DO UPDATE) and its two-argument least and
    greatest functions, for the rollups' adding upserts."""
    from sqlalchemy import func

    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert, func.least, func.greatest
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert, func.min, func.max  # SQLite's two-argument min/max are scalar
    raise RuntimeError(f"the server supports SQLite and PostgreSQL, not {dialect}")


def _upsert_statement(dialect: str, table: Any, keys: tuple[str, ...]) -> Any:
    """``INSERT INTO table VALUES (:column, ...) ON CONFLICT (keys) DO UPDATE`` adding the sums
    into the stored row; executed with a list of rows (executemany)."""
    statement = _UPSERTS.get((dialect, table.name))
    if statement is not None:
        return statement
    insert, least, greatest = dialect_upsert(dialect)
    stmt = insert(table)
    updates: dict[str, Any] = {column: table.c[column] + stmt.excluded[column]
                               for column in SUM_COLUMNS}
    updates["first_start_s"] = least(table.c.first_start_s, stmt.excluded.first_start_s)
    updates["last_end_s"] = greatest(table.c.last_end_s, stmt.excluded.last_end_s)
    updates["first_seq"] = least(table.c.first_seq, stmt.excluded.first_seq)
    updates["last_seq"] = greatest(table.c.last_seq, stmt.excluded.last_seq)
    statement = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
    _UPSERTS[(dialect, table.name)] = statement
    return statement


def _upsert(connection: Connection, table: Any, keys: tuple[str, ...],
            rows: list[dict[str, Any]]) -> None:
    """Insert rows, or add them into the stored row with the same key (rows in the order
    given: the callers sort them by key)."""
    if not rows:
        return
    # executemany: the driver sends the rows in order (psycopg pipelines them; SQLAlchemy
    # may batch them into multi-row VALUES), with no bound-parameter limit to mind
    connection.execute(_upsert_statement(connection.dialect.name, table, keys), rows)


def _write(connection: Connection, acc: _Accumulator) -> None:
    run_table, hour_table = _tables()
    # key order: concurrent transactions take the row locks in the same order
    _upsert(connection, run_table, ("run_id", "intensity_kind"),
            [{"run_id": run_id, "intensity_kind": kind, **row}
             for (run_id, kind), row in sorted(acc.runs.items())])
    _upsert(connection, hour_table, ("run_id", "hour_start_s", "intensity_kind"),
            [{"run_id": run_id, "hour_start_s": hour, "intensity_kind": kind, **row}
             for (run_id, hour, kind), row in sorted(acc.hours.items())])


def add_records(connection: Connection, records: Iterable[Mapping[str, Any]]) -> None:
    """Add newly inserted records (rows of the records table, as dicts) to the rollups.

    Call it in the transaction that inserted them, with only the records that transaction
    inserted: a record added twice is counted twice."""
    from . import rollup_details

    rows = records if isinstance(records, (list, tuple)) else list(records)
    acc = _Accumulator()
    for record in rows:
        acc.add(record)
    _write(connection, acc)
    rollup_details.add_records(connection, rows)  # what a running run's summary needs besides


def rebuild(connection: Connection) -> int:
    """Recompute every rollup table from the records table; the number of records read."""
    from . import rollup_details

    count = rebuild_sums(connection)
    rollup_details.rebuild(connection)
    return count


def rebuild_sums(connection: Connection) -> int:
    """Recompute ``rollup_runs`` and ``rollup_run_hours`` from the records table (migration
    0003, which predates the detail tables); the number of records read.

    Streams the records by run, so memory holds one chunk and the rollup rows of the runs in it.
    """
    from sqlalchemy import delete, select

    from .models import IntervalRecord as r

    run_table, hour_table = _tables()
    connection.execute(delete(hour_table))
    connection.execute(delete(run_table))
    if connection.dialect.name == "postgresql":
        return _rebuild_in_postgresql(connection)
    columns = (r.run_id, r.seq, r.start_s, r.duration_s, r.energy_j, r.cpu_energy_j,
               r.gpu_energy_j, r.ram_energy_j, r.other_energy_j, r.emissions_g, r.intensity_kind)
    count = 0
    after: tuple[str, int] | None = None
    while True:  # keyset pages by (run_id, seq): the primary key's order, no server cursor
        query = select(*columns).order_by(r.run_id, r.seq).limit(_READ_CHUNK)
        if after is not None:
            from sqlalchemy import tuple_

            query = query.where(tuple_(r.run_id, r.seq) > tuple_(*after))
        rows = connection.execute(query).mappings().all()
        if not rows:
            return count
        acc = _Accumulator()
        for row in rows:
            acc.add(dict(row))
        _write(connection, acc)
        count += len(rows)
        after = (rows[-1]["run_id"], rows[-1]["seq"])


# The same sums as _Accumulator, set-based: PostgreSQL splits each record over the hours it
# has time in (generate_series), so rebuilding 10 million records needs no round trip per row.
_SHARES_SQL = """
WITH parts AS (
  -- most records lie within one hour: no series to generate for them
  SELECT r.run_id, coalesce(r.intensity_kind, '') AS kind, r.seq,
         (floor(r.start_s / {hour}) * {hour})::bigint AS hour, r.start_s,
         r.start_s + greatest(r.duration_s, 0) AS end_s, 1.0 AS share, 1 AS counted,
         r.duration_s, r.energy_j, r.cpu_energy_j, r.gpu_energy_j, r.ram_energy_j,
         r.other_energy_j, r.emissions_g,
         CASE WHEN r.energy_j > 0 THEN r.emissions_g / r.energy_j ELSE 0 END AS g_per_j
  FROM records r
  WHERE r.duration_s <= 0
     OR ceil((r.start_s + r.duration_s) / {hour}) - floor(r.start_s / {hour}) <= 1
  UNION ALL
  SELECT r.run_id, coalesce(r.intensity_kind, ''), r.seq, h.hour, r.start_s,
         r.start_s + r.duration_s,
         (least(r.start_s + r.duration_s, h.hour + {hour}) - greatest(r.start_s, h.hour))
           / r.duration_s,
         CASE WHEN h.hour = floor(r.start_s / {hour}) * {hour} THEN 1 ELSE 0 END,
         r.duration_s, r.energy_j, r.cpu_energy_j, r.gpu_energy_j, r.ram_energy_j,
         r.other_energy_j, r.emissions_g,
         CASE WHEN r.energy_j > 0 THEN r.emissions_g / r.energy_j ELSE 0 END
  FROM records r
  CROSS JOIN LATERAL generate_series(
      (floor(r.start_s / {hour}) * {hour})::bigint,
      (ceil((r.start_s + r.duration_s) / {hour}) * {hour})::bigint - {hour}, {hour}) AS h(hour)
  WHERE r.duration_s > 0
    AND ceil((r.start_s + r.duration_s) / {hour}) - floor(r.start_s / {hour}) > 1
)
INSERT INTO rollup_run_hours (run_id, hour_start_s, intensity_kind, records, duration_s,
  energy_j, cpu_energy_j, gpu_energy_j, ram_energy_j, other_energy_j, emissions_g,
  cpu_emissions_g, gpu_emissions_g, ram_emissions_g, other_emissions_g, first_start_s,
  last_end_s, first_seq, last_seq)
SELECT run_id, hour, kind, sum(counted), sum(duration_s * share), sum(energy_j * share),
  sum(cpu_energy_j * share), sum(gpu_energy_j * share), sum(ram_energy_j * share),
  sum(other_energy_j * share), sum(emissions_g * share),
  sum(g_per_j * cpu_energy_j * share), sum(g_per_j * gpu_energy_j * share),
  sum(g_per_j * ram_energy_j * share), sum(g_per_j * other_energy_j * share),
  min(start_s), max(end_s), min(seq), max(seq)
FROM parts WHERE share > 0 OR duration_s <= 0
GROUP BY run_id, hour, kind
""".format(hour=HOUR_S)

_RUNS_SQL = """
INSERT INTO rollup_runs (run_id, intensity_kind, records, duration_s, energy_j, cpu_energy_j,
  gpu_energy_j, ram_energy_j, other_energy_j, emissions_g, cpu_emissions_g, gpu_emissions_g,
  ram_emissions_g, other_emissions_g, first_start_s, last_end_s, first_seq, last_seq)
SELECT run_id, kind, count(*), sum(duration_s), sum(energy_j), sum(cpu_energy_j),
  sum(gpu_energy_j), sum(ram_energy_j), sum(other_energy_j), sum(emissions_g),
  sum(g_per_j * cpu_energy_j), sum(g_per_j * gpu_energy_j), sum(g_per_j * ram_energy_j),
  sum(g_per_j * other_energy_j), min(start_s), max(start_s + greatest(duration_s, 0)),
  min(seq), max(seq)
FROM (SELECT r.*, coalesce(r.intensity_kind, '') AS kind,
             CASE WHEN r.energy_j > 0 THEN r.emissions_g / r.energy_j ELSE 0 END AS g_per_j
      FROM records r) AS x
GROUP BY run_id, kind
"""


def _rebuild_in_postgresql(connection: Connection) -> int:
    from sqlalchemy import text

    connection.execute(text(_SHARES_SQL))
    connection.execute(text(_RUNS_SQL))
    count: int = connection.execute(
        text("SELECT coalesce(sum(records), 0) FROM rollup_runs")).scalar_one()
    return int(count)
