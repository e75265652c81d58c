"""The read API shared by the CLI, the local dashboard and the team server.

:class:`Repository` is the protocol; :class:`SqliteRepository` implements it over one store file
or over every per-node file of a store directory on a network file system (merged: newest first
across files, a run found in two files counted once). A server implements the same protocol on
its own database.

Runs are listed newest first with an opaque cursor (keyset pagination on ``(started_s,
run_id)``, so a page is stable while new runs arrive). ``status`` is the *effective* status:
a stored ``running`` run whose tracker is gone reads ``interrupted``
(:mod:`wattprint.store.liveness`).
"""

from __future__ import annotations

import base64
import binascii
import heapq
import itertools
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence, runtime_checkable

from .._struct import asdict, dataclass, field
from ..errors import StoreError
from ..records import (
    RECORD_COLUMNS,
    Prediction,
    Record,
    RunAccumulator,
    RunInfo,
    RunSummary,
    SpanRecord,
)
from .buckets import BOUNDS_SQL, bucket_rows, bucket_sql
from .liveness import Liveness, effective_status, pid_alive
from .source import Source
from .writer import SPAN_COLUMNS

__all__ = [
    "AGGREGATE_KEYS",
    "FIGURE_COLUMNS",
    "Aggregate",
    "Page",
    "Repository",
    "RunFilter",
    "RunRow",
    "SqliteRepository",
    "Source",
]

AGGREGATE_KEYS = ("project", "experiment", "day", "host", "component", "region")
_COMPONENTS = ("cpu", "gpu", "ram", "other")
#: The columns of :meth:`SqliteRepository.record_figures`, in order.
FIGURE_COLUMNS = ("seq", "start_s", "duration_s", "cpu_energy_j", "gpu_energy_j", "ram_energy_j",
                  "other_energy_j", "energy_j", "pue", "emissions_g", "intensity_g_per_kwh", "gaps")
