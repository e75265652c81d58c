""":class:`~.data.DashboardData` over the team server's database, for ONE organisation.

Every figure comes from the query API's own functions (:mod:`..query`: totals from the
rollups, the runs list, one run, its records and spans), so a page shows exactly what
``/api/v1/totals``, ``/runs`` and ``/runs/{id}`` answer for the same organisation. The one
exception is a long run's chart: its records summed per time bucket by the database
(:mod:`wattprint.store.buckets`' query, :mod:`.buckets`' rule), never read one by one.

The overview's totals are asked with ``dedup=true``: the page shows both the plain sum of the
runs and the de-duplicated figure (machine-scope energy counted once where runs on one host
overlap), and how much the rule removed.

Periods: the local store bounds a period by the runs' start; the query API's totals bound the
records' time (each record counted by its part inside). The server's pages follow the API, so
its numbers are the API's. "All time" asks with no bounds at all (whole runs, summaries).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Sequence

from .buckets import run_series
from .data import BREAKDOWNS, DataError, Overview, Period, RunDetail, RunsPage, RunsQuery, Series
from .data import Totals as PeriodTotals
from .local import _decode_offset, _encode_offset, _sort_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ...advice.waste import WasteReport
    from ...records import Prediction, Record
    from ...store.repository import Aggregate, RunRow

__all__ = ["ServerData"]

_SORTED_MAX_ROWS = 100_000  # runs read to sort by something else than the start time
# Counting overlapping energy once reads into Python the records of the runs that overlap
# another measurer's on their host (dedup_fast.py; every other run keeps its rollup sums):
# ~2 s for 10^5 such records on the development VM (6.7 s for 343,790, quiet). The overview
# computes it up to this many and otherwise says it did not, and where to ask for it.
DEDUP_MAX_RECORDS = 100_000
_RECORD_PAGE = 5000  # records read per query while walking a run


class ServerData:
    """The dashboard's data for organisation ``organisation_id``, read-only."""

    def __init__(self, engine: Engine, organisation_id: int, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.organisation_id = organisation_id
        self._clock = clock

    def now_s(self) -> float:
        return self._clock()

    # -- overview ---------------------------------------------------------------------------
    def _totals(self, connection: Any, by: str, period: Period, *, dedup: bool = False,
                dedup_max_records: int | None = None) -> dict[str, Any]:
        from ..query import QueryError, totals

        try:
            return totals(connection, self.organisation_id, by, _run_query(period), dedup=dedup,
                          dedup_max_records=dedup_max_records)
        except QueryError as exc:
            raise DataError(str(exc)) from None

    def overview(self, period: Period, *, top: int = 5) -> Overview:
        from ..dedup_fast import DedupTooLarge
        from ..query import RunQuery, list_runs

        with self.engine.connect() as connection:
            _no_jit(connection)
            whole = None
            try:
                whole = self._totals(connection, "organisation", period, dedup=True,
                                     dedup_max_records=DEDUP_MAX_RECORDS)
                dedup = whole.get("dedup")
            except DedupTooLarge as exc:  # only the overlapping runs' records count here
                dedup = {"skipped_records": exc.records, "limit_records": exc.limit}
            by_key = self._breakdowns(connection, period)
            breakdowns = {by: sorted((_aggregate(g) for g in groups),
                                     key=lambda a: (-a.energy_j, a.key))
                          for by, groups in by_key.items()}
            previous = None
            if period.previous is not None:
                # the organisation's totals are its projects' (a run is in one project)
                previous = _period_totals({"groups": self._breakdowns(
                    connection, period.previous, ("project",))["project"]})
            # the newest runs started in the period (the runs list bounds the start)
            recent = list_runs(connection, self.organisation_id,
                               RunQuery(since_s=period.since_s, until_s=period.until_s),
                               now_s=self.now_s(), limit=top)["runs"]
        # without de-duplication the organisation's totals are its projects' (a run is in one)
        totals = _period_totals(whole if whole is not None else {"groups": by_key["project"]})
        return Overview(period=period, totals=totals, previous=previous,
                        breakdowns=breakdowns, recent=[_run_row(v) for v in recent],
                        dedup=dedup)

    def _breakdowns(self, connection: Any, period: Period,
                    bys: tuple[str, ...] = BREAKDOWNS) -> dict[str, list[dict[str, Any]]]:
        """The groups of each of ``bys``, as ``totals`` answers them.

        Over a range, each run's part inside it is summed once into a temporary table (whole
        hours from the rollups, the edge hours from the records: ~0.1-0.4 s at 10^7 records)
        and the groupings read that, instead of summing the range once each (a grouping over
        the range's statements as one query took PostgreSQL ~1 s, over the table ~10 ms); all
        time reads the runs' rollups, already one row per run."""
        if period.since_s is None:
            return {by: self._totals(connection, by, period)["groups"] for by in bys}
        from sqlalchemy import Column, Float, MetaData, String, Table, insert, select, union_all

        from ..models import Run
        from ..query import RunQuery, _range_statements, _scoped_runs, _totals_view
        from ..totals_sql import grouped_totals

        scope = _scoped_runs(self.organisation_id, RunQuery(), detail=False)
        runs = scope.with_only_columns(Run.run_id).subquery()
        statements = _range_statements(runs, period.since_s, period.until_s)
        combine: Any = union_all
        sums: Any = statements[0] if len(statements) == 1 else combine(*statements)
        names = [column.name for column in sums.selected_columns]
        table = Table("dashboard_range_sums", MetaData(),
                      *(Column(name, String() if name in ("run_id", "intensity_kind")
                               else Float()) for name in names), prefixes=["TEMPORARY"])
        # SQLite's driver runs DDL outside the transaction the page rolls back at its end, so
        # a table left on a pooled connection by an earlier page goes first
        table.drop(connection, checkfirst=True)
        table.create(connection)
        try:
            connection.execute(insert(table).from_select(names, sums))
            return {by: _totals_view(by, grouped_totals(connection, by, scope, select(table),
                                                        ranged=True), None)["groups"]
                    for by in bys}
        finally:
            table.drop(connection)

    # -- runs -------------------------------------------------------------------------------
    def runs(self, query: RunsQuery) -> RunsPage:
        from ..query import QueryError, list_runs

        key, descending = _sort_key(query.sort)
        if key == "started_s" and descending:  # the API's own order and cursor
            try:
                with self.engine.connect() as connection:
                    page = list_runs(connection, self.organisation_id, _run_query(query),
                                     now_s=self.now_s(), limit=query.limit, cursor=query.cursor)
            except QueryError as exc:
                raise DataError(str(exc)) from None
            return RunsPage(items=[_run_row(v) for v in page["runs"]],
                            next_cursor=page["next_cursor"])
        offset = _decode_offset(query.cursor) if query.cursor else 0
        rows = self.all_runs(query, max_rows=_SORTED_MAX_ROWS)
        more = offset + query.limit < len(rows)
        return RunsPage(items=rows[offset:offset + query.limit],
                        next_cursor=_encode_offset(offset + query.limit) if more else None)

    def all_runs(self, query: RunsQuery, *, max_rows: int) -> list[RunRow]:
        from ..query import QueryError, list_runs

        rows: list[RunRow] = []
        cursor: str | None = None
        try:
            with self.engine.connect() as connection:
                while len(rows) < max_rows:
                    page = list_runs(connection, self.organisation_id, _run_query(query),
                                     now_s=self.now_s(), limit=min(1000, max_rows - len(rows)),
                                     cursor=cursor)
                    rows += [_run_row(v) for v in page["runs"]]
                    cursor = page["next_cursor"]
                    if cursor is None:
                        break
        except QueryError as exc:
            raise DataError(str(exc)) from None
        key, descending = _sort_key(query.sort)
        if key == "started_s" and descending:
            return rows
        present = [r for r in rows if getattr(r, key) is not None]
        missing = [r for r in rows if getattr(r, key) is None]  # last either way
        present.sort(key=lambda r: getattr(r, key), reverse=descending)
        return present + missing

    # -- one run ----------------------------------------------------------------------------
    def _one(self, run_id: str) -> dict[str, Any]:
        from ..query import one_run

        with self.engine.connect() as connection:
            view = one_run(connection, self.organisation_id, run_id, now_s=self.now_s())
        if view is None:
            raise DataError(f"no run {run_id!r} in this organisation: pick one from the runs "
                            "table")
        return view

    def run_row(self, run_id: str) -> RunRow:
        return _run_row(self._one(run_id))

    def run(self, run_id: str) -> RunDetail:
        from ...wire import from_wire
        from ..query import run_spans
        from ..rescores import list_rescores

        view = self._one(run_id)
        if view["info"] is None:
            raise DataError(f"run {run_id!r} has sent records but not its start yet: its page "
                            "appears once the run's info arrives")
        info: Any = from_wire(view["info"])
        with self.engine.connect() as connection:
            spans: list[Any] = [from_wire(w) for w in
                                run_spans(connection, self.organisation_id, run_id) or []]
            pushed = list_rescores(connection, self.organisation_id, run_id, with_detail=False)
        # the same rows as the local store's (Repository.rescores), for the same table
        rescores: list[dict[str, Any]] = (pushed or {}).get("rescores", [])
        if view["summary"] is not None:
            summary: Any = from_wire(view["summary"])
        else:  # still running (or lost): the summary so far, from the rollups when it is long
            from .live_summary import summary_so_far

            with self.engine.connect() as connection:
                summary = summary_so_far(
                    connection, run_id, info, spans=spans, status=view["status"],
                    records=lambda: self._records(run_id, since_seq=None, limit=None))
        ended_s = None if view["summary"] is None else summary.started_s + summary.duration_s
        row = _run_row(view, ended_s=ended_s, exit_code=summary.exit_code)
        return RunDetail(row=row, info=info, summary=summary, spans=spans, rescores=rescores)

    def _record_rows(self, run_id: str, since_seq: int,
                     limit: int | None) -> list[dict[str, Any]]:
        from ..query import run_records

        out: list[dict[str, Any]] = []
        with self.engine.connect() as connection:
            while limit is None or len(out) < limit:
                want = _RECORD_PAGE if limit is None else min(_RECORD_PAGE, limit - len(out))
                page = run_records(connection, self.organisation_id, run_id,
                                   since_seq=since_seq, limit=want)
                if page is None:
                    raise DataError(f"no run {run_id!r} in this organisation")
                out += page["records"]
                if page["next_seq"] is None:
                    break
                since_seq = page["next_seq"]
        return out

    def _records(self, run_id: str, *, since_seq: int | None,
                 limit: int | None) -> list[Record]:
        from ...records import Record

        # the read API's since_seq is exclusive, the query API's inclusive
        first = -(2**31) if since_seq is None else since_seq + 1
        return [Record.from_row({**row, "run_id": run_id})
                for row in self._record_rows(run_id, first, limit)]

    def series(self, run_id: str, *, max_points: int) -> Series:
        """The chart's points by :func:`.buckets.run_series`: the records' count and time
        from the run's rollup, a long run summed per time bucket by the database."""
        from sqlalchemy import text

        from ...store.buckets import bucket_sql
        from ...store.repository import FIGURE_COLUMNS
        from ..models import RollupRun
        from ..query import _owned

        with self.engine.connect() as connection:
            if not _owned(connection, self.organisation_id, run_id):
                raise DataError(f"no run {run_id!r} in this organisation: pick one from the "
                                "runs table")
            total, first_s, last_s = connection.execute(
                select_bounds(RollupRun, run_id)).one()
            sql = text(bucket_sql(connection.dialect.name))

            def buckets(origin_s: float, width_s: float) -> list[tuple[Any, ...]]:
                _no_jit(connection)
                if connection.dialect.name == "postgresql":  # a sort in memory, not on disk
                    connection.execute(text("SET LOCAL work_mem = '64MB'"))
                return [tuple(row) for row in connection.execute(sql, {
                    "run_id": run_id, "origin_s": origin_s, "width_s": width_s})]

            def raw() -> list[tuple[Any, ...]]:
                return [tuple(json.dumps(row[name]) if name == "gaps" else row[name]
                              for name in FIGURE_COLUMNS)
                        for row in self._record_rows(run_id, -(2**31), None)]

            return run_series(total=int(total or 0), first_start_s=first_s, last_end_s=last_s,
                              max_points=max_points, raw=raw, buckets=buckets,
                              cache_key=("server", str(self.engine.url), run_id))

    def records_since(self, run_id: str, since_seq: int | None, *, limit: int) -> list[Record]:
        return self._records(run_id, since_seq=since_seq, limit=limit)

    def record_rows(self, run_id: str, columns: Sequence[str], *, since_seq: int | None,
                    limit: int) -> list[tuple[Any, ...]]:
        from ..query import run_record_rows

        # the read API's since_seq is exclusive, the query API's inclusive
        with self.engine.connect() as connection:
            rows = run_record_rows(connection, self.organisation_id, run_id, columns,
                                   since_seq=-(2**31) if since_seq is None else since_seq + 1,
                                   limit=limit)
        if rows is None:
            raise DataError(f"no run {run_id!r} in this organisation")
        return rows

    def waste(self, run_id: str, *, max_records: int) -> WasteReport | None:
        from ...advice.waste import WASTE_COLUMNS, waste_report_rows
        from ...wire import from_wire

        view = self._one(run_id)
        if view["info"] is None:
            raise DataError(f"run {run_id!r} has sent records but not its start yet")
        rows = self.record_rows(run_id, WASTE_COLUMNS, since_seq=None, limit=max_records + 1)
        if len(rows) > max_records:
            return None
        info: Any = from_wire(view["info"])
        return waste_report_rows(info, rows)

    def prediction(self, run_id: str) -> Prediction | None:
        """The query API's latest prediction (``run_prediction``) as the read API's object."""
        from ...records import Prediction
        from ..query import run_prediction

        with self.engine.connect() as connection:
            wire = run_prediction(connection, self.organisation_id, run_id)
        if wire is False:
            raise DataError(f"no run {run_id!r} in this organisation: pick one from the runs "
                            "table")
        return Prediction.from_dict(wire) if isinstance(wire, dict) else None


def _no_jit(connection: Any) -> None:
    """PostgreSQL's JIT off for this transaction: compiling the overview's grouped totals and a
    long run's 20 bucket aggregates cost more than it saved (~1 s a statement at 10^7 records,
    where each runs in 0.1-0.4 s without it)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy import text

        connection.execute(text("SET LOCAL jit = off"))


def select_bounds(rollup: Any, run_id: str) -> Any:
    """(records, earliest start, latest end) of a run from its rollup rows (one per kind of
    intensity): the bucket width's inputs without reading the records."""
    from sqlalchemy import func, select

    return select(func.sum(rollup.records), func.min(rollup.first_start_s),
                  func.max(rollup.last_end_s)).where(rollup.run_id == run_id)


def _run_query(where: Period | RunsQuery) -> Any:
    from ..query import RunQuery

    if isinstance(where, Period):
        # "all time" asks with no bound at all: whole runs, as /api/v1/totals without since
        until_s = None if where.since_s is None else where.until_s
        return RunQuery(since_s=where.since_s, until_s=until_s)
    return RunQuery(project=where.project, experiment=where.experiment, status=where.status,
                    host=where.host, since_s=where.since_s, until_s=where.until_s)


def _aggregate(group: dict[str, Any]) -> Aggregate:
    from ...store.repository import Aggregate

    return Aggregate(key=group["key"], runs=group["runs"], duration_s=group["duration_s"],
                     energy_j=group["energy_j"], emissions_g=group["emissions_g"],
                     emissions_by_kind=dict(group["emissions_by_kind"]))


def _period_totals(answer: dict[str, Any]) -> PeriodTotals:
    groups = answer["groups"]
    return PeriodTotals(runs=sum(g["runs"] for g in groups),
                        energy_j=sum(g["energy_j"] for g in groups),
                        emissions_g=sum(g["emissions_g"] for g in groups))


def _run_row(view: dict[str, Any], *, ended_s: float | None = None,
             exit_code: int | None = None) -> RunRow:
    from ...store.repository import RunRow

    return RunRow(run_id=view["run_id"], project=view["project"],
                  experiment=view["experiment"] or "", started_s=view["started_s"] or 0.0,
                  ended_s=ended_s, status=view["status"], hostname=view["hostname"],
                  duration_s=view["duration_s"], energy_j=view["energy_j"],
                  emissions_g=view["emissions_g"], exit_code=exit_code, job_id=view["job_id"],
                  host_id=view["host_id"], heartbeat_s=view["heartbeat_s"])
