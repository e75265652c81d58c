"""Live carbon intensity without network I/O on the caller's thread.

:class:`LiveSource` wraps a provider (:mod:`wattprint.intensity.providers`) and a fallback
:class:`~wattprint.intensity.IntensitySource` (normally the bundled tables). Its contract:

- ``lookup()`` never touches the network: it reads values that a background daemon thread
  fetched. The tracker calls ``lookup()`` once per sampling interval, under its lock; a slow or
  dead API must never stretch an interval or block ``stop()``.
- The thread starts lazily at the first ``lookup()`` and refreshes every ``refresh_s`` the
  provider's latest value and a ``forecast_hours`` forecast for every location asked about.
- ``lookup(where, start, end)`` answers, in order: the time-weighted mean of the cached points
  overlapping the window (reported values before forecasts); else the latest value if it was
  fetched less than ``max_age_s`` ago; else the fallback's value with a note saying why
  (``"electricitymaps unavailable: <reason>; bundled value used"``). Only provider values carry
  ``live=True``.
- A marginal provider (WattTime) is never replaced by an average fallback: the two measure
  different things, and a run whose intervals silently switched between them would add
  incomparable numbers. Such a lookup raises ``IntensityUnavailable`` instead, which the
  tracker records as a visible gap.
- ``close(timeout_s)`` is bounded: it stops the thread, interrupts retries and backoff waits,
  and waits at most ``timeout_s`` (default 1 s) for the thread; the thread is a daemon, so an
  in-flight request can never hold the process open.
- Fork-safe: in a forked child the thread does not exist and is not restarted; the child reads
  what was cached before the fork, then the fallback, silently.

:func:`hourly_history` serves the later ``wattprint rescore``: hourly means over a past range,
through the provider's disk cache.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from .._struct import dataclass, field
from ..errors import IntensityUnavailable
from . import Intensity, IntensitySource, Location
from .providers import IntensityPoint, Provider, average_over

__all__ = ["LiveSource", "hourly_history"]

log = logging.getLogger("wattprint.intensity")

_HOUR = timedelta(hours=1)
T = TypeVar("T")

_sources: weakref.WeakSet[LiveSource] = weakref.WeakSet()
_fork_hook_installed = False


def _after_fork_in_child() -> None:
    # Only the forking thread survives a fork. If the refresh thread held a source's lock at
    # that moment, the child's copy is locked forever: give every source a fresh one.
    for source in list(_sources):
        source._lock = threading.Lock()


def _install_fork_hook() -> None:
    global _fork_hook_installed
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_installed = True


@dataclass(frozen=True)
class _Cached:
    """What the refresh thread last learned about one location (replaced, never mutated)."""

    latest: IntensityPoint | None = None
    latest_at: float | None = None  # clock() when ``latest`` was fetched
    forecast: tuple[IntensityPoint, ...] = ()
    error: str | None = None  # why the last refresh of ``latest`` failed, if it did
    attempts: int = 0

    def points(self) -> list[IntensityPoint]:
        return ([self.latest] if self.latest else []) + list(self.forecast)


_Place = tuple[object, ...]


def _place(where: Location) -> _Place:
    # What a provider can see of a location: how it was resolved ("config", "timezone") and the
    # detail text do not change the grid, so they do not split the cache.
    return (where.country, where.subdivision, where.zone, where.cloud, where.cloud_region,
            getattr(where, "latitude", None), getattr(where, "longitude", None))


@dataclass
class _State:
    cached: dict[_Place, _Cached] = field(default_factory=dict)
    wanted: dict[_Place, Location] = field(default_factory=dict)


class LiveSource:
    """An :class:`~wattprint.intensity.IntensitySource` fed by a background refresh thread."""

    def __init__(
        self,
        provider: Provider,
        fallback: IntensitySource,
        *,
        refresh_s: float = 900.0,
        forecast_hours: int = 24,
        max_age_s: float | None = None,
        clock: Callable[[], float] = time.time,
        close_provider: bool = True,
    ) -> None:
        if refresh_s <= 0:
            raise ValueError("refresh_s must be positive")
        self.provider = provider
        self.fallback = fallback
        self.name = provider.name
        self.refresh_s = refresh_s
        self.forecast_hours = forecast_hours
        # Two missed refreshes make the latest value stale.
        self.max_age_s = max_age_s if max_age_s is not None else 2 * refresh_s + 60.0
        self._clock = clock
        self._close_provider = close_provider
        self._state = _State()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()  # set after each full refresh pass
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._logged: set[str] = set()
        _sources.add(self)
        _install_fork_hook()

    # -- IntensitySource ----------------------------------------------------------------
    def lookup(self, where: Location, start: datetime, end: datetime) -> Intensity:
        self._want(where)
        with self._lock:
            cached = self._state.cached.get(_place(where), _Cached())
        found = self._from_cache(cached, start, end)
        if found is not None:
            return found
        return self._fallback(where, start, end, self._reason(cached))

    def _from_cache(self, cached: _Cached, start: datetime, end: datetime) -> Intensity | None:
        points = cached.points()
        value = average_over(points, start, end)
        if value is not None:
            first = next(p for p in points if p.overlap_s(start, end) > 0 or p.covers(start))
            return self.provider.to_intensity(first, g_per_kwh=value)
        if cached.latest is not None and self._fresh(cached):
            return self.provider.to_intensity(cached.latest)
        return None

    def _fresh(self, cached: _Cached) -> bool:
        if cached.latest_at is None:
            return False
        age = self._clock() - cached.latest_at
        return 0 <= age <= self.max_age_s

    def _reason(self, cached: _Cached) -> str:
        if cached.error:
            return cached.error
        if cached.latest_at is not None:
            minutes = (self._clock() - cached.latest_at) / 60
            return f"its last value is {minutes:.0f} min old"
        return "no value fetched yet"

    def _fallback(self, where: Location, start: datetime, end: datetime,
                  reason: str) -> Intensity:
        prefix = f"{self.provider.name} unavailable: {_strip_name(reason, self.provider.name)}"
        value = self.fallback.lookup(where, start, end)
        if value.kind != self.provider.kind:
            raise IntensityUnavailable(
                f"{prefix}; the {self.fallback.name} value is {value.kind}, not "
                f"{self.provider.kind}, so it is not used in its place")
        return value.with_note(f"{prefix}; {self.fallback.name} value used")

    # -- the refresh thread -------------------------------------------------------------
    def _want(self, where: Location) -> None:
        with self._lock:
            if _place(where) not in self._state.wanted:
                self._state.wanted[_place(where)] = where
                self._wake.set()
            if self._thread is not None or self._stop.is_set() or os.getpid() != self._pid:
                return  # already running, closed, or a forked child: stay silent
            self._thread = threading.Thread(
                target=self._run, name=f"wattprint-intensity-{self.provider.name}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            with self._lock:
                wanted = list(self._state.wanted.values())
            for where in wanted:
                if self._stop.is_set():
                    return
                self._refresh(where)
            self._ready.set()
            self._wake.wait(self.refresh_s)

    def _refresh(self, where: Location) -> None:
        latest, latest_error = self._attempt(lambda: self.provider.latest_point(where))
        forecast, forecast_error = self._attempt(
            lambda: self.provider.forecast(where, self.forecast_hours))
        if forecast_error:  # plans without forecasts are common: say so once, at debug level
            self._log_once(logging.DEBUG, forecast_error)
        if latest_error:
            self._log_once(logging.WARNING, latest_error)
        now = self._clock()
        with self._lock:
            old = self._state.cached.get(_place(where), _Cached())
            fresh = _Cached(
                latest=latest if latest is not None else old.latest,
                latest_at=now if latest is not None else old.latest_at,
                forecast=tuple(forecast) if forecast is not None else old.forecast,
                error=latest_error, attempts=old.attempts + 1,
            )
            self._state.cached[_place(where)] = fresh

    @staticmethod
    def _attempt(call: Callable[[], T]) -> tuple[T | None, str | None]:
        # The stage boundary: whatever a provider raises (ProviderError, a bug, a closed
        # client) is recorded as the reason and shown in the fallback note, never raised.
        try:
            return call(), None
        except Exception as exc:  # noqa: BLE001 - the stage boundary, see above
            return None, str(exc) or type(exc).__name__

    def _log_once(self, level: int, message: str) -> None:
        if message not in self._logged:
            self._logged.add(message)
            log.log(level, "wattprint: %s", message)

    # -- control ------------------------------------------------------------------------
    def wait_ready(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the first refresh pass (e.g. before a short run's first
        lookup, or in tests). Starts nothing: call after a ``lookup()`` or :meth:`prime`."""
        return self._ready.wait(timeout_s)

    def prime(self, where: Location) -> None:
        """Start refreshing ``where`` now, before the first ``lookup()``."""
        self._want(where)

    def refresh_now(self) -> None:
        """Ask the thread for a refresh pass without waiting for ``refresh_s``."""
        self._ready.clear()
        self._wake.set()

    def close(self, timeout_s: float = 1.0) -> bool:
        """Stop refreshing; True when the thread has ended within ``timeout_s``."""
        self._stop.set()
        self._wake.set()
        if self._close_provider:
            try:
                self.provider.close()  # interrupts a backoff wait; no new requests start
            except Exception as exc:  # noqa: BLE001 - close must not raise into stop()
                log.debug("closing provider %s: %r", self.provider.name, exc)
        thread = self._thread
        if thread is None or os.getpid() != self._pid or thread is threading.current_thread():
            return thread is None or not thread.is_alive()
        thread.join(max(0.0, timeout_s))
        return not thread.is_alive()


