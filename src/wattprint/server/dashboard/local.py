""":class:`~.data.DashboardData` over the local store's read API (``wattprint dashboard``).

Everything goes through :class:`~wattprint.store.Repository`; no SQL here. The read API lists
runs newest first with a cursor, so the newest-first table pages with the store's own cursor;
any other sort order reads every matching run (a local store holds thousands, not millions)
and pages by position, with a cursor that says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from typing import Any, Callable, Sequence

from ...errors import StoreError
from ...store.buckets import bucket_rows
from ...store.repository import Aggregate, Repository, RunFilter, RunRow
from .buckets import downsample, run_series
from .data import (
    BREAKDOWNS,
    SORT_KEYS,
    DataError,
    Overview,
    Period,
    RunDetail,
    RunsPage,
    RunsQuery,
    Series,
    Totals,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...advice.waste import WasteReport
    from ...records import Prediction, Record

__all__ = ["LocalStoreData", "downsample", "figures_of"]

_SORTED_MAX_ROWS = 100_000  # runs read to sort by something else than the start time


class LocalStoreData:
    """The dashboard's data from one (merged) local store, read-only."""

    def __init__(self, repository: Repository, *, clock: Callable[[], float] = time.time) -> None:
        self.repository = repository
        self._clock = clock

    def now_s(self) -> float:
        return self._clock()

    # -- overview ---------------------------------------------------------------------------
    def _aggregates(self, bys: tuple[str, ...], period: Period) -> dict[str, list[Aggregate]]:
        # The merged store reader sums the records once for all groupings; any other
        # Repository answers one grouping at a time.
        many = getattr(self.repository, "aggregate_many", None)
        if many is not None:
            found: dict[str, list[Aggregate]] = many(bys, _filter_of(period))
            return found
        return {by: self.repository.aggregate(by, _filter_of(period)) for by in bys}

    @staticmethod
    def _totals(by_project: list[Aggregate]) -> Totals:
        return Totals(runs=sum(a.runs for a in by_project),
                      energy_j=sum(a.energy_j for a in by_project),
                      emissions_g=sum(a.emissions_g for a in by_project))

    def overview(self, period: Period, *, top: int = 5) -> Overview:
        groups = self._aggregates(BREAKDOWNS, period)
        previous = None
        if period.previous is not None:
            previous = self._totals(self._aggregates(("project",), period.previous)["project"])
        # largest first; the key breaks ties so the order is stable
        breakdowns = {by: sorted(groups[by], key=lambda a: (-a.energy_j, a.key))
                      for by in BREAKDOWNS}
        recent = self.repository.runs(_filter_of(period), limit=top).items
        return Overview(period=period, totals=self._totals(groups["project"]), previous=previous,
                        breakdowns=breakdowns, recent=recent)

    # -- runs -------------------------------------------------------------------------------
    def runs(self, query: RunsQuery) -> RunsPage:
        key, descending = _sort_key(query.sort)
        try:
            if key == "started_s" and descending:
                page = self.repository.runs(_filter_of(query), limit=query.limit,
                                            cursor=query.cursor)
                return RunsPage(items=page.items, next_cursor=page.next_cursor)
            offset = _decode_offset(query.cursor) if query.cursor else 0
            rows = self.all_runs(query, max_rows=_SORTED_MAX_ROWS)
        except StoreError as exc:
            raise DataError(str(exc)) from None
        items = rows[offset:offset + query.limit]
        more = offset + query.limit < len(rows)
        return RunsPage(items=items,
                        next_cursor=_encode_offset(offset + query.limit) if more else None)

    def all_runs(self, query: RunsQuery, *, max_rows: int) -> list[RunRow]:
        """Every matching run (at most ``max_rows``), in the query's order."""
        rows: list[RunRow] = []
        cursor: str | None = None
        while len(rows) < max_rows:
            page = self.repository.runs(_filter_of(query), limit=min(1000, max_rows - len(rows)),
                                        cursor=cursor)
            rows += page.items
            cursor = page.next_cursor
            if cursor is None:
                break
        key, descending = _sort_key(query.sort)
        if key == "started_s" and descending:
            return rows
        # None sorts last either way; ties keep newest first (the store's order is stable).
        present = [r for r in rows if getattr(r, key) is not None]
        missing = [r for r in rows if getattr(r, key) is None]
        present.sort(key=lambda r: getattr(r, key), reverse=descending)
        return present + missing

    # -- one run ----------------------------------------------------------------------------
    def run_row(self, run_id: str) -> RunRow:
        try:
            info = self.repository.info(run_id)
        except StoreError as exc:
            raise DataError(str(exc)) from None
        # The listing knows the effective status (heartbeats); find the run by its start time.
        window = RunFilter(since_s=info.started_s, until_s=math.nextafter(info.started_s, math.inf))
        for row in self.repository.runs(window, limit=1000).items:
            if row.run_id == run_id:
                return row
        raise DataError(f"run {run_id!r} is stored without its listing row; run `wattprint "
                        "runs` to check the store")

    def run(self, run_id: str) -> RunDetail:
        row = self.run_row(run_id)
        repo = self.repository
        return RunDetail(row=row, info=repo.info(run_id), summary=repo.summary(run_id),
                         spans=repo.spans(run_id), rescores=repo.rescores(run_id))

    def series(self, run_id: str, *, max_points: int) -> Series:
        """The chart's points by :func:`.buckets.run_series`: a long run summed per time bucket
        by SQLite (:meth:`~wattprint.store.repository.SqliteRepository.record_buckets`)."""
        repo: Any = self.repository
        try:
            if hasattr(repo, "record_buckets"):
                total, first_s, last_s = repo.record_bounds(run_id)
                if total == 0:
                    repo.info(run_id)  # an unknown run is an error, not an empty chart
                return run_series(
                    total=total, first_start_s=first_s, last_end_s=last_s,
                    max_points=max_points, raw=lambda: repo.record_figures(run_id),
                    buckets=lambda origin_s, width_s: repo.record_buckets(
                        run_id, origin_s=origin_s, width_s=width_s),
                    cache_key=("local", tuple(str(p) for p in getattr(repo, "paths", ())),
                               run_id))
            # any other Repository: whole records, the same sums in Python
            rows = [figures_of(r) for r in repo.records(run_id, limit=None)]
        except StoreError as exc:
            raise DataError(str(exc)) from None
        return run_series(
            total=len(rows), first_start_s=min((r[1] for r in rows), default=None),
            last_end_s=max((r[1] + r[2] for r in rows), default=None), max_points=max_points,
            raw=lambda: rows,
            buckets=lambda origin_s, width_s: bucket_rows(rows, origin_s, width_s))

    def records_since(self, run_id: str, since_seq: int | None, *, limit: int) -> list[Record]:
        try:
            return self.repository.records(run_id, since_seq=since_seq, limit=limit)
        except StoreError as exc:
            raise DataError(str(exc)) from None

    def record_rows(self, run_id: str, columns: Sequence[str], *, since_seq: int | None,
                    limit: int) -> list[tuple[Any, ...]]:
        repo: Any = self.repository
        try:
            if hasattr(repo, "record_rows"):
                rows: list[tuple[Any, ...]] = repo.record_rows(
                    run_id, columns, since_seq=since_seq, limit=limit)
                return rows
            # any other Repository: its records, as rows
            return [row_of(r, columns) for r in repo.records(run_id, since_seq=since_seq,
                                                             limit=limit)]
        except StoreError as exc:
            raise DataError(str(exc)) from None

    def waste(self, run_id: str, *, max_records: int) -> WasteReport | None:
        from ...advice.waste import WASTE_COLUMNS, waste_report_rows

        try:
            info = self.repository.info(run_id)
        except StoreError as exc:
            raise DataError(str(exc)) from None
        rows = self.record_rows(run_id, WASTE_COLUMNS, since_seq=None, limit=max_records + 1)
        if len(rows) > max_records:
            return None
        return waste_report_rows(info, rows)

    def prediction(self, run_id: str) -> Prediction | None:
        try:
            return self.repository.prediction(run_id)
        except StoreError as exc:
            raise DataError(str(exc)) from None


