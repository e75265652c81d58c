"""The one rule that turns a run's records into chart points, for every :class:`~.data.DashboardData`.

A run with at most ``max_points`` records is drawn record by record (:func:`downsample` with
one record a point: exact holes and notes). A longer one is summed per time bucket in the
database (:mod:`wattprint.store.buckets` holds the SQL for SQLite and PostgreSQL, and the same
sums in Python for a run split over several store files), ``width_s`` chosen by
:func:`bucket_width_s`: the narrowest "round" width (1 s, 2 s, 5 s, ... 1 h, ... whole days)
that keeps the buckets over the run's time at most ``max_points``. Each bucket becomes one
:class:`~.data.Point`, honest by construction:

- energies and grams are the bucket's sums, so the cumulative energy is exact at each point's end;
- the point spans its records' time (earliest start to latest end), so its mean power is energy /
  time and the area under the power curve is the energy; the records' own lowest and highest
  power travel along (``min_power_w``/``max_power_w``) for a band around the mean;
- the intensity is energy-weighted, so grams = energy x intensity still holds;
- a bucket with no records is a hole: between two points more than half a record's length apart
  (the run's mean record length in the bucket before) the line breaks and the hole is listed,
  exactly (the earlier point's last end to the later one's first start); time missing *inside* a
  bucket cannot be placed at this scale and is listed as such (``Series.hidden_holes``).

:func:`run_series` is the entry point both implementations call; only how they count the
records and run the bucket query differs.
"""

from __future__ import annotations

import json
import math
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, Sequence

from .data import Point, Series

__all__ = ["NICE_WIDTHS_S", "bucket_width_s", "downsample", "origin_s", "points_from_buckets",
           "run_series"]

#: Bucket widths, seconds: round numbers a reader can say ("points of 5 min each").
NICE_WIDTHS_S = (1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0,
                 1800.0, 3600.0, 7200.0, 10800.0, 21600.0, 43200.0, 86400.0)
_DAY_S = 86400.0
# Summing 10^6 records takes the database seconds; a run's records are never rewritten (a new
# record changes the count or the end), so a long run's points are kept, for a few runs
# (~1 MB each at 2,000 points), keyed by what the records' bounds say.
_CACHE_RUNS = 16
_cache: OrderedDict[Hashable, Series] = OrderedDict()
_cache_lock = threading.Lock()


def origin_s(first_start_s: float, width_s: float) -> float:
    """Where bucket 0 starts: ``first_start_s`` rounded down to a whole ``width_s`` of Unix
    time, so buckets fall on the clock's minutes and hours."""
    return math.floor(first_start_s / width_s) * width_s


def _buckets_over(first_start_s: float, last_end_s: float, width_s: float) -> int:
    return math.floor((last_end_s - origin_s(first_start_s, width_s)) / width_s) + 1


def bucket_width_s(first_start_s: float, last_end_s: float, max_points: int) -> float:
    """The narrowest width of :data:`NICE_WIDTHS_S` (beyond them, whole days doubling) whose
    buckets over ``[first_start_s, last_end_s]`` number at most ``max_points``."""
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2, not {max_points}")
    for width in NICE_WIDTHS_S:
        if _buckets_over(first_start_s, last_end_s, width) <= max_points:
            return width
    width = 2 * _DAY_S
    while _buckets_over(first_start_s, last_end_s, width) > max_points:
        width *= 2
    return width


def _notes(*texts: str | None) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for text in texts:
        if text not in (None, "", "[]"):
            found.update(dict.fromkeys(str(note) for note in json.loads(str(text))))
    return tuple(found)