def hourly_history(provider: Provider, where: Location, start: datetime,
                   end: datetime) -> list[IntensityPoint]:
    """Hourly provider means over [start, end), for re-scoring past runs.

    The range is widened to whole UTC hours and fetched through ``provider.history`` (chunked
    and disk-cached by the provider, so a second call is offline). Each hour is the
    time-weighted mean of the provider's points within it (NESO's half hours, WattTime's five
    minutes); an hour with no data at all is left out, never interpolated, so callers see the
    gap. ``forecast`` is True for an hour if any of its points was a forecast.
    """
    first = start.replace(minute=0, second=0, microsecond=0)
    last = end.replace(minute=0, second=0, microsecond=0)
    if last < end:
        last += _HOUR
    points = provider.history(where, first, last)
    hours: list[IntensityPoint] = []
    cursor = first
    while cursor < last:
        stop = cursor + _HOUR
        inside = [p for p in points if p.overlap_s(cursor, stop) > 0]
        value = average_over(inside, cursor, stop)
        if value is not None:
            hours.append(IntensityPoint(
                start=cursor, end=stop, g_per_kwh=value, kind=provider.kind,
                zone=inside[0].zone, source=provider.name,
                forecast=any(p.forecast for p in inside)))
        cursor = stop
    return hours


def _strip_name(reason: str, name: str) -> str:
    # Provider errors start with "<name>: "; the note already names the provider.
    prefix = f"{name}: "
    return reason.removeprefix(prefix)
