"""Storing a validated batch: one transaction, multi-row idempotent upserts.

Rules (the contract every sender relies on):

- **All or nothing.** Every item is validated before anything is written, and the writes share
  one transaction: a refused batch leaves the database as it was.
- **Idempotent.** A record is identified by (run_id, seq) and a heartbeat by (run_id, at_s): the
  first one stored stays, a repeat counts as a duplicate. A span (run_id, span_id), a run's
  info and its summary (run_id) are replaced by the newer object (spans are running aggregates);
  a run's prediction (run_id) by one made after the same or a later record (its ``seq``).
  Within one batch the same rules apply in item order.
- **Out of order.** A record, span, heartbeat or summary may arrive before its run's info (an
  exporter retrying an older batch, two senders): it is accepted, and its run is created as a
  placeholder (``info_received`` false) in the key's project; the run info fills it in when it
  comes. Nothing is refused for arriving early, so a sender never has to reorder its spool.
- **Ownership.** The API key's project decides where a run is stored (the tracker's own project
  and experiment names are kept as ``reported_*``; the experiment is created under the key's
  project by that name). A run id already stored in another project is refused (403), and
  an upsert never moves or rewrites another project's run.
"""

from __future__ import annotations

from .validate import IngestError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Sequence

    from sqlalchemy import Table
    from sqlalchemy.engine import Connection

    from .validate import Validated

__all__ = ["IngestResult", "store_batch"]

# Rows per INSERT: SQLite allows 32,766 bound parameters per statement, PostgreSQL 65,535;
# the widest table has 25 columns.
_ROWS_PER_STATEMENT = 500


class IngestResult:
    __slots__ = ("accepted", "duplicates")

    def __init__(self, accepted: int, duplicates: int) -> None:
        self.accepted = accepted
        self.duplicates = duplicates


def _insert(connection: Connection, table: Table) -> Any:
    """The dialect's INSERT that has ``on_conflict_do_*`` (SQLite and PostgreSQL)."""
    name = connection.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    raise RuntimeError(f"the server supports SQLite and PostgreSQL, not {name}")


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        yield rows[start:start + _ROWS_PER_STATEMENT]


def _insert_new(connection: Connection, table: Table, rows: Sequence[dict[str, Any]],
                keys: Sequence[str]) -> int:
    """Insert the rows whose key is not stored yet; the number of rows inserted.

    The count comes from RETURNING (drivers disagree on the row count of a many-row insert:
    psycopg reports one statement's), so it stays exact when a concurrent request stores the
    same key at the same moment. Rows go in sorted by key, so two such requests take their
    key locks in one order and wait for each other instead of deadlocking.
    """
    if not rows:
        return 0
    columns = [table.c[k] for k in keys]
    ordered = sorted(rows, key=lambda row: tuple(row[k] for k in keys))
    # one cached statement, many parameter sets: SQLAlchemy sends multi-row batches
    # (insertmanyvalues) and gathers each batch's RETURNING rows
    stmt = (_insert(connection, table).on_conflict_do_nothing(index_elements=list(keys))
            .returning(*columns))
    return len(connection.execute(stmt, ordered).all())


def _replace(connection: Connection, table: Table, rows: Sequence[dict[str, Any]],
             keys: Sequence[str], where: Callable[[Any], Any] | None = None,
             keep: Sequence[str] = ()) -> None:
    """Insert rows, or overwrite the stored row with the same key (``where`` guards it;
    the ``keep`` columns stay as first stored)."""
    if not rows:
        return
    for chunk in _chunks(rows):
        stmt = _insert(connection, table).values(list(chunk))
        updates = {name: stmt.excluded[name] for name in chunk[0]
                   if name not in keys and name not in keep}
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates,
                                          where=where(stmt) if where is not None else None)
        connection.execute(stmt)