def figures_of(record: Record) -> tuple[Any, ...]:
    """``record``'s row of :data:`~wattprint.store.repository.FIGURE_COLUMNS`."""
    return (record.seq, record.start_s, record.duration_s, record.cpu_energy_j,
            record.gpu_energy_j, record.ram_energy_j, record.other_energy_j, record.energy_j,
            record.pue, record.emissions_g, record.intensity_g_per_kwh, json.dumps(record.gaps))


def row_of(record: Record, columns: Sequence[str]) -> tuple[Any, ...]:
    """``record``'s raw row of ``columns`` (:meth:`LocalStoreData.record_rows`)."""
    row = record.to_row()
    return tuple(json.loads(row[c]) if c in ("components", "gaps", "work") else row[c]
                 for c in columns)


def _filter_of(where: Period | RunsQuery) -> RunFilter:
    if isinstance(where, Period):
        return RunFilter(since_s=where.since_s, until_s=where.until_s)
    return RunFilter(project=where.project, experiment=where.experiment, status=where.status,
                     host=where.host, since_s=where.since_s, until_s=where.until_s)


def _sort_key(sort: str) -> tuple[str, bool]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        raise DataError(f"cannot sort by {sort!r}; choose one of {', '.join(SORT_KEYS)} "
                        "(a leading - for descending)")
    return key, descending


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _decode_offset(cursor: str) -> int:
    try:
        data: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = int(data["offset"])
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise DataError(f"invalid cursor {cursor!r}: use the table's Next link, or start again "
                        "from the first page") from None
    if offset < 0:
        raise DataError(f"invalid cursor {cursor!r}: start again from the first page")
    return offset