_CHUNK = 200  # rows fetched per query while walking a file's runs


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs; every field that is set must match. Times are Unix seconds on ``started_s``
    (``since_s`` inclusive, ``until_s`` exclusive). ``host`` matches a host name or host id."""

    project: str | None = None
    experiment: str | None = None
    status: str | None = None  # running | interrupted | finished | failed (effective status)
    host: str | None = None
    job_id: str | None = None
    since_s: float | None = None
    until_s: float | None = None


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    project: str
    experiment: str
    started_s: float
    ended_s: float | None
    status: str  # effective: running | finished | failed | interrupted
    hostname: str | None
    duration_s: float | None
    energy_j: float | None
    emissions_g: float | None
    exit_code: int | None
    job_id: str | None = None
    host_id: str | None = None
    heartbeat_s: float | None = None  # last seen (wall clock), while running

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Page:
    items: list[RunRow]
    next_cursor: str | None  # pass back as ``cursor`` for the next page; None on the last


@dataclass(frozen=True, slots=True)
class Aggregate:
    """Totals of one group of runs. Average (attributional) and marginal grams answer different
    questions: ``emissions_by_kind`` keeps them apart, and ``kind`` is ``"mixed"`` when the
    group holds both (its ``emissions_g`` is then a plain sum, to be read per kind)."""

    key: str
    runs: int
    duration_s: float
    energy_j: float
    emissions_g: float
    emissions_by_kind: dict[str, float] = field(default_factory=dict)

    @property
    def kind(self) -> str | None:
        kinds = sorted(self.emissions_by_kind)
        return None if not kinds else kinds[0] if len(kinds) == 1 else "mixed"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = self.kind
        return data


@runtime_checkable
class Repository(Protocol):
    """Reading stored runs. Raises :class:`~wattprint.errors.StoreError` for unknown runs."""

    def runs(self, filter: RunFilter | None = None, *, limit: int = 50,
             cursor: str | None = None) -> Page: ...

    def resolve_id(self, prefix: str) -> str: ...

    def info(self, run_id: str) -> RunInfo: ...

    def summary(self, run_id: str) -> RunSummary: ...

    def records(self, run_id: str, *, since_seq: int | None = None,
                limit: int | None = 1000) -> list[Record]: ...

    def spans(self, run_id: str) -> list[SpanRecord]: ...

    def rescores(self, run_id: str) -> list[dict[str, Any]]: ...

    def prediction(self, run_id: str) -> Prediction | None: ...

    def aggregate(self, by: str, filter: RunFilter | None = None) -> list[Aggregate]: ...

    def close(self) -> None: ...


def encode_cursor(started_s: float, run_id: str) -> str:
    raw = json.dumps([started_s, run_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started_s, run_id = json.loads(raw)
        return float(started_s), str(run_id)
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error):  # 1e400, [[[...
        raise StoreError(f"invalid cursor {cursor!r}: pass the next_cursor of a previous page "
                         "unchanged") from None


_RUN_COLUMNS = ("run_id, project, experiment, started_s, ended_s, status, hostname, pid,"
                " duration_s, energy_j, emissions_g, exit_code, job_id, host_id, tracker_pid,"
                " heartbeat_s, heartbeat_every_s")


def _where(filter: RunFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    for column in ("project", "experiment", "job_id"):
        value = getattr(filter, column)
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if filter.host is not None:
        where.append("(hostname = ? OR host_id = ?)")
        args += [filter.host, filter.host]
    if filter.since_s is not None:
        where.append("started_s >= ?")
        args.append(filter.since_s)
    if filter.until_s is not None:
        where.append("started_s < ?")
        args.append(filter.until_s)
    if filter.status is not None:
        # Only a stored `running` row can be effectively `interrupted`; the rest is exact.
        if filter.status in ("running", "interrupted"):
            where.append("status IN ('running', 'interrupted')")
        else:
            where.append("status = ?")
            args.append(filter.status)
    return where, args


class SqliteRepository:
    """:class:`Repository` over one or more open store files.

    ``host_id``/``hostname`` (this machine), ``clock`` (wall clock) and ``pid_alive`` feed the
    liveness rule; tests inject them. ``notices`` holds what a reader should tell the user
    (files moved aside as corrupted, files skipped).
    """

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        host_id: str | None = None,
        hostname: str | None = None,
        clock: Callable[[], float] = time.time,
        pid_alive: Callable[[int], bool] = pid_alive,
        notices: Sequence[str] = (),
    ) -> None:
        self.sources = list(sources)
        self.host_id = host_id
        self.hostname = hostname
        self._clock = clock
        self._pid_alive = pid_alive
        self.notices = list(notices)
        # run id -> (its records' fingerprint, their sums): see _record_sums
        self._sums: dict[str, tuple[tuple[tuple[int, int, int], ...],
                                    dict[str | None, dict[str, float]]]] = {}
        self._sums_lock = threading.Lock()

    @property
    def paths(self) -> list[Path]:
        return [s.path for s in self.sources]

    def close(self) -> None:
        for source in self.sources:
            if source.owned:
                with source.lock:
                    source.db.close()

    # -- runs -----------------------------------------------------------------------------
    def _status(self, row: sqlite3.Row, now_s: float) -> str:
        return effective_status(
            Liveness(status=row["status"], host_id=row["host_id"], hostname=row["hostname"],
                     tracker_pid=row["tracker_pid"], pid=row["pid"],
                     heartbeat_s=row["heartbeat_s"], heartbeat_every_s=row["heartbeat_every_s"]),
            now_s=now_s, host_id=self.host_id, hostname=self.hostname, pid_alive=self._pid_alive)

    def _run_row(self, row: sqlite3.Row, now_s: float) -> RunRow:
        return RunRow(
            run_id=row["run_id"], project=row["project"], experiment=row["experiment"],
            started_s=row["started_s"], ended_s=row["ended_s"], status=self._status(row, now_s),
            hostname=row["hostname"], duration_s=row["duration_s"], energy_j=row["energy_j"],
            emissions_g=row["emissions_g"], exit_code=row["exit_code"], job_id=row["job_id"],
            host_id=row["host_id"], heartbeat_s=row["heartbeat_s"],
        )

    def _walk(self, source: Source, filter: RunFilter, after: tuple[float, str] | None,
              columns: str = _RUN_COLUMNS) -> Iterator[sqlite3.Row]:
        """``source``'s runs matching ``filter`` (but status), newest first, after ``after``."""
        where, args = _where(filter)
        while True:
            keyset, keyargs = [], []
            if after is not None:
                keyset = ["(started_s < ? OR (started_s = ? AND run_id < ?))"]
                keyargs = [after[0], after[0], after[1]]
            clauses = where + keyset
            sql = (f"SELECT {columns} FROM runs"
                   + (" WHERE " + " AND ".join(clauses) if clauses else "")
                   + " ORDER BY started_s DESC, run_id DESC LIMIT ?")
            rows = source.query(sql, [*args, *keyargs, _CHUNK])
            yield from rows
            if len(rows) < _CHUNK:
                return
            after = (rows[-1]["started_s"], rows[-1]["run_id"])

    def _matching(self, filter: RunFilter, after: tuple[float, str] | None = None,
                  columns: str = _RUN_COLUMNS) -> Iterator[tuple[sqlite3.Row, str]]:
        """(row, effective status) of every matching run across files, newest first."""
        now_s = self._clock()
        merged = heapq.merge(*(self._walk(s, filter, after, columns) for s in self.sources),
                             key=lambda r: (r["started_s"], r["run_id"]), reverse=True)
        for _, copies in itertools.groupby(merged, key=lambda r: (r["started_s"], r["run_id"])):
            # The same run in two files (a spool delivered on another node): prefer the copy
            # that knows how the run ended.
            group = list(copies)
            row = next((r for r in group if r["status"] != "running"), group[0])
            status = self._status(row, now_s)
            if filter.status is None or status == filter.status:
                yield row, status

    def runs(self, filter: RunFilter | None = None, *, limit: int = 50,
             cursor: str | None = None) -> Page:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        filter = filter or RunFilter()
        after = decode_cursor(cursor) if cursor else None
        now_s = self._clock()
        rows = list(itertools.islice(self._matching(filter, after), limit + 1))
        items = [self._run_row(row, now_s) for row, _ in rows[:limit]]
        more = len(rows) > limit
        return Page(items=items,
                    next_cursor=encode_cursor(items[-1].started_s, items[-1].run_id)
                    if more else None)

    def resolve_id(self, prefix: str) -> str:
        """The full run id for a unique prefix (as git does for commits)."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found: set[str] = set()
        for source in self.sources:
            rows = source.query("SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' LIMIT 2",
                                (pattern,))
            found.update(str(r[0]) for r in rows)
        if prefix in found:
            return prefix
        if not found:
            where = ", ".join(str(p) for p in self.paths) or "the store (no store file yet)"
            raise StoreError(f"no run matches {prefix!r} in {where}; see `wattprint runs`")
        if len(found) > 1:
            raise StoreError(f"{prefix!r} matches several runs ({', '.join(sorted(found)[:5])}); "
                             "give more characters")
        return found.pop()

    # -- one run ----------------------------------------------------------------------------
    def _find(self, run_id: str) -> tuple[Source, sqlite3.Row]:
        for source in self.sources:
            rows = source.query(f"SELECT {_RUN_COLUMNS}, info_json, summary_json FROM runs "
                                "WHERE run_id=?", (run_id,))
            if rows:
                return source, rows[0]
        where = ", ".join(str(p) for p in self.paths) or "the store"
        raise StoreError(f"no run {run_id!r} in {where}; see `wattprint runs`")

    def info(self, run_id: str) -> RunInfo:
        _, row = self._find(run_id)
        return RunInfo.from_dict(json.loads(row["info_json"]))

    def summary(self, run_id: str) -> RunSummary:
        """The stored summary of a finished run, or one rebuilt from its records (with its
        latest prediction)."""
        source, row = self._find(run_id)
        if row["summary_json"]:
            return RunSummary.from_json(json.loads(row["summary_json"]))
        info = RunInfo.from_dict(json.loads(row["info_json"]))
        acc = RunAccumulator()  # streamed: a week-long run has 600,000 records
        since: int | None = None
        while True:
            batch = self._records_from(source, run_id, since, 5000)
            for record in batch:
                acc.add(record)
            if len(batch) < 5000:
                break
            since = batch[-1].seq
        summary = acc.summary(info, spans=self.spans(run_id),
                              status=self._status(row, self._clock()))
        prediction = self.prediction(run_id)
        if prediction is None:
            return summary
        from .._struct import replace

        return replace(summary, prediction=prediction.to_dict())

    @staticmethod
    def _records_from(source: Source, run_id: str, since_seq: int | None,
                      limit: int | None) -> list[Record]:
        # LIMIT -1 is SQLite's "no limit"; seq >= -2**63 is every record.
        rows = source.query("SELECT * FROM records WHERE run_id=? AND seq > ? ORDER BY seq LIMIT ?",
                            (run_id, -(2**63) if since_seq is None else since_seq,
                             -1 if limit is None else limit))
        return [Record.from_row(dict(r)) for r in rows]

    def records(self, run_id: str, *, since_seq: int | None = None,
                limit: int | None = 1000) -> list[Record]:
        """Records of ``run_id`` with ``seq > since_seq`` (``None``: from the first), in order,
        at most ``limit`` (``None``: all). A live view polls with the last seq it holds.

        The recorder numbers records from 1; stores written by earlier versions from 0, which
        is why "from the first" is ``None`` rather than 0.
        """
        found: dict[int, Record] = {}
        for source in self.sources:
            for record in self._records_from(source, run_id, since_seq, limit):
                found.setdefault(record.seq, record)
        ordered = [found[seq] for seq in sorted(found)]
        return ordered if limit is None else ordered[:limit]

    def record_figures(self, run_id: str) -> list[tuple[Any, ...]]:
        """Every record's :data:`FIGURE_COLUMNS` (``gaps`` as its JSON text), in seq order.

        What a chart needs from a long run without building each :class:`Record` (decoding
        its devices costs ~10x the read: a week at 1 s is 600,000 records)."""
        found: dict[int, tuple[Any, ...]] = {}
        sql = f"SELECT {', '.join(FIGURE_COLUMNS)} FROM records WHERE run_id=? ORDER BY seq"
        for source in self.sources:
            with source.lock:  # tuples, not sqlite3.Row: half the cost for 10^5 rows
                cursor = source.db.execute(sql, (run_id,))
                cursor.row_factory = None
                rows = cursor.fetchall()
            for row in rows:
                found.setdefault(row[0], tuple(row))
        return [found[seq] for seq in sorted(found)] if len(self.sources) > 1 \
            else list(found.values())

    def record_rows(self, run_id: str, columns: Sequence[str], *, since_seq: int | None = None,
                    limit: int | None = None) -> list[tuple[Any, ...]]:
        """Raw rows of ``run_id``'s records: ``columns`` (names of :class:`Record`'s fields,
        ``seq`` first) with ``seq > since_seq``, in seq order, at most ``limit``.

        What a download or a scan of a long run reads instead of :meth:`records`: the values
        as SQLite holds them, no :class:`Record` built (``intensity_live`` 0/1, ``components``,
        ``gaps`` and ``work`` as their JSON text). A run in two files counts each seq once."""
        if not columns or columns[0] != "seq" or not set(columns) <= set(RECORD_COLUMNS):
            raise ValueError(f"record_rows: columns must start with 'seq' and be among "
                             f"{RECORD_COLUMNS}, not {tuple(columns)}")
        sql = (f"SELECT {', '.join(columns)} FROM records WHERE run_id=? AND seq > ? "
               "ORDER BY seq LIMIT ?")
        args = (run_id, -(2**63) if since_seq is None else since_seq,
                -1 if limit is None else limit)
        found: dict[int, tuple[Any, ...]] = {}
        for source in self.sources:
            with source.lock:  # tuples, not sqlite3.Row
                cursor = source.db.execute(sql, args)
                cursor.row_factory = None
                rows = cursor.fetchall()
            if len(self.sources) == 1:
                return rows
            for row in rows:
                found.setdefault(row[0], row)
        ordered = [found[seq] for seq in sorted(found)]
        return ordered if limit is None else ordered[:limit]

    def _record_sources(self, run_id: str) -> list[Source]:
        return [s for s in self.sources
                if s.query("SELECT 1 FROM records WHERE run_id=? LIMIT 1", (run_id,))]

    def record_bounds(self, run_id: str) -> tuple[int, float | None, float | None]:
        """(records, earliest start, latest end) of ``run_id``'s records: what picks a chart's
        bucket width (:mod:`.buckets`)."""
        holding = self._record_sources(run_id)
        if len(holding) > 1:  # a run in two files: count each seq once
            rows = self.record_figures(run_id)
            if not rows:
                return 0, None, None
            return (len(rows), min(r[1] for r in rows), max(r[1] + r[2] for r in rows))
        if not holding:
            return 0, None, None
        with holding[0].lock:
            count, first, last = holding[0].db.execute(BOUNDS_SQL, {"run_id": run_id}).fetchone()
        return int(count), first, last

    def record_buckets(self, run_id: str, *, origin_s: float,
                       width_s: float) -> list[tuple[Any, ...]]:
        """``run_id``'s records summed per bucket of ``width_s`` from ``origin_s`` (at most
        the earliest start): :data:`.buckets.BUCKET_COLUMNS` rows in time order, summed by
        SQLite (in Python for a run whose records lie in several files)."""
        holding = self._record_sources(run_id)
        if len(holding) > 1:
            return bucket_rows(self.record_figures(run_id), origin_s, width_s)
        if not holding:
            return []
        source = holding[0]
        with source.lock:  # tuples, not sqlite3.Row
            cursor = source.db.execute(bucket_sql("sqlite"), {
                "run_id": run_id, "origin_s": origin_s, "width_s": width_s})
            cursor.row_factory = None
            return [tuple(row) for row in cursor.fetchall()]

    def spans(self, run_id: str) -> list[SpanRecord]:
        found: dict[str, SpanRecord] = {}
        for source in self.sources:
            rows = source.query(f"SELECT {', '.join(SPAN_COLUMNS)} FROM spans WHERE run_id=?"
                                " ORDER BY first_start_s, span_id", (run_id,))
            for r in rows:
                span = SpanRecord.from_dict(dict(r))
                if span.span_id not in found or span.count > found[span.span_id].count:
                    found[span.span_id] = span
        return sorted(found.values(), key=lambda s: (s.first_start_s, s.span_id))

    def prediction(self, run_id: str) -> Prediction | None:
        """The run's latest prediction of its totals (None when it made none)."""
        found: Prediction | None = None
        for source in self.sources:
            for row in source.query("SELECT prediction_json FROM predictions WHERE run_id=?",
                                    (run_id,)):
                prediction = Prediction.from_dict(json.loads(row[0]))
                if found is None or prediction.seq > found.seq:
                    found = prediction
        return found

    def process_prediction(self, *, tracker_pid: int, host_id: str,
                           since_s: float) -> Prediction | None:
        """The latest prediction of a run tracked by process ``tracker_pid`` on ``host_id``
        that started at ``since_s`` or later (``wattprint run`` shows the prediction of the
        program it runs when that program tracks its own work)."""
        found: Prediction | None = None
        for source in self.sources:
            for row in source.query(
                    "SELECT p.prediction_json FROM predictions p JOIN runs r USING (run_id)"
                    " WHERE r.tracker_pid=? AND r.host_id=? AND r.started_s>=?"
                    " ORDER BY p.at_s DESC LIMIT 1", (tracker_pid, host_id, since_s)):
                prediction = Prediction.from_dict(json.loads(row[0]))
                if found is None or prediction.at_s > found.at_s:
                    found = prediction
        return found

    def rescores(self, run_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for source in self.sources:
            rows = source.query(
                "SELECT provider, created_s, emissions_g, intensity_g_per_kwh, kind FROM rescores"
                " WHERE run_id=? ORDER BY created_s", (run_id,))
            out += [dict(r) for r in rows]
        return sorted(out, key=lambda r: r["created_s"])

    def rescores_with_detail(self, run_id: str) -> list[dict[str, Any]]:
        """:meth:`rescores` with each one's ``detail`` (``Rescore.to_json()``): the rows as
        ``wattprint push`` sends them to the team server."""
        out: list[dict[str, Any]] = []
        for source in self.sources:
            rows = source.query(
                "SELECT provider, created_s, emissions_g, intensity_g_per_kwh, kind, detail_json"
                " FROM rescores WHERE run_id=? ORDER BY created_s", (run_id,))
            for row in rows:
                rescore = dict(row)
                rescore["detail"] = json.loads(rescore.pop("detail_json"))
                out.append(rescore)
        return sorted(out, key=lambda r: r["created_s"])

    # -- aggregates -----------------------------------------------------------------------
    def aggregate(self, by: str, filter: RunFilter | None = None) -> list[Aggregate]:
        """Totals per ``by`` (one of :data:`AGGREGATE_KEYS`), sorted by key.

        Runs still going (or interrupted) count with what their records hold so far. By
        ``component``, a run counts under each component it used energy on, and emissions are
        split in proportion to each component's energy within every record.
        """
        return self.aggregate_many((by,), filter)[by]

    def aggregate_many(self, bys: Sequence[str],
                       filter: RunFilter | None = None) -> dict[str, list[Aggregate]]:
        """:meth:`aggregate` for each of ``bys`` from one read of the runs and their records'
        sums (summing the records is most of the work; the dashboard's overview asks for five
        groupings at once)."""
        for by in bys:
            if by not in AGGREGATE_KEYS:
                raise StoreError(f"cannot aggregate by {by!r}; choose one of "
                                 f"{', '.join(AGGREGATE_KEYS)}")
        filter = filter or RunFilter()
        # Only the region needs each run's location, from its (large) info_json.
        columns = _RUN_COLUMNS + (", info_json" if "region" in bys else "")
        rows = [row for row, _ in self._matching(filter, columns=columns)]
        # Records are summed per run and per kind of intensity: a run's own totals would hide
        # which grams are average and which marginal (a rescore can mix them).
        sums = self._record_sums({str(r["run_id"]) for r in rows})
        totals = {run_id: _total(per_kind) for run_id, per_kind in sums.items()}
        return {by: _groups(by, rows, sums, totals) for by in bys}

    def _record_sums(self, run_ids: set[str]) -> dict[str, dict[str | None, dict[str, float]]]:
        """run id -> intensity kind -> sums of its records (kind None: no intensity).

        Summing reads every record's row (the dashboard's overview: 1,000 runs x 100 records,
        ~0.4 s); records are only ever added or deleted, never changed, so each run's sums are
        kept with its records' count and last seq per file, read from the primary key's index
        alone (~10 ms), and summed again only for the runs whose fingerprint moved."""
        if not run_ids:
            return {}
        ids = sorted(run_ids)
        prints: dict[str, list[tuple[int, int, int]]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            sql = (f"SELECT run_id, count(*), max(seq) FROM records WHERE run_id IN"
                   f" ({', '.join('?' for _ in chunk)}) GROUP BY run_id")
            for number, source in enumerate(self.sources):
                for run_id, count, last in source.query(sql, chunk):
                    prints.setdefault(run_id, []).append((number, count, last))
        out: dict[str, dict[str | None, dict[str, float]]] = {}
        stale: set[str] = set()
        with self._sums_lock:
            for run_id in ids:
                kept = self._sums.get(run_id)
                if kept is not None and kept[0] == tuple(prints.get(run_id, ())):
                    out[run_id] = kept[1]
                else:
                    stale.add(run_id)
        summed = self._record_sums_read(stale)
        with self._sums_lock:
            for run_id in stale:
                if run_id in summed:
                    self._sums[run_id] = (tuple(prints.get(run_id, ())), summed[run_id])
        return {**out, **summed}

    def _record_sums_read(self, run_ids: set[str]) -> dict[str, dict[str | None, dict[str, float]]]:
        if not run_ids:
            return {}
        parts = ["sum(duration_s) AS duration_s", "sum(energy_j) AS energy_j",
                 "sum(emissions_g) AS emissions_g"]
        for comp in _COMPONENTS:
            parts.append(f"sum({comp}_energy_j) AS {comp}_energy_j")
            parts.append(f"sum(CASE WHEN energy_j > 0 THEN emissions_g * {comp}_energy_j / energy_j"
                         f" ELSE 0 END) AS {comp}_emissions_g")
        ids = sorted(run_ids)
        out: dict[str, dict[str | None, dict[str, float]]] = {}
        for start in range(0, len(ids), 500):  # well under SQLite's limit on bound variables
            chunk = ids[start:start + 500]
            sql = (f"SELECT run_id, intensity_kind, {', '.join(parts)} FROM records"
                   f" WHERE run_id IN ({', '.join('?' for _ in chunk)})"
                   " GROUP BY run_id, intensity_kind")
            seen: set[str] = set()
            for source in self.sources:
                found: set[str] = set()
                for r in source.query(sql, chunk):
                    if r["run_id"] in seen:
                        continue  # the first file holding a run wins, as for its row
                    found.add(r["run_id"])
                    out.setdefault(r["run_id"], {})[r["intensity_kind"]] = {
                        k: float(r[k] or 0.0) for k in r.keys()
                        if k not in ("run_id", "intensity_kind")}
                seen |= found
        return out


def _groups(by: str, rows: list[sqlite3.Row],
            sums: dict[str, dict[str | None, dict[str, float]]],
            totals: dict[str, dict[str, float]]) -> list[Aggregate]:
    """:meth:`SqliteRepository.aggregate`'s groups from the runs' rows and record sums."""
    groups: dict[str, list[Any]] = {}  # key -> [runs, duration_s, energy_j, {kind: g}]

    def add(key: str, duration_s: float, energy_j: float, by_kind: dict[str, float]) -> None:
        g = groups.setdefault(key, [0, 0.0, 0.0, {}])
        g[0] += 1
        g[1] += duration_s
        g[2] += energy_j
        for kind, grams in by_kind.items():
            g[3][kind] = g[3].get(kind, 0.0) + grams

    for row in rows:
        per_kind = sums.get(row["run_id"], {})
        s = totals.get(row["run_id"], {})  # _total(per_kind), once per run for every grouping
        duration_s = row["duration_s"] if row["duration_s"] is not None \
            else s.get("duration_s", 0.0)
        if by == "component":
            for comp in _COMPONENTS:
                if s.get(f"{comp}_energy_j", 0.0) > 0:
                    add(comp, duration_s, s[f"{comp}_energy_j"],
                        _grams_by_kind(per_kind, f"{comp}_emissions_g"))
            continue
        energy_j = row["energy_j"] if row["energy_j"] is not None else s.get("energy_j", 0.0)
        grams = _grams_by_kind(per_kind, "emissions_g")
        if not per_kind and row["emissions_g"]:  # a summary without its records
            grams = {"unknown": float(row["emissions_g"])}
        add(_key(by, row), duration_s, energy_j, grams)
    return [Aggregate(key=k, runs=int(g[0]), duration_s=g[1], energy_j=g[2],
                      emissions_g=sum(g[3].values()),
                      emissions_by_kind=dict(sorted(g[3].items())))
            for k, g in sorted(groups.items())]


def _total(per_kind: dict[str | None, dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for sums in per_kind.values():
        for name, value in sums.items():
            total[name] = total.get(name, 0.0) + value
    return total


def _grams_by_kind(per_kind: dict[str | None, dict[str, float]], column: str) -> dict[str, float]:
    return {kind: sums[column] for kind, sums in per_kind.items()
            if kind is not None and sums.get(column)}


def _key(by: str, row: sqlite3.Row) -> str:
    if by in ("project", "experiment"):
        return str(row[by])
    if by == "day":
        return time.strftime("%Y-%m-%d", time.gmtime(row["started_s"]))
    if by == "host":
        return str(row["hostname"] or row["host_id"] or "unknown")
    location = (json.loads(row["info_json"]) or {}).get("location") or {}
    if location.get("cloud_region"):
        return f"{location.get('cloud') or 'cloud'}/{location['cloud_region']}"
    if location.get("zone"):
        return str(location["zone"])
    if location.get("country"):
        sub = location.get("subdivision")
        return f"{location['country']}-{sub}" if sub else str(location["country"])
    return "unknown"