def points_from_buckets(rows: Sequence[Sequence[Any]]) -> tuple[
        list[Point], list[tuple[float, float]], list[tuple[float, float, float]]]:
    """Bucket rows (:data:`~wattprint.store.buckets.BUCKET_COLUMNS`, in bucket order) as
    points, the holes between them, and (from_s, to_s, missing_s) for time missing inside one."""
    points: list[Point] = []
    holes: list[tuple[float, float]] = []
    hidden: list[tuple[float, float, float]] = []
    prev_end_s, prev_record_s = math.inf, 0.0
    for (_, _, last_seq, records, start_s, end_s, duration_s, cpu_j, gpu_j, ram_j, other_j,
         energy_j, grams, intensity_energy, intensity_mean, min_w, max_w, _,
         gaps_low, gaps_high) in rows:
        record_s = duration_s / records  # the bucket's mean record length
        if start_s - prev_end_s > 0.5 * max(prev_record_s, 1e-9):
            holes.append((prev_end_s, start_s))
        missing_s = (end_s - start_s) - duration_s
        if records > 1 and missing_s > 0.5 * max(record_s, 1e-9):
            hidden.append((start_s, end_s, missing_s))
        points.append(Point(
            seq=int(last_seq), start_s=start_s, duration_s=end_s - start_s,
            cpu_energy_j=cpu_j, gpu_energy_j=gpu_j, ram_energy_j=ram_j, other_energy_j=other_j,
            energy_j=energy_j, emissions_g=grams,
            intensity_g_per_kwh=intensity_energy / energy_j if energy_j > 0 else intensity_mean,
            gaps=_notes(gaps_low, gaps_high), records=int(records), min_power_w=min_w,
            max_power_w=max_w))
        prev_end_s, prev_record_s = end_s, record_s
    return points, holes, hidden


def run_series(*, total: int, first_start_s: float | None, last_end_s: float | None,
               max_points: int, raw: Callable[[], list[tuple[Any, ...]]],
               buckets: Callable[[float, float], list[tuple[Any, ...]]],
               cache_key: Hashable | None = None) -> Series:
    """A run's :class:`~.data.Series` by the rule above. ``total``, ``first_start_s`` and
    ``last_end_s``: its records' count, earliest start and latest end; ``raw()``: every record's
    :data:`~wattprint.store.repository.FIGURE_COLUMNS` in seq order (asked only for a short
    run); ``buckets(origin_s, width_s)``: the bucket rows (asked only for a long one).
    ``cache_key``: where the run is stored and its id; a long run's points are then kept
    while its bounds stay the same."""
    if total <= max_points or first_start_s is None or last_end_s is None:
        rows = raw()
        points, holes = downsample(rows, max(1, len(rows)))
        return Series(points=points, total=len(rows), holes=holes)
    key = None if cache_key is None else (cache_key, total, first_start_s, last_end_s,
                                          max_points)
    if key is not None:
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
    width_s = bucket_width_s(first_start_s, last_end_s, max_points)
    rows = buckets(origin_s(first_start_s, width_s), width_s)
    points, holes, hidden = points_from_buckets(rows)
    series = Series(points=points, total=sum(int(r[3]) for r in rows), holes=holes,
                    bucket_s=width_s, hidden_holes=hidden)
    if key is not None:
        with _cache_lock:
            _cache[key] = series
            while len(_cache) > _CACHE_RUNS:
                _cache.popitem(last=False)
    return series


def downsample(rows: list[tuple[Any, ...]],
               max_points: int) -> tuple[list[Point], list[tuple[float, float]]]:
    """Records' :data:`~wattprint.store.repository.FIGURE_COLUMNS` rows as at most about
    ``max_points`` points, and the holes between records, in Python.

    Consecutive records are merged, energies and grams summed, so a point's mean power stays
    energy / duration; a bucket never merges across a hole in time (the hole must stay visible
    on the chart), so a run with many holes keeps a few more points than asked. One pass over
    plain tuples. :func:`run_series` calls it with one record a point (a short run); a long
    run's buckets are summed in the database instead.
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
        gaps.update(dict.fromkeys(_notes(gap_json)))
    return Point(
        seq=last[0], start_s=first[1], duration_s=last[1] + last[2] - first[1],
        cpu_energy_j=cpu_j, gpu_energy_j=gpu_j, ram_energy_j=ram_j, other_energy_j=other_j,
        energy_j=energy_j, emissions_g=grams,
        # energy-weighted: a chart of intensity shows what the energy was priced at
        intensity_g_per_kwh=weighted / energy_j if energy_j > 0 else last[10],
        gaps=tuple(gaps), records=len(bucket))
