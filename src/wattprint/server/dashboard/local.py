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
from typing import Any, Callable

from ...errors import StoreError
from ...store.repository import Aggregate, Repository, RunFilter, RunRow
from .data import (
    BREAKDOWNS,
    SORT_KEYS,
    DataError,
    Overview,
    Period,
    Point,
    RunDetail,
    RunsPage,
    RunsQuery,
    Series,
    Totals,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...advice.waste import WasteReport
    from ...records import Record

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
        # The merged store reader hands out each record's figures without decoding its devices
        # (~10x faster for 10^5 records); any other Repository, whole records.
        try:
            figures = getattr(self.repository, "record_figures", None)
            rows: list[tuple[Any, ...]] = figures(run_id) if figures is not None else \
                [figures_of(r) for r in self.repository.records(run_id, limit=None)]
        except StoreError as exc:
            raise DataError(str(exc)) from None
        points, holes = downsample(rows, max_points)
        return Series(points=points, total=len(rows), holes=holes)

    def records_since(self, run_id: str, since_seq: int | None, *, limit: int) -> list[Record]:
        try:
            return self.repository.records(run_id, since_seq=since_seq, limit=limit)
        except StoreError as exc:
            raise DataError(str(exc)) from None

    def waste(self, run_id: str, *, max_records: int) -> WasteReport | None:
        from ...advice.waste import waste_report

        try:
            records = self.repository.records(run_id, limit=max_records + 1)
            if len(records) > max_records:
                return None
            return waste_report(self.repository.info(run_id), records)
        except StoreError as exc:
            raise DataError(str(exc)) from None


def downsample(rows: list[tuple[Any, ...]],
               max_points: int) -> tuple[list[Point], list[tuple[float, float]]]:
    """Records' :data:`~wattprint.store.repository.FIGURE_COLUMNS` rows as at most about
    ``max_points`` points, and the holes between records.

    Consecutive records are merged, energies and grams summed, so a point's mean power stays
    energy / duration; a bucket never merges across a hole in time (the hole must stay visible
    on the chart), so a run with many holes keeps a few more points than asked. One pass over
    plain tuples: this runs over every record of a long run.
    """
    size = max(1, math.ceil(len(rows) / max_points))
    points: list[Point] = []
    holes: list[tuple[float, float]] = []
    bucket: list[tuple[Any, ...]] = []
    prev_end_s, prev_duration_s = math.inf, 0.0  # no hole before the first record
    for row in rows:
        start_s, duration_s = row[1], row[2]
        # a record late by more than half an interval: a hole in the measurement
        hole = start_s - prev_end_s > 0.5 * max(prev_duration_s, 1e-9)
        if hole:
            holes.append((prev_end_s, start_s))
        if bucket and (len(bucket) >= size or hole):
            points.append(_merge(bucket))
            bucket = []
        bucket.append(row)
        prev_end_s, prev_duration_s = start_s + duration_s, duration_s
    if bucket:
        points.append(_merge(bucket))
    return points, holes


def _merge(bucket: list[tuple[Any, ...]]) -> Point:
    first, last = bucket[0], bucket[-1]
    cpu_j = gpu_j = ram_j = other_j = energy_j = grams = weighted = 0.0
    gaps: dict[str, None] = {}
    for _, _, _, cpu, gpu, ram, other, energy, _, g, g_per_kwh, gap_json in bucket:
        cpu_j += cpu
        gpu_j += gpu
        ram_j += ram
        other_j += other
        energy_j += energy
        grams += g
        weighted += g_per_kwh * energy
        if gap_json not in (None, "", "[]"):
            gaps.update(dict.fromkeys(str(note) for note in json.loads(gap_json)))
    return Point(
        seq=last[0], start_s=first[1], duration_s=last[1] + last[2] - first[1],
        cpu_energy_j=cpu_j, gpu_energy_j=gpu_j, ram_energy_j=ram_j, other_energy_j=other_j,
        energy_j=energy_j, emissions_g=grams,
        # energy-weighted: a chart of intensity shows what the energy was priced at
        intensity_g_per_kwh=weighted / energy_j if energy_j > 0 else last[10],
        gaps=tuple(gaps))


def figures_of(record: Record) -> tuple[Any, ...]:
    """``record``'s row of :data:`~wattprint.store.repository.FIGURE_COLUMNS`."""
    return (record.seq, record.start_s, record.duration_s, record.cpu_energy_j,
            record.gpu_energy_j, record.ram_energy_j, record.other_energy_j, record.energy_j,
            record.pue, record.emissions_g, record.intensity_g_per_kwh, json.dumps(record.gaps))


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