def _run_row(item: Any, project_id: int, experiment_id: int | None,
             now_s: float) -> dict[str, Any]:
    from ..wire import to_wire

    host, location, job = dict(item.host), dict(item.location), dict(item.job or {})
    return {
        "run_id": item.run_id, "project_id": project_id, "experiment_id": experiment_id,
        "info_received": True, "reported_project": item.project,
        "reported_experiment": item.experiment, "started_s": item.started_s,
        "scope": item.scope, "interval_s": item.interval_s, "pue": item.pue,
        "host_id": host.get("host_id"), "hostname": host.get("hostname"), "os": host.get("os"),
        "machine": host.get("machine"), "python": host.get("python"),
        "country": location.get("country"), "subdivision": location.get("subdivision"),
        "zone": location.get("zone"), "location_resolved_by": location.get("resolved_by"),
        "cloud": location.get("cloud"), "cloud_region": location.get("cloud_region"),
        "wattprint_version": item.wattprint_version, "job_id": job.get("job_id"),
        "node": job.get("node"), "node_rank": job.get("node_rank"), "rank": job.get("rank"),
        "wire": to_wire(item), "first_seen_s": now_s,
    }


def _span_row(item: Any) -> dict[str, Any]:
    from ..wire import to_wire

    return {"run_id": item.run_id, "span_id": item.span_id, "parent_id": item.parent_id,
            "name": item.name, "count": item.count, "first_start_s": item.first_start_s,
            "last_end_s": item.last_end_s, "duration_s": item.duration_s,
            "energy_j": item.energy_j, "emissions_g": item.emissions_g, "wire": to_wire(item)}


def _summary_row(item: Any) -> dict[str, Any]:
    from ..wire import to_wire

    return {"run_id": item.run_id, "status": item.status, "exit_code": item.exit_code,
            "duration_s": item.duration_s, "energy_j": float(item.energy_j.get("total", 0.0)),
            "emissions_g": item.emissions_g, "records": item.records, "wire": to_wire(item)}


def _prediction_row(item: Any) -> dict[str, Any]:
    from ..wire import to_wire

    return {"run_id": item.run_id, "seq": item.seq, "at_s": item.at_s, "unit": item.unit,
            "done": item.done, "total": item.total, "duration_s": item.duration_s,
            "energy_j": item.energy_j, "emissions_g": item.emissions_g, "end_s": item.end_s,
            "wire": to_wire(item)}


def _experiment_ids(connection: Connection, project_id: int, names: set[str]) -> dict[str, int]:
    from sqlalchemy import select

    from .models import Experiment

    table = Experiment.__table__
    if names:
        _insert_new(connection, table,  # type: ignore[arg-type]
                    [{"project_id": project_id, "name": name} for name in sorted(names)],
                    ("project_id", "name"))
    rows = connection.execute(select(Experiment.name, Experiment.id).where(
        Experiment.project_id == project_id, Experiment.name.in_(sorted(names))))
    return {name: id_ for name, id_ in rows}


def _claim_runs(connection: Connection, items: Sequence[Validated], project_id: int,
                now_s: float) -> None:
    """Create placeholders for runs not seen yet, then refuse run ids of another project.

    In this order, two requests racing to create one run id from two projects cannot both
    pass: the second one's insert waits for the first and then finds its row, owned by the
    other project (the transaction rolls back, placeholders included).
    """
    from sqlalchemy import select

    from .models import Run

    first_index: dict[str, int] = {}
    for v in items:
        first_index.setdefault(v.wire["run_id"], v.index)
    ids = sorted(first_index)
    placeholders = [{"run_id": run_id, "project_id": project_id, "info_received": False,
                     "first_seen_s": now_s} for run_id in ids]
    _insert_new(connection, Run.__table__, placeholders, ("run_id",))  # type: ignore[arg-type]
    for start in range(0, len(ids), _ROWS_PER_STATEMENT):
        chunk = ids[start:start + _ROWS_PER_STATEMENT]
        for run_id, owner in connection.execute(
                select(Run.run_id, Run.project_id).where(Run.run_id.in_(chunk))):
            if owner != project_id:
                raise IngestError(403, f"run {run_id} belongs to another project: this API "
                                       "key cannot write to it", index=first_index[run_id],
                                  field="run_id")


