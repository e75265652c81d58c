"""When to start: the window with the lowest mean forecast intensity before a deadline.

:func:`best_start_window` takes a provider's forecast (a list of
:class:`~wattprint.intensity.providers.IntensityPoint`, half-hourly from NESO, hourly from
Electricity Maps, five-minutely from WattTime), the run's expected duration and a deadline for
its end, and answers a :class:`StartWindow`: the start whose window ``[start, start +
duration)`` has the lowest time-weighted mean intensity, with ``start + duration <= deadline``.

How it decides, and why:

- **Exact, not sampled.** The mean over a sliding window of a step function is piecewise
  linear in the start time, with corners only where the window's start or end crosses a
  period boundary. So the minimum is at ``now``, at a boundary, at a boundary minus the
  duration, or at the latest start; only those starts are tried. A duration that is not a
  multiple of the period needs nothing special.
- **Never assume a value.** A window that overlaps time no forecast point covers (a gap between
  points, or time past the forecast's end) is *rejected*, not filled in. So a forecast that ends
  before the deadline limits the latest start to ``forecast end - duration`` (said in
  :attr:`StartWindow.notes`). When no window is wholly covered (a run longer than the forecast),
  the answer is "start now", with the mean over the part the forecast covers and
  :attr:`StartWindow.coverage` below 1: waiting on half a picture would be a guess.
- **No waiting for nothing.** Among windows whose means are equal, the earliest wins, so a flat
  forecast says "start now". A saving below ``min_saving_pct`` (default 1 %, finer than day-ahead
  forecasts are accurate) is not worth the wait either: start now, saying so.
- **Cannot fit.** A deadline that leaves less than the duration is not an error for a caller who
  still has work to run: the answer is "start now" with ``fits=False`` and the reason.
- **UTC inside.** Every datetime must be timezone-aware and is compared in UTC, so a window across
  a daylight-saving change is the real elapsed time. :func:`local_text` shows a time in a local
  zone with the zone's abbreviation (``2026-03-29 03:00 BST``).
"""

from __future__ import annotations

import bisect
import math
from datetime import datetime, timedelta, timezone, tzinfo

from .._struct import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ..intensity.providers import IntensityPoint

__all__ = ["DEFAULT_MIN_SAVING_PCT", "StartWindow", "best_start_window", "local_text"]

DEFAULT_MIN_SAVING_PCT = 1.0
_J_PER_KWH = 3.6e6
# Seconds below which two instants or two coverages count as equal (float sums of timestamps).
_EPS_S = 1e-6


@dataclass(frozen=True, slots=True)
class StartWindow:
    """The answer of :func:`best_start_window`; times are UTC."""

    start: datetime
    end: datetime
    now: datetime
    deadline: datetime
    start_now: bool  # True when the advice is to start at ``now``
    fits: bool  # False when the deadline leaves less than the duration
    mean_g_per_kwh: float | None  # the window's mean over the part the forecast covers
    now_g_per_kwh: float | None  # the mean if started now; None if the forecast misses part
    coverage: float  # share of the chosen window the forecast covers (0-1)
    reason: str  # one line for people: why this start
    kind: str | None = None  # "average" | "marginal", from the forecast's points
    zone: str | None = None
    source: str | None = None
    forecast_end: datetime | None = None
    windows_tried: int = 0  # wholly covered candidate windows compared
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def duration_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def wait_s(self) -> float:
        return max(0.0, (self.start - self.now).total_seconds())

    @property
    def saving_g_per_kwh(self) -> float | None:
        if self.mean_g_per_kwh is None or self.now_g_per_kwh is None:
            return None
        return self.now_g_per_kwh - self.mean_g_per_kwh

    @property
    def saving_pct(self) -> float | None:
        saving = self.saving_g_per_kwh
        if saving is None or not self.now_g_per_kwh:
            return None
        return 100.0 * saving / self.now_g_per_kwh

    def saving_g(self, energy_j: float) -> float | None:
        """Grams saved by a run using ``energy_j`` (after PUE) in this window rather than now."""
        saving = self.saving_g_per_kwh
        return None if saving is None else saving * energy_j / _J_PER_KWH

    def to_json(self, *, energy_j: float | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "start": _iso(self.start), "end": _iso(self.end), "now": _iso(self.now),
            "deadline": _iso(self.deadline), "duration_s": self.duration_s,
            "wait_s": self.wait_s, "start_now": self.start_now, "fits": self.fits,
            "mean_g_per_kwh": self.mean_g_per_kwh, "now_g_per_kwh": self.now_g_per_kwh,
            "saving_g_per_kwh": self.saving_g_per_kwh, "saving_pct": self.saving_pct,
            "coverage": self.coverage, "reason": self.reason, "kind": self.kind,
            "zone": self.zone, "source": self.source,
            "forecast_end": _iso(self.forecast_end) if self.forecast_end else None,
            "windows_tried": self.windows_tried, "notes": list(self.notes),
        }
        if energy_j is not None:
            data["energy_j"] = energy_j
            data["saving_g"] = self.saving_g(energy_j)
        return data


