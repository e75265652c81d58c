"""One batch of wire items -> rows, inside the caller's transaction.

Every statement is safe to replay, because the exporter retries and spools (the same batch may
arrive twice, or an old spooled batch after a newer one):

- run info: inserted when absent, never overwritten;
- records: inserted unless ``(run_id, seq)`` is already there;
- spans: upserted by ``(run_id, span_id)``, but only by an aggregate with at least as many
  instances: aggregates only grow, so an older replay never replaces a newer row;
- heartbeats (and each record's end): ``heartbeat_s`` only moves forward;
- predictions: one per run, replaced only by one made after the same or a later record;
- the summary: final status and totals.
"""

from __future__ import annotations

import json
import sqlite3

from .._struct import field_names
from ..errors import StoreError
from ..records import (
    RECORD_COLUMNS,
    Heartbeat,
    Prediction,
    Record,
    RunInfo,
    RunSummary,
    SpanRecord,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterable

    from ..wire import Item

__all__ = ["SPAN_COLUMNS", "apply_batch"]

SPAN_COLUMNS: tuple[str, ...] = field_names(SpanRecord)

# ON CONFLICT ... DO NOTHING, not INSERT OR IGNORE: OR IGNORE would also silently skip a row
# that breaks a NOT NULL constraint (a NaN is bound as NULL), and a bad row must fail the batch.
_INSERT_RECORD = (
    f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in RECORD_COLUMNS)}) ON CONFLICT (run_id, seq) DO NOTHING"
)
_UPSERT_SPAN = (
    f"INSERT INTO spans ({', '.join(SPAN_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in SPAN_COLUMNS)}) "
    "ON CONFLICT (run_id, span_id) DO UPDATE SET "
    + ", ".join(f"{c}=excluded.{c}" for c in SPAN_COLUMNS if c not in ("run_id", "span_id"))
    + " WHERE excluded.count >= spans.count"
)
_INSERT_RUN = (
    "INSERT INTO runs (run_id, project, experiment, started_s, status, hostname, pid,"
    " info_json, job_id, host_id, tracker_pid, heartbeat_s)"
    " VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING"
)
_UPSERT_PREDICTION = (
    "INSERT INTO predictions (run_id, seq, at_s, unit, done, total, duration_s, energy_j,"
    " emissions_g, end_s, prediction_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (run_id) DO UPDATE SET seq=excluded.seq, at_s=excluded.at_s,"
    " unit=excluded.unit, done=excluded.done, total=excluded.total,"
    " duration_s=excluded.duration_s, energy_j=excluded.energy_j,"
    " emissions_g=excluded.emissions_g, end_s=excluded.end_s,"
    " prediction_json=excluded.prediction_json WHERE excluded.seq >= predictions.seq"
)
_SEEN = ("UPDATE runs SET heartbeat_s = max(coalesce(heartbeat_s, ?), ?) WHERE run_id = ?")


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _insert_run(db: sqlite3.Connection, info: RunInfo) -> None:
    host = info.host
    db.execute(_INSERT_RUN, (
        info.run_id, info.project, info.experiment, info.started_s, host.get("hostname"),
        _int_or_none(host.get("pid")), json.dumps(info.to_dict()), (info.job or {}).get("job_id"),
        host.get("host_id"), _int_or_none(host.get("tracker_pid")),
        # "last seen" starts at the run's start: a run delivered late from the spool must not
        # look alive because it was written now.
        info.started_s,
    ))


def _require_run(db: sqlite3.Connection, run_id: str, known: set[str]) -> None:
    if run_id in known:
        return
    if db.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone() is None:
        raise StoreError(
            f"run {run_id!r} is not in the store, and this batch does not carry its run info; "
            "the run info must be exported first (this is a bug in the exporter or a "
            "third-party producer: report it)")
    known.add(run_id)


def _record_row(record: Record) -> tuple[object, ...]:
    row = record.to_row()
    return tuple(row[c] for c in RECORD_COLUMNS)


def _span_row(span: SpanRecord) -> tuple[object, ...]:
    data = span.to_dict()
    data["work"] = json.dumps(data["work"])
    return tuple(data[c] for c in SPAN_COLUMNS)


def apply_batch(db: sqlite3.Connection, batch: Iterable[Item]) -> None:
    """Write ``batch``; the caller owns the transaction (and rolls back if this raises)."""
    known: set[str] = set()
    records: list[tuple[object, ...]] = []
    seen: dict[str, float] = {}  # run_id -> latest moment the tracker was known alive
    for item in batch:
        if isinstance(item, RunInfo):
            _insert_run(db, item)
            known.add(item.run_id)
        elif isinstance(item, Record):
            _require_run(db, item.run_id, known)
            records.append(_record_row(item))
            # A record is cut by a live tracker: its end is a heartbeat too.
            end_s = item.start_s + item.duration_s
            seen[item.run_id] = max(seen.get(item.run_id, end_s), end_s)
        elif isinstance(item, SpanRecord):
            _require_run(db, item.run_id, known)
            db.execute(_UPSERT_SPAN, _span_row(item))
        elif isinstance(item, Heartbeat):
            _require_run(db, item.run_id, known)
            seen[item.run_id] = max(seen.get(item.run_id, item.at_s), item.at_s)
            db.execute("UPDATE runs SET heartbeat_every_s=? WHERE run_id=?",
                       (item.every_s, item.run_id))
        elif isinstance(item, Prediction):
            _require_run(db, item.run_id, known)
            db.execute(_UPSERT_PREDICTION, (
                item.run_id, item.seq, item.at_s, item.unit, item.done, item.total,
                item.duration_s, item.energy_j, item.emissions_g, item.end_s,
                json.dumps(item.to_dict())))
        elif isinstance(item, RunSummary):
            _require_run(db, item.run_id, known)
            db.execute(
                "UPDATE runs SET status=?, ended_s=?, duration_s=?, energy_j=?, emissions_g=?,"
                " exit_code=?, summary_json=? WHERE run_id=?",
                (item.status, item.started_s + item.duration_s, item.duration_s,
                 item.energy_j.get("total"), item.emissions_g, item.exit_code, item.dumps(),
                 item.run_id))
        else:
            raise StoreError(f"the store cannot write a {type(item).__name__}; expected one of "
                             "RunInfo, Record, SpanRecord, Heartbeat, Prediction, RunSummary")
    if records:
        db.executemany(_INSERT_RECORD, records)
    for run_id, at_s in seen.items():
        db.execute(_SEEN, (at_s, at_s, run_id))
