"""Intervals -> records; spans and units of work answered from the sampler's timeline.

The recorder turns each :class:`~wattprint.meter.Interval` into one
:class:`~wattprint.records.Record` (scope shares, intensity, PUE, emissions) and, at the same
moment, settles the spans that overlap it. Opening and closing a span only notes two clock
readings on the caller's thread; its energy is computed here, on the tracker's thread, from each
device's timeline of reads inside the interval (linear between reads, so each edge is placed to
within one sampling period: ``boundary="interpolated"``). A span covering a whole interval gets
exactly the record's energy.

Closed spans with the same name under the same parent fold into one aggregate (count, sums,
min/max), so a training loop's millions of ``step`` spans cost flat memory and one row.
"""

from __future__ import annotations

import threading
import time

from .records import (
    J_PER_KWH,
    ComponentEnergy,
    Record,
    SpanRecord,
    Totals,
    component_bucket,
    emissions_g,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable

    from .intensity import Intensity
    from .meter import Interval, Meter
    from .scope import Shares

__all__ = ["MAX_LIVE_SPANS", "Recorder", "Span"]

#: Spans waiting for the next record (about 150 bytes each) past which a record is cut early,
#: at most once per :data:`MIN_EARLY_CUT_S`: a loop of empty spans at 200,000 per second then
#: holds tens of MB at most, and a real training loop (a step of 1 ms or more) never gets there.
MAX_LIVE_SPANS = 50_000
MIN_EARLY_CUT_S = 1.0




class Span:
    """A named part of a run (``with tracker.span("epoch-3") as s: ...``).

    ``energy_j``, ``emissions_g`` and the component totals are settled by the tracker's thread
    at the next record; reading them earlier settles them at once (one measurement on the
    reading thread, paid only when asked).
    """

    __slots__ = ("_bucket", "_epoch", "_final", "_recorder", "_totals", "_work", "end_mono_s",
                 "end_s", "name", "parent_id", "span_id", "start_mono_s", "start_s")

    def __init__(self, name: str, recorder: Recorder | None) -> None:
        self.name = name
        self._recorder = recorder
        self.span_id = name
        self.parent_id: str | None = None
        self.start_mono_s = 0.0
        self.end_mono_s: float | None = None
        self.start_s = 0.0
        self.end_s: float | None = None
        self._totals = _NO_ENERGY  # a Totals of its own from the first settled joule
        self._work: dict[str, float] | None = None
        self._final = recorder is None
        self._epoch = -1  # the meter's read count when it opened
        self._bucket: _Bucket | None = None  # when it closed before any read: priced there

    def __enter__(self) -> Span:
        if self._recorder is not None:
            self._recorder.open(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._recorder is not None and self.end_mono_s is None:
            self._recorder.close(self)

    def __repr__(self) -> str:
        return f"Span({self.span_id!r}, final={self.final})"

    def step(self, n: float = 1, unit: str = "samples") -> None:
        """Count ``n`` units of work done (in this span, the spans around it and the run)."""
        if self._recorder is not None:
            self._recorder.step(n, unit)

    @property
    def final(self) -> bool:
        """Whether its figures are settled (by the record after its end)."""
        bucket = self._bucket
        return self._final or (bucket is not None and bucket.power_w is not None)

    @property
    def totals(self) -> Totals:
        bucket = self._bucket
        if self._totals is _NO_ENERGY and bucket is not None and bucket.power_w is not None:
            self._totals = Totals()
            _add_linear(self._totals, bucket.power_w, self.duration_s, bucket.g_per_j)
        return self._totals

    def _settled(self) -> Totals:
        if not self.final and self._recorder is not None:
            self._recorder.settle_now()
        return self.totals

    @property
    def energy_j(self) -> float:
        return self._settled().energy_j

    @property
    def emissions_g(self) -> float:
        return self._settled().emissions_g

    @property
    def duration_s(self) -> float:
        end = self.end_mono_s if self.end_mono_s is not None else self.start_mono_s
        return max(0.0, end - self.start_mono_s)

    @property
    def work(self) -> dict[str, float]:
        return dict(self._work or {})


_NO_ENERGY = Totals()  # shared, never written: a span that has not been settled yet


class _Aggregate:
    """Every closed instance of one (parent, name)."""

    __slots__ = ("count", "duration_max_s", "duration_min_s", "duration_s", "emissions_g",
                 "energy_max_j", "energy_min_j", "first_start_s", "last_end_s", "name",
                 "parent_id", "span_id", "totals", "work")

    def __init__(self, first: Span | _Bucket) -> None:
        self.span_id, self.parent_id, self.name = first.span_id, first.parent_id, first.name
        self.count = 0
        self.first_start_s = first.start_s if isinstance(first, Span) else first.first_start_s
        self.last_end_s = self.first_start_s
        self.duration_s = 0.0
        self.duration_min_s = self.energy_min_j = float("inf")
        self.duration_max_s = self.energy_max_j = 0.0
        self.totals = Totals()
        self.work: dict[str, float] = {}

    def add(self, span: Span) -> None:
        t, d = span.totals, span.duration_s
        self.count += 1
        self.last_end_s = max(self.last_end_s, span.end_s or span.start_s)
        self.duration_s += d
        self.duration_min_s = min(self.duration_min_s, d)
        self.duration_max_s = max(self.duration_max_s, d)
        self.energy_min_j = min(self.energy_min_j, t.energy_j)
        self.energy_max_j = max(self.energy_max_j, t.energy_j)
        mine = self.totals
        mine.cpu_energy_j += t.cpu_energy_j
        mine.gpu_energy_j += t.gpu_energy_j
        mine.ram_energy_j += t.ram_energy_j
        mine.other_energy_j += t.other_energy_j
        mine.emissions_g += t.emissions_g
        mine.duration_s += d
        for unit, n in (span._work or {}).items():
            self.work[unit] = self.work.get(unit, 0.0) + n

    def add_bucket(self, bucket: _Bucket) -> None:
        """Every instance that closed between two reads: energy = power x duration each."""
        power = bucket.power_w
        assert power is not None
        watts = power["cpu"] + power["gpu"] + power["ram"] + power["other"]
        self.count += bucket.count
        self.last_end_s = max(self.last_end_s, bucket.last_end_s)
        self.duration_s += bucket.duration_s
        self.duration_min_s = min(self.duration_min_s, bucket.duration_min_s)
        self.duration_max_s = max(self.duration_max_s, bucket.duration_max_s)
        self.energy_min_j = min(self.energy_min_j, watts * bucket.duration_min_s)
        self.energy_max_j = max(self.energy_max_j, watts * bucket.duration_max_s)
        _add_linear(self.totals, power, bucket.duration_s, bucket.g_per_j)
        for unit, n in (bucket.work or {}).items():
            self.work[unit] = self.work.get(unit, 0.0) + n

    def to_record(self, run_id: str) -> SpanRecord:
        t = self.totals
        return SpanRecord(
            run_id=run_id, span_id=self.span_id, parent_id=self.parent_id, name=self.name,
            count=self.count, first_start_s=self.first_start_s, last_end_s=self.last_end_s,
            duration_s=self.duration_s, duration_min_s=self.duration_min_s,
            duration_max_s=self.duration_max_s, cpu_energy_j=t.cpu_energy_j,
            gpu_energy_j=t.gpu_energy_j, ram_energy_j=t.ram_energy_j,
            other_energy_j=t.other_energy_j, energy_j=t.energy_j,
            energy_min_j=self.energy_min_j, energy_max_j=self.energy_max_j,
            emissions_g=t.emissions_g, work=tuple(sorted(self.work.items())),
        )


class _Bucket:
    """The instances of one span path that opened and closed between the same two reads.

    Every device's power is constant between two reads (the meter interpolates linearly), so
    these instances differ only by their duration: the bucket keeps sums and extremes, not the
    spans, and memory stays flat however fast a loop opens spans. Priced at the next record.
    """

    __slots__ = ("count", "duration_max_s", "duration_min_s", "duration_s", "epoch",
                 "first_start_s", "g_per_j", "last_end_s", "name", "parent_id", "power_w",
                 "span_id", "work")

    def __init__(self, span: Span) -> None:
        self.span_id, self.parent_id, self.name = span.span_id, span.parent_id, span.name
        self.epoch = span._epoch
        self.count = 0
        self.first_start_s = span.start_s
        self.last_end_s = span.start_s
        self.duration_s = 0.0
        self.duration_min_s = float("inf")
        self.duration_max_s = 0.0
        self.work: dict[str, float] | None = None
        self.power_w: dict[str, float] | None = None  # per component bucket, once priced
        self.g_per_j = 0.0

    def add(self, span: Span, duration_s: float) -> None:
        self.count += 1
        self.last_end_s = span.end_s or span.start_s
        self.duration_s += duration_s
        if duration_s < self.duration_min_s:
            self.duration_min_s = duration_s
        if duration_s > self.duration_max_s:
            self.duration_max_s = duration_s
        if span._work:
            work = self.work if self.work is not None else {}
            for unit, n in span._work.items():
                work[unit] = work.get(unit, 0.0) + n
            self.work = work


class Recorder:
    """Cuts records and settles spans and work; see the module docstring."""

    def __init__(
        self,
        run_id: str,
        *,
        pue: float,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        warn: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.run_id = run_id
        self.pue = pue
        self._clock = clock
        self._wall = wall_clock
        self._warn = warn
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[Span] = set()
        self._live: list[Span] = []  # closed across a read, not yet settled
        self._buckets: dict[tuple[str, int], _Bucket] = {}  # closed between two reads
        #: The meter whose read count tells whether a span saw a read (set by the tracker).
        self.meter: Meter | None = None
        self._work: dict[str, float] = {}  # since the last record
        self._aggregates: dict[str, _Aggregate] = {}
        self._fallback_shares: set[str] = set()
        self._said: set[str] = set()  # share problems already warned about
        # Said by the next record: a tick whose measurement failed before the meter closed its
        # interval (that energy stays in the meter, so the next record spans both).
        self._carried: list[str] = []
        self.seq = 0  # of the next record
        self._last_cut_s = float("-inf")
        #: Called by a span whose figures are read before the tracker's thread settled them.
        self.settle_now: Callable[[], None] = lambda: None
        #: Called when :data:`MAX_LIVE_SPANS` spans wait to be settled, so memory stays flat
        #: however fast a loop opens spans: the tracker cuts a record early.
        self.crowded: Callable[[], None] = lambda: None

    # -- the caller's side: a few clock readings, no sensor, no I/O ----------------------
    def span(self, name: str) -> Span:
        return Span(str(name), self)

    def open(self, span: Span) -> None:
        stack: list[Span] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        if stack:
            parent = stack[-1].span_id
            span.parent_id, span.span_id = parent, f"{parent}/{span.name}"
        meter = self.meter
        span._epoch = meter.epoch if meter is not None else -1  # before the clock: see close
        span.start_s = self._wall()
        span.start_mono_s = self._clock()
        stack.append(span)
        with self._lock:
            self._open.add(span)
            crowded = len(self._open) + len(self._live) >= MAX_LIVE_SPANS
        if crowded and span.start_mono_s - self._last_cut_s >= MIN_EARLY_CUT_S:
            self._last_cut_s = span.start_mono_s  # asked once; the cut confirms it
            self.crowded()

    def close(self, span: Span) -> None:
        end = span.end_mono_s = self._clock()
        span.end_s = self._wall()
        stack: list[Span] = getattr(self._local, "stack", [])
        if stack and stack[-1] is span:
            stack.pop()
        elif span in stack:
            stack.remove(span)
        meter = self.meter
        # The meter raises its epoch before a read takes its timestamp: the same epoch now as
        # at the open means no read fell inside the span, whose power was then constant.
        between_reads = meter is not None and span._epoch == meter.epoch >= 0
        with self._lock:
            self._open.discard(span)
            if between_reads:
                key = (span.span_id, span._epoch)
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = _Bucket(span)
                bucket.add(span, max(0.0, end - span.start_mono_s))
                span._bucket = bucket
            else:
                self._live.append(span)

    def step(self, n: float, unit: str) -> None:
        stack: list[Span] = getattr(self._local, "stack", [])
        with self._lock:
            self._work[unit] = self._work.get(unit, 0.0) + n
            for span in stack:
                if span._work is None:
                    span._work = {}
                span._work[unit] = span._work.get(unit, 0.0) + n

    # -- the tracker's side -----------------------------------------------------------------
    def cut(self, interval: Interval, shares: Shares,
            intensity: Intensity | None) -> tuple[Record, list[SpanRecord]]:
        """The record for ``interval`` and the span aggregates it changed."""
        last_epoch = interval.epochs[-1][0] if interval.epochs else None
        with self._lock:
            work, self._work = self._work, {}
            live = [*self._open, *self._live]
            buckets = [b for b in self._buckets.values()
                       if last_epoch is None or b.epoch < last_epoch]
            for bucket in buckets:
                del self._buckets[(bucket.span_id, bucket.epoch)]
        self._last_cut_s = interval.start_mono_s + interval.duration_s
        record, devices = self._record(interval, shares, intensity, work)
        g_per_j = (intensity.g_per_kwh if intensity else 0.0) * self.pue / J_PER_KWH
        t0 = interval.start_mono_s
        t1 = t0 + interval.duration_s
        # Devices read only at the interval's two ends (models, counters read at cuts) are linear
        # in between: a span's share is then power x overlap, without a look-up per device.
        power_w = _linear_power_w(devices, t0)
        changed: dict[str, _Aggregate] = {}
        for span in live:
            end = span.end_mono_s
            x = max(span.start_mono_s, t0)
            y = t1 if end is None or end > t1 else end
            if y > x:
                if span._totals is _NO_ENERGY:
                    span._totals = Totals()
                if power_w is None:
                    _add_energy(span._totals, devices, x, y, g_per_j)
                else:
                    _add_linear(span._totals, power_w, y - x, g_per_j)
            if end is not None and end <= t1:
                span._final = True
                agg = changed[span.span_id] = self._aggregate_for(span)
                agg.add(span)
        if buckets:
            _price(buckets, devices, power_w, interval, g_per_j)
            for bucket in buckets:
                agg = changed[bucket.span_id] = self._aggregate_for(bucket)
                agg.add_bucket(bucket)
        if changed:
            with self._lock:
                self._live = [s for s in self._live if not s._final]
        self.seq += 1  # only now: a cut that failed half-way leaves no hole in seq
        self._carried.clear()
        return record, [a.to_record(self.run_id) for a in _in_order(changed.values())]

    def _aggregate_for(self, first: Span | _Bucket) -> _Aggregate:
        agg = self._aggregates.get(first.span_id)
        if agg is None:
            agg = self._aggregates[first.span_id] = _Aggregate(first)
        return agg

    def failed_tick(self, interval: Interval | None, reason: str, at_s: float) -> Record | None:
        """After a tick whose measurement raised: never drop its interval silently.

        ``interval`` is what the meter handed over before the failure, if it got that far. Its
        energy was then taken out of the meter and is not counted: the returned record holds
        only the time span and a gap saying how many joules the devices had read. Without an
        interval the meter still holds the energy, and the next record spans this tick too and
        says so; None is returned.
        """
        if interval is None:
            when = time.strftime("%H:%M:%S", time.gmtime(at_s))
            self._carried.append(f"tick: measuring at {when} UTC failed ({reason}); this record "
                                 "also spans that tick, with the energy the meter kept")
            return None
        read_j = sum(d.energy_j for d in interval.devices)
        gaps = tuple(self._carried) + tuple(f"{g.device}: {g.reason}" for g in interval.gaps)
        gaps += (f"tick: recording this interval failed ({reason}); the {read_j:.6g} J its "
                 "devices read are not counted",)
        record = Record(
            run_id=self.run_id, seq=self.seq, start_s=interval.start_s,
            duration_s=interval.duration_s, cpu_energy_j=0.0, gpu_energy_j=0.0,
            ram_energy_j=0.0, other_energy_j=0.0, energy_j=0.0, pue=self.pue, emissions_g=0.0,
            intensity_g_per_kwh=0.0, intensity_zone="", intensity_source="unavailable",
            intensity_year=None, intensity_kind=None, intensity_live=False, gaps=gaps,
        )
        self.seq += 1
        self._carried.clear()
        return record

    def close_open_spans(self) -> None:
        """At stop: every span still open ends now (settled by the final cut)."""
        with self._lock:
            still_open = list(self._open)
        for span in still_open:
            if span.end_mono_s is None:
                self.close(span)

    def spans(self) -> list[SpanRecord]:
        """Every aggregate so far, in order of first appearance."""
        return [a.to_record(self.run_id) for a in _in_order(self._aggregates.values())]

    def _record(self, interval: Interval, shares: Shares, intensity: Intensity | None,
                work: dict[str, float]) -> tuple[Record, list[tuple[Any, float, str]]]:
        for device, (_, basis) in shares.devices.items():
            # Utilization (and idle power split by memory) is the intended split; a fallback
            # is said once per device.
            if basis in ("memory", "unattributed") and device not in self._fallback_shares:
                self._fallback_shares.add(device)
                self._warn(f"{device}: process share by {basis}"
                           + (" (whole GPU counted)" if basis == "unattributed" else
                              " held (per-process utilization unavailable)"))
        for problem in shares.problems:
            if problem not in self._said:
                self._said.add(problem)
                self._warn(problem)
        buckets = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "other": 0.0}
        components = []
        devices = []  # (timeline, share, bucket) for settling spans
        for dev in interval.devices:
            share = shares.for_device(dev.device, dev.component)
            energy = dev.energy_j * share
            bucket = component_bucket(dev.component)
            components.append(ComponentEnergy(dev.component, dev.device, dev.method, energy, share,
                                              shares.basis_for(dev.device, dev.component)))
            buckets[bucket] += energy
            timeline = interval.timeline.get(dev.device)
            if timeline is not None:
                devices.append((timeline, share, bucket))
        total = sum(buckets.values())
        g_per_kwh = intensity.g_per_kwh if intensity else 0.0
        gaps = tuple(self._carried) + tuple(f"{g.device}: {g.reason}" for g in interval.gaps)
        gaps += tuple(f"share: {problem}" for problem in shares.problems)
        if intensity is None:
            gaps += ("intensity: unavailable, emissions not counted",)
        record = Record(
            run_id=self.run_id, seq=self.seq, start_s=interval.start_s,
            duration_s=interval.duration_s, cpu_energy_j=buckets["cpu"],
            gpu_energy_j=buckets["gpu"], ram_energy_j=buckets["ram"],
            other_energy_j=buckets["other"], energy_j=total, pue=self.pue,
            emissions_g=emissions_g(total, g_per_kwh, self.pue), intensity_g_per_kwh=g_per_kwh,
            intensity_zone=intensity.zone if intensity else "",
            intensity_source=intensity.source if intensity else "unavailable",
            intensity_year=intensity.year if intensity else None,
            # No intensity, no kind: such an interval takes no part in the run's kind or mean.
            intensity_kind=intensity.kind if intensity else None,
            intensity_live=intensity.live if intensity else False,
            intensity_basis=intensity.basis if intensity else None,
            intensity_scope=intensity.scope if intensity else None,
            intensity_gases=intensity.gases if intensity else None,
            components=tuple(components), gaps=gaps, work=tuple(sorted(work.items())),
        )
        return record, devices


def _linear_power_w(devices: Iterable[tuple[Any, float, str]],
                    start_s: float) -> dict[str, float] | None:
    """Scoped power per bucket when every device's timeline is one straight segment over the
    whole interval (a device first read mid-interval is not: nothing is known before)."""
    power = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "other": 0.0}
    for timeline, share, bucket in devices:
        if len(timeline.t_s) != 2 or timeline.t_s[0] > start_s:
            return None
        dt = timeline.t_s[1] - timeline.t_s[0]
        if dt > 0:
            power[bucket] += (timeline.energy_j[1] - timeline.energy_j[0]) / dt * share
    return power


def _in_order(aggregates: Iterable[_Aggregate]) -> list[_Aggregate]:
    """First opened first; a parent before the child that opened at the same instant."""
    return sorted(aggregates, key=lambda a: (a.first_start_s, a.span_id.count("/")))


def _price(buckets: list[_Bucket], devices: list[tuple[Any, float, str]],
           power_w: dict[str, float] | None, interval: Interval, g_per_j: float) -> None:
    """Each bucket's power per component: the devices' slope between its two reads."""
    epochs = interval.epochs
    bounds = {e: (t, epochs[i + 1][1]) for i, (e, t) in enumerate(epochs[:-1])}
    t0 = interval.start_mono_s
    whole = (t0, t0 + interval.duration_s)
    for bucket in buckets:
        bucket.g_per_j = g_per_j
        if power_w is not None:  # every device linear over the whole interval
            bucket.power_w = power_w
            continue
        x, y = bounds.get(bucket.epoch, whole)  # an unknown epoch: the interval's mean power
        watts = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0, "other": 0.0}
        if y > x:
            for timeline, share, component in devices:
                watts[component] += (timeline.at(y) - timeline.at(x)) / (y - x) * share
        bucket.power_w = watts


def _add_linear(totals: Totals, power_w: dict[str, float], seconds: float, g_per_j: float) -> None:
    cpu, gpu = power_w["cpu"] * seconds, power_w["gpu"] * seconds
    ram, other = power_w["ram"] * seconds, power_w["other"] * seconds
    totals.cpu_energy_j += cpu
    totals.gpu_energy_j += gpu
    totals.ram_energy_j += ram
    totals.other_energy_j += other
    totals.emissions_g += (cpu + gpu + ram + other) * g_per_j
    totals.duration_s += seconds


def _add_energy(totals: Totals, devices: Iterable[tuple[Any, float, str]], x: float, y: float,
                g_per_j: float) -> None:
    energy = 0.0
    for timeline, share, bucket in devices:
        joules = (timeline.at(y) - timeline.at(x)) * share
        energy += joules
        if bucket == "cpu":
            totals.cpu_energy_j += joules
        elif bucket == "gpu":
            totals.gpu_energy_j += joules
        elif bucket == "ram":
            totals.ram_energy_j += joules
        else:
            totals.other_energy_j += joules
    totals.emissions_g += energy * g_per_j
    totals.duration_s += y - x