def best_start_window(
    forecast: Sequence[IntensityPoint],
    duration: timedelta,
    deadline: datetime,
    *,
    now: datetime | None = None,
    min_saving_pct: float = DEFAULT_MIN_SAVING_PCT,
) -> StartWindow:
    """The start in ``[now, deadline - duration]`` with the lowest mean forecast intensity.

    ``deadline`` is when the run must have ended. See the module docstring for gaps, ties,
    forecasts that end early and deadlines that cannot be met.
    """
    if duration <= timedelta(0):
        raise ValueError(f"duration must be positive, not {duration}")
    if not math.isfinite(min_saving_pct) or min_saving_pct < 0:
        raise ValueError(f"min_saving_pct must be a number >= 0, not {min_saving_pct}")
    now = _utc(now if now is not None else datetime.now(timezone.utc), "now")
    deadline = _utc(deadline, "deadline")
    series = StepSeries(forecast)
    d_s = duration.total_seconds()
    now_s, deadline_s = now.timestamp(), deadline.timestamp()
    now_mean, now_cover = series.mean(now_s, now_s + d_s)
    now_whole_mean = now_mean if now_cover >= d_s - _EPS_S else None
    first = forecast[0] if forecast else None

    def answer(start: datetime, mean: float | None, coverage: float, reason: str, *,
               notes: Sequence[str] = (), tried: int = 0, fits: bool = True) -> StartWindow:
        return StartWindow(
            start=start, end=start + duration, now=now, deadline=deadline,
            start_now=start == now, fits=fits, mean_g_per_kwh=mean,
            now_g_per_kwh=now_whole_mean, coverage=coverage, reason=reason,
            kind=first.kind if first else None, zone=first.zone if first else None,
            source=first.source if first else None,
            forecast_end=_at(series.end) if series.end is not None else None,
            windows_tried=tried, notes=tuple(notes))

    def start_now(reason: str, *, notes: Sequence[str] = (), tried: int = 0,
                  fits: bool = True) -> StartWindow:
        return answer(now, now_mean, now_cover / d_s, reason, notes=notes, tried=tried,
                      fits=fits)

    if deadline_s - now_s < d_s - _EPS_S:
        left = max(0.0, deadline_s - now_s)
        return start_now(f"cannot fit: the deadline leaves {_hours(left)} for a run of "
                         f"{_hours(d_s)}; starting now", fits=False)
    if series.end is None:
        return start_now("no forecast: starting now")
    notes: list[str] = list(series.notes)
    latest_s = deadline_s - d_s
    if series.end < deadline_s - _EPS_S:
        latest_s = min(latest_s, series.end - d_s)
        notes.append(f"the forecast ends at {_iso(_at(series.end))}, before the deadline "
                     f"{_iso(deadline)}: starts after {_iso(_at(max(now_s, latest_s)))} "
                     "were not considered")
    candidates = sorted({s for s in (now_s, latest_s, *series.bounds,
                                     *(b - d_s for b in series.bounds))
                         if now_s - _EPS_S <= s <= latest_s + _EPS_S})
    scored = []
    for start_s in candidates:
        mean, covered = series.mean(start_s, start_s + d_s)
        if covered >= d_s - _EPS_S and mean is not None:  # windows over a gap are rejected
            scored.append((max(start_s, now_s), mean))
    if not scored:
        why = (f"the forecast covers only {_hours(now_cover)} of a run started now"
               if now_whole_mean is None else "no window before the deadline is wholly covered")
        return start_now(f"no wholly forecast window ({why}): starting now", notes=notes)
    best_mean = min(mean for _, mean in scored)
    tie = 1e-9 * max(1.0, abs(best_mean))
    best_s = next(s for s, mean in scored if mean <= best_mean + tie)  # earliest among equals
    if best_s <= now_s + _EPS_S:
        return start_now("starting now is already the cleanest window", notes=notes,
                         tried=len(scored))
    pct = (100.0 * (now_whole_mean - best_mean) / now_whole_mean
           if now_whole_mean else None)
    if pct is not None and pct < min_saving_pct:
        return start_now(f"waiting saves only {pct:.1f}% (under {min_saving_pct:g}%): starting "
                         "now", notes=notes, tried=len(scored))
    reason = (f"the cleanest window: {pct:.0f}% below starting now" if pct is not None else
              "the cleanest wholly forecast window (a run started now is not wholly forecast, "
              "so there is no saving to compare)")
    return answer(_at(best_s), best_mean, 1.0, reason, notes=notes, tried=len(scored))


