"""When it could have run: a stored run moved in time, against a provider's history.

:func:`best_past_start` slides the run's own energy profile (every record's energy after PUE,
spread evenly over the record's span, as ``wattprint rescore`` does) across the hours around its
actual start and prices each shifted copy with the provider's hourly history. It answers the
start, on a ``step`` grid (default 5 min) within ``window`` before or after the actual start,
with the fewest grams, beside the grams at the actual start *from the same history*: both
figures are the same energy times the same provider's intensities, so their difference is the
saving and nothing else (the run's recorded emissions, often from annual tables, are shown apart).

Never assumed: a shift where the history misses any part of the run (a gap, the future, hours
before the provider's records) is not priced; how many shifts were priced is said. Ties go to the
actual start, then to the nearest shift, so a flat history says "it ran at a good time".

Long runs are priced on at most :data:`MAX_GROUPS` (300) groups of consecutive records (each group's
energy spread over its span), so a week of 5-second records stays fast; with hourly history the
difference from record-level pricing is below the history's own resolution.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from .._struct import dataclass, field
from .windows import StepSeries

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ..intensity.providers import IntensityPoint
    from ..records import Record

__all__ = ["MAX_GROUPS", "PastStart", "best_past_start"]

MAX_GROUPS = 300
_J_PER_KWH = 3.6e6
_EPS_S = 1e-6


@dataclass(frozen=True, slots=True)
class PastStart:
    """The answer of :func:`best_past_start`; grams are energy after PUE x the history."""

    run_id: str
    actual_start: datetime
    best_start: datetime
    window_s: float
    step_s: float
    duration_s: float
    energy_j: float  # after PUE
    actual_g: float | None  # at its actual time, from the history; None: not wholly covered
    best_g: float | None  # at the best start; None: no shift wholly covered
    recorded_g: float  # what the run recorded (its own intensity source)
    provider: str
    kind: str | None
    zone: str | None
    shifts_tried: int
    shifts_priced: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def shift_s(self) -> float:
        return (self.best_start - self.actual_start).total_seconds()

    @property
    def saving_g(self) -> float | None:
        if self.actual_g is None or self.best_g is None:
            return None
        return self.actual_g - self.best_g

    @property
    def saving_pct(self) -> float | None:
        saving = self.saving_g
        if saving is None or not self.actual_g:
            return None
        return 100.0 * saving / self.actual_g

    def g_per_kwh(self, grams: float | None) -> float | None:
        if grams is None or self.energy_j <= 0:
            return None
        return grams / (self.energy_j / _J_PER_KWH)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "provider": self.provider, "kind": self.kind,
            "zone": self.zone, "actual_start": _iso(self.actual_start),
            "best_start": _iso(self.best_start), "shift_s": self.shift_s,
            "window_s": self.window_s, "step_s": self.step_s, "duration_s": self.duration_s,
            "energy_j": self.energy_j, "actual_g": self.actual_g, "best_g": self.best_g,
            "actual_g_per_kwh": self.g_per_kwh(self.actual_g),
            "best_g_per_kwh": self.g_per_kwh(self.best_g), "saving_g": self.saving_g,
            "saving_pct": self.saving_pct, "recorded_g": self.recorded_g,
            "shifts_tried": self.shifts_tried, "shifts_priced": self.shifts_priced,
            "notes": list(self.notes),
        }


def best_past_start(records: Sequence[Record], history: Sequence[IntensityPoint], *,
                    window: timedelta, step: timedelta = timedelta(minutes=5),
                    provider: str = "", run_id: str | None = None) -> PastStart:
    """The start within ``window`` of the run's actual start with the fewest grams."""
    if not records:
        raise ValueError("the run has no records to move in time")
    if window < timedelta(0) or step <= timedelta(0):
        raise ValueError("window must be >= 0 and step > 0")
    groups = _groups(records)
    first_s = groups[0][0]
    duration_s = groups[-1][1] - first_s
    series = StepSeries(history)
    window_s, step_s = window.total_seconds(), step.total_seconds()
    reach = int(math.floor(window_s / step_s + 1e-9))
    priced: list[tuple[float, float]] = []
    for k in range(-reach, reach + 1):
        grams = _grams(groups, series, k * step_s)
        if grams is not None:
            priced.append((k * step_s, grams))
    actual_g = next((g for shift, g in priced if shift == 0), None)
    notes = list(series.notes)
    best_shift, best_g = 0.0, None
    if priced:
        lowest = min(g for _, g in priced)
        tie = 1e-9 * max(1.0, abs(lowest))
        # among equals: the actual start, then the nearest shift, then the earlier
        best_shift, best_g = min(((s, g) for s, g in priced if g <= lowest + tie),
                                 key=lambda item: (abs(item[0]), item[0]))
    if len(priced) < 2 * reach + 1:
        notes.append(f"{2 * reach + 1 - len(priced)} of {2 * reach + 1} starts were not priced: "
                     "the history does not cover the whole run there (never filled in)")
    if actual_g is None:
        notes.append("the history does not cover the run at its actual time, so there is no "
                     "saving to compare")
    first = history[0] if history else None
    actual = _at(first_s)
    return PastStart(
        run_id=run_id or records[0].run_id, actual_start=actual,
        best_start=actual + timedelta(seconds=best_shift), window_s=window_s, step_s=step_s,
        duration_s=duration_s, energy_j=sum(e for _, _, e in groups), actual_g=actual_g,
        best_g=best_g, recorded_g=sum(r.emissions_g for r in records), provider=provider,
        kind=first.kind if first else None, zone=first.zone if first else None,
        shifts_tried=2 * reach + 1, shifts_priced=len(priced), notes=tuple(notes))


def _groups(records: Sequence[Record]) -> list[tuple[float, float, float]]:
    """(start_s, end_s, energy_j after PUE) of consecutive records, at most MAX_GROUPS."""
    ordered = sorted(records, key=lambda r: r.start_s)
    size = max(1, math.ceil(len(ordered) / MAX_GROUPS))
    groups = []
    for i in range(0, len(ordered), size):
        part = ordered[i:i + size]
        start = part[0].start_s
        end = max(r.start_s + max(r.duration_s, _EPS_S) for r in part)
        groups.append((start, end, sum(r.energy_j * r.pue for r in part)))
    return groups


def _grams(groups: Sequence[tuple[float, float, float]], series: StepSeries,
           shift_s: float) -> float | None:
    # Consecutive groups share a boundary: each boundary's prefix integral is looked up once.
    upto: dict[float, tuple[float, float]] = {}
    total = 0.0
    for start, end, energy_j in groups:
        a = upto.get(start) or upto.setdefault(start, series.upto(start + shift_s))
        b = upto.setdefault(end, series.upto(end + shift_s))
        covered = b[1] - a[1]
        if covered < (end - start) - _EPS_S or covered <= 0:
            return None  # a part of the run the history does not cover: not priced
        total += energy_j / _J_PER_KWH * ((b[0] - a[0]) / covered)
    return total


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