def store_batch(connection: Connection, items: Sequence[Validated], *, project_id: int,
                now_s: float) -> IngestResult:
    """Store validated items for the key's project (inside the caller's transaction)."""
    from .. import records as wire_items
    from .models import Heartbeat, Prediction, Run, Span, Summary
    from .record_insert import insert_records

    if not items:  # a sender checking its key
        return IngestResult(accepted=0, duplicates=0)
    _claim_runs(connection, items, project_id, now_s)
    duplicates = 0
    runs: dict[str, Any] = {}  # newer replaces: the last in the batch wins
    spans: dict[tuple[str, str], dict[str, Any]] = {}
    summaries: dict[str, dict[str, Any]] = {}
    predictions: dict[str, dict[str, Any]] = {}  # the latest (highest seq) in the batch wins
    records: dict[tuple[str, int], dict[str, Any]] = {}  # first stored stays
    beats: dict[tuple[str, float], dict[str, Any]] = {}
    for v in items:
        if v.row is not None:  # a record: its row is built from the wire (validate.py)
            key = (v.row["run_id"], v.row["seq"])
            if key in records:
                duplicates += 1
            else:
                records[key] = v.row
            continue
        item = v.item
        if isinstance(item, wire_items.RunInfo):
            runs[item.run_id] = item
        elif isinstance(item, wire_items.SpanRecord):
            spans[(item.run_id, item.span_id)] = _span_row(item)
        elif isinstance(item, wire_items.Heartbeat):
            beat_key = (item.run_id, item.at_s)
            if beat_key in beats:
                duplicates += 1
            else:
                beats[beat_key] = {"run_id": item.run_id, "at_s": item.at_s,
                                   "every_s": item.every_s}
        elif isinstance(item, wire_items.RunSummary):
            summaries[item.run_id] = _summary_row(item)
        elif isinstance(item, wire_items.Prediction):
            held = predictions.get(item.run_id)
            if held is None or item.seq >= held["seq"]:
                predictions[item.run_id] = _prediction_row(item)
        else:  # validate.py gives every record a row and every other type its item
            raise AssertionError(f"item {v.index}: no row and no item")
    if runs:
        experiments = _experiment_ids(connection, project_id,
                                      {info.experiment for info in runs.values()})
        rows = [_run_row(info, project_id, experiments[info.experiment], now_s)
                for info in runs.values()]
        run_table = Run.__table__
        _replace(connection, run_table, rows, ("run_id",),  # type: ignore[arg-type]
                 # never rewrite another project's run, even one created since _claim_runs
                 where=lambda stmt: run_table.c.project_id == stmt.excluded.project_id,
                 keep=("project_id", "first_seen_s"))
    if records:
        from . import rollups

        rows = list(records.values())
        stored = insert_records(connection, rows)  # exactly the rows this request inserted
        duplicates += len(rows) - len(stored)
        rollups.add_records(connection, stored)
    if beats:
        rows = list(beats.values())
        duplicates += len(rows) - _insert_new(
            connection, Heartbeat.__table__, rows, ("run_id", "at_s"))  # type: ignore[arg-type]
    if spans:
        _replace(connection, Span.__table__, list(spans.values()),  # type: ignore[arg-type]
                 ("run_id", "span_id"))
    if summaries:
        _replace(connection, Summary.__table__, list(summaries.values()),  # type: ignore[arg-type]
                 ("run_id",))
    if predictions:
        table = Prediction.__table__
        _replace(connection, table, list(predictions.values()),  # type: ignore[arg-type]
                 ("run_id",), where=lambda stmt: stmt.excluded.seq >= table.c.seq)
    return IngestResult(accepted=len(items) - duplicates, duplicates=duplicates)