def local_text(when: datetime, zone: tzinfo | None = None) -> str:
    """``2026-03-29 03:00 BST``: ``when`` in ``zone`` (the system's local zone when None)."""
    local = when.astimezone(zone) if zone is not None else when.astimezone()
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or local.strftime('%z')}"


class StepSeries:
    """A step function over Unix seconds with prefix integrals, for O(log n) window means."""

    def __init__(self, points: Sequence[IntensityPoint]) -> None:
        self.notes: list[str] = []
        ordered = sorted(points, key=lambda p: p.start)
        starts: list[float] = []
        ends: list[float] = []
        values: list[float] = []
        overlapped = 0
        for point in ordered:
            start_s, end_s = point.start.timestamp(), point.end.timestamp()
            if ends and start_s < ends[-1]:  # a later point overlapping: keep the earlier one
                overlapped += 1
                start_s = ends[-1]
            if end_s <= start_s:
                continue
            starts.append(start_s)
            ends.append(end_s)
            values.append(point.g_per_kwh)
        if overlapped:
            self.notes.append(f"{overlapped} forecast points overlapped the one before; the "
                              "earlier point's value was kept for the overlap")
        gaps = sum(1 for a, b in zip(ends, starts[1:], strict=False) if b > a + _EPS_S)
        if gaps:
            self.notes.append(f"the forecast has {gaps} gap(s) between its points; windows "
                              "overlapping a gap were rejected, not filled in")
        self.starts, self.ends, self.values = starts, ends, values
        self.bounds = tuple(sorted(set(starts) | set(ends)))
        self.end = ends[-1] if ends else None
        # Integral of intensity (g/kWh x s) and covered seconds before each point's start.
        self._area = [0.0]
        self._cover = [0.0]
        for s, e, v in zip(starts, ends, values, strict=True):
            self._area.append(self._area[-1] + v * (e - s))
            self._cover.append(self._cover[-1] + (e - s))

    def upto(self, t: float) -> tuple[float, float]:
        """(integral of intensity x seconds, covered seconds) before ``t``."""
        i = bisect.bisect_right(self.starts, t) - 1
        if i < 0:
            return 0.0, 0.0
        inside = max(0.0, min(t, self.ends[i]) - self.starts[i])
        return self._area[i] + self.values[i] * inside, self._cover[i] + inside

    def mean(self, start_s: float, end_s: float) -> tuple[float | None, float]:
        """The mean over the covered part of [start_s, end_s) and the seconds covered."""
        area_a, cover_a = self.upto(start_s)
        area_b, cover_b = self.upto(end_s)
        covered = cover_b - cover_a
        if covered <= _EPS_S:
            return None, 0.0
        return (area_b - area_a) / covered, covered


def _utc(when: datetime, name: str) -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        # A naive time could be local or UTC: guessing would move the window by hours.
        raise ValueError(f"{name} must be timezone-aware (UTC inside), not {when!r}")
    return when.astimezone(timezone.utc)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"
