"""How much a run will cost: its total duration, energy and emissions, predicted from its work.

The user says how much work the run will do (``tracker.expect(total=10_000, unit="steps")``;
framework callbacks pass ``max_steps``) and counts it as it goes (``tracker.step()``). Each
record then carries the units done in its interval, its duration and its energy. The
:class:`Predictor` sees one record at a time, on the tracker's thread, and answers:

    remaining units x (seconds, joules per unit in the current regime) + what was measured

**The current regime.** The first steps of a run are rarely like the rest (compilation, cache
warm-up, data loading), and a run can slow down midway (thermal throttling, a shared GPU, a
longer sequence length). Multiplying the first epoch would carry those into the prediction. The
predictor keeps the current regime's intervals as at most :data:`MAX_BLOCKS` blocks of sums, an
exponential histogram (the newest intervals blocks of their own, older ones merged in blocks
about as long as their age), and at each record looks for the split of those blocks where the
per-unit cost changed most: a ratio model ``dt = m du`` (and ``dE = e du``) fitted on each side,
and an F test of the two fits against one. Once the best split (``F >`` :data:`CHANGE_F`, a
change of more than :data:`MIN_CHANGE`) has :data:`MIN_NEW_INTERVALS` intervals after it,
everything before it is dropped: the prediction rests on the new regime alone (the end of a
warm-up is such a change). A change is so placed to within the record it happened in, even late
in a week-long run. Intervals before the first unit of work (set-up) never enter a regime.

**The band.** Per-interval noise is taken as independent, with a constant variance ``s^2``
estimated from the ratio fit's residuals. With ``n`` intervals holding ``U`` units and ``R``
units left, the remaining time ``R m`` has variance ``s^2 (R n / U) (R / U + 1)``: the error of
the estimated cost (``R^2 Var(m)``) plus the noise of the ``R n / U`` intervals still to come.
The band is a Student t interval with ``n - 1`` degrees of freedom at :data:`LEVEL` (90%), never
below what was measured; the calibration tests check that it holds the truth at that rate (on
200 synthetic runs with warm-ups: 88-94% at 10-80% of the work; 89-92% after a slowdown).
Slow drifts (noise that is not independent from one interval to the next) would make it too
narrow.
Emissions add the remaining energy at the regime's own intensity (grams per joule): a change of
the grid's intensity ahead is not foreseen, and the band does not cover it.

Cost: O(:data:`MAX_BLOCKS`) arithmetic per record (merges O(1) amortised), no memory that grows
with the run.
"""

from __future__ import annotations

import math

from ..records import Prediction

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..records import Record

__all__ = ["CHANGE_F", "LEVEL", "MAX_BLOCKS", "MIN_CHANGE", "MIN_NEW_INTERVALS", "PER_SIZE",
           "Predictor", "t_quantile"]

#: The share of runs whose truth the band holds.
LEVEL = 0.9
#: Blocks of interval sums kept for the current regime; the oldest are merged beyond this.
MAX_BLOCKS = 32
#: Blocks of one size kept before the two oldest of them merge (see Predictor._merge).
PER_SIZE = 4
#: Intervals a new regime needs before a change is believed (and before a first prediction).
MIN_NEW_INTERVALS = 3
#: The F statistic (one parameter more, for two fits instead of one) that says the cost changed.
CHANGE_F = 40.0
#: ... and the relative change of the per-unit cost below which it is not worth a re-base.
MIN_CHANGE = 0.1
#: The largest figure a prediction carries: the team server refuses numbers beyond 1e18 (and
#: with them the whole batch, records included), so a prediction past it is not made.
MAX_FIGURE = 1e18


class _Sums:
    """Sums over intervals: count, units, seconds, joules, grams, and the cross products the
    ratio fits need (per unit: time ``t``, energy ``e``)."""

    __slots__ = ("e", "ee", "eu", "g", "n", "t", "tt", "tu", "u", "uu")

    def __init__(self) -> None:
        self.n = 0
        self.u = self.t = self.e = self.g = 0.0
        self.uu = self.tt = self.tu = self.ee = self.eu = 0.0

    def add_interval(self, du: float, dt: float, de: float, dg: float) -> None:
        self.n += 1
        self.u += du
        self.t += dt
        self.e += de
        self.g += dg
        self.uu += du * du
        self.tt += dt * dt
        self.tu += dt * du
        self.ee += de * de
        self.eu += de * du

    def add(self, other: _Sums) -> None:
        self.n += other.n
        self.u += other.u
        self.t += other.t
        self.e += other.e
        self.g += other.g
        self.uu += other.uu
        self.tt += other.tt
        self.tu += other.tu
        self.ee += other.ee
        self.eu += other.eu

    def rss_t(self) -> float:
        """Residual sum of squares of ``dt = m du`` with ``m = sum dt / sum du``."""
        return _rss(self.tt, self.tu, self.uu, self.t / self.u)

    def rss_e(self) -> float:
        return _rss(self.ee, self.eu, self.uu, self.e / self.u)


class Predictor:
    """Predicts one run's totals from its records; see the module docstring.

    ``total`` units of ``unit`` are expected; ``done``, ``elapsed_s``, ``energy_j`` and
    ``emissions_g`` are what the run measured before this predictor saw its first record.
    Not thread-safe: one thread (the tracker's) calls :meth:`add`.
    """

    def __init__(self, *, total: float, unit: str, level: float = LEVEL, done: float = 0.0,
                 elapsed_s: float = 0.0, energy_j: float = 0.0, emissions_g: float = 0.0,
                 max_blocks: int = MAX_BLOCKS) -> None:
        if not 0 < total <= MAX_FIGURE:  # NaN fails too
            raise ValueError(f"total must be a positive number of {unit} (at most "
                             f"{MAX_FIGURE:g}), not {total!r}")
        if not 0 < level < 1:
            raise ValueError(f"level must be between 0 and 1 (0.9 for 90%), not {level!r}")
        self.total = float(total)
        self.unit = unit
        self.level = level
        self.done = float(done)
        self.elapsed_s = float(elapsed_s)
        self.energy_j = float(energy_j)
        self.emissions_g = float(emissions_g)
        self.rebased = 0
        self.regime_start_s: float | None = None
        self._max_blocks = max(4, max_blocks)
        self._blocks: list[_Sums] = []
        self._starts: list[float] = []  # wall clock start of each block's first interval
        self._regime = _Sums()
        self._last: Prediction | None = None

    @property
    def last(self) -> Prediction | None:
        """The latest prediction (None until the regime has enough intervals)."""
        return self._last

    def add(self, record: Record) -> Prediction | None:
        """Take one record; the prediction after it (None while too little is known)."""
        du = 0.0
        for unit, count in record.work:
            if unit == self.unit:
                du += count
        dt, de, dg = record.duration_s, record.energy_j, record.emissions_g
        self.done += du
        self.elapsed_s += dt
        self.energy_j += de
        self.emissions_g += dg
        if du <= 0 and (not self._blocks or dt <= 0):
            # set-up before the first unit: part of no regime; an empty record (the last
            # cut at stop, right after another) says nothing new
            return self._last
        block = _Sums()
        block.add_interval(du, dt, de, dg)
        self._blocks.append(block)
        self._starts.append(record.start_s)
        self._regime.add(block)
        change = self._change()  # before merging: the newest intervals are blocks of their own
        if change is not None:
            self._rebase(change[0])
        self._merge()
        if self.regime_start_s is None:
            self.regime_start_s = self._starts[0]
        self._last = self._predict(record)
        return self._last

    # -- regimes ----------------------------------------------------------------------------
    def _merge(self) -> None:
        """Keep the blocks an exponential histogram: sizes never grow from old to new, at most
        :data:`PER_SIZE` blocks of one size (the two oldest of a size merge into one of twice
        it), and beyond :data:`MAX_BLOCKS` the two oldest merge. Recent blocks stay small, so a
        change is placed to within a block about as long as the time since it happened; the
        merges cost O(1) amortised a record."""
        blocks, starts = self._blocks, self._starts
        end = len(blocks)  # one past the newest block of the size looked at
        while end > 1:
            size = blocks[end - 1].n
            first = end - 1
            while first > 0 and blocks[first - 1].n == size:
                first -= 1
            if end - first <= PER_SIZE:
                end = first
                continue
            blocks[first].add(blocks[first + 1])
            del blocks[first + 1], starts[first + 1]
            end = first + 1  # the merged block may now be one too many of its new size
        while len(blocks) > self._max_blocks:
            blocks[0].add(blocks[1])
            del blocks[1], starts[1]

    def _change(self) -> tuple[int, float] | None:
        """(index of the first block of the new regime, F) where the per-unit cost changed
        most, if it changed and :data:`MIN_NEW_INTERVALS` intervals came since. One pass from
        the newest block back, plain floats: this runs at every record."""
        regime, blocks = self._regime, self._blocks
        n = regime.n
        if n < MIN_NEW_INTERVALS + 2 or len(blocks) < 2:
            return None
        dof = n - 2
        rss_t, rss_e = regime.rss_t(), regime.rss_e()
        N, U, T, E = n, regime.u, regime.t, regime.e
        UU, TT, TU, EE, EU = regime.uu, regime.tt, regime.tu, regime.ee, regime.eu
        best: tuple[int, float] | None = None
        best_new = 0  # intervals after the best split
        nn = 0
        u = t = e = uu = tt = tu = ee = eu = 0.0
        for at in range(len(blocks) - 1, 0, -1):
            b = blocks[at]
            nn += b.n
            u += b.u
            t += b.t
            e += b.e
            uu += b.uu
            tt += b.tt
            tu += b.tu
            ee += b.ee
            eu += b.eu
            if N - nn < 2:
                continue
            ou = U - u
            if u <= 0 or ou <= 0:
                continue
            mt_new, mt_old = t / u, (T - t) / ou
            me_new, me_old = e / u, (E - e) / ou
            f = 0.0
            if abs(mt_new - mt_old) > MIN_CHANGE * max(abs(mt_new), abs(mt_old)):
                two = (_rss(tt, tu, uu, mt_new)
                       + _rss(TT - tt, TU - tu, UU - uu, mt_old))
                f = _f_stat(rss_t, two, dof)
            if abs(me_new - me_old) > MIN_CHANGE * max(abs(me_new), abs(me_old)):
                two = (_rss(ee, eu, uu, me_new)
                       + _rss(EE - ee, EU - eu, UU - uu, me_old))
                f = max(f, _f_stat(rss_e, two, dof))
            if f > CHANGE_F and (best is None or f > best[1]):
                best, best_new = (at, f), nn
        # Every split competes, but the regime moves only once the best one has enough
        # intervals after it: a change seen in its first interval is placed where it happened,
        # not as far back as MIN_NEW_INTERVALS would reach (into the old regime).
        return best if best_new >= MIN_NEW_INTERVALS else None

    def _rebase(self, at: int) -> None:
        self._blocks = self._blocks[at:]
        self._starts = self._starts[at:]
        regime = _Sums()
        for block in self._blocks:
            regime.add(block)
        self._regime = regime
        self.regime_start_s = self._starts[0]
        self.rebased += 1

    # -- the prediction -----------------------------------------------------------------------
    def _predict(self, record: Record) -> Prediction | None:
        regime = self._regime
        n = regime.n
        if n < MIN_NEW_INTERVALS or regime.u <= 0:
            return None
        left = max(0.0, self.total - self.done)
        s_per_unit = regime.t / regime.u
        j_per_unit = regime.e / regime.u
        # grams per joule ahead: the regime's own, else the run's (a regime without energy)
        g_per_j = (regime.g / regime.e if regime.e > 0 else
                   self.emissions_g / self.energy_j if self.energy_j > 0 else 0.0)
        # Var(remaining) = s^2 (R n / U) (R / U + 1): see the module docstring
        spread = (left * n / regime.u) * (left / regime.u + 1.0)
        q = t_quantile(0.5 + self.level / 2, n - 1)
        sd_t = math.sqrt(regime.rss_t() / (n - 1) * spread) if n > 1 else 0.0
        sd_e = math.sqrt(regime.rss_e() / (n - 1) * spread) if n > 1 else 0.0
        rest_s, rest_j = left * s_per_unit, left * j_per_unit
        low_j = max(0.0, rest_j - q * sd_e)
        high_j = rest_j + q * sd_e
        at_s = record.start_s + record.duration_s
        high_s = self.elapsed_s + rest_s + q * sd_t
        if not (high_s <= MAX_FIGURE and self.energy_j + high_j <= MAX_FIGURE
                and (self.emissions_g + high_j * g_per_j) <= MAX_FIGURE):
            return None  # NaN or beyond what any run does: no prediction rather than a wrong one
        return Prediction(
            run_id=record.run_id, seq=record.seq, at_s=at_s, unit=self.unit, done=self.done,
            total=self.total, level=self.level,
            duration_s=self.elapsed_s + rest_s,
            duration_low_s=self.elapsed_s + max(0.0, rest_s - q * sd_t),
            duration_high_s=high_s,
            energy_j=self.energy_j + rest_j, energy_low_j=self.energy_j + low_j,
            energy_high_j=self.energy_j + high_j,
            emissions_g=self.emissions_g + rest_j * g_per_j,
            emissions_low_g=self.emissions_g + low_j * g_per_j,
            emissions_high_g=self.emissions_g + high_j * g_per_j,
            end_s=at_s + rest_s, seconds_per_unit=s_per_unit, energy_j_per_unit=j_per_unit,
            regime_start_s=self.regime_start_s if self.regime_start_s is not None else at_s,
            regime_intervals=n, rebased=self.rebased,
        )


def _rss(yy: float, yu: float, uu: float, m: float) -> float:
    """Residual sum of squares of ``y = m u`` from the sums of squares and products."""
    return max(0.0, yy - 2 * m * yu + m * m * uu)


def _f_stat(rss_one: float, rss_two: float, dof: int) -> float:
    """F of two ratio fits against one (one parameter more)."""
    gain = rss_one - rss_two
    if gain <= 0:
        return 0.0
    if rss_two <= 1e-12 * rss_one:
        return math.inf  # noiseless: any real change is certain
    return gain / (rss_two / dof)


_Z: dict[float, float] = {}  # normal quantiles by p: one level per run, asked at every record


def t_quantile(p: float, dof: int) -> float:
    """The ``p`` quantile of Student's t with ``dof`` degrees of freedom (exact for 1 and 2;
    the Cornish-Fisher expansion beyond: within 0.2% from 3 on for ``p`` up to 0.975, 1% at
    0.995)."""
    if dof < 1:
        return math.inf
    if dof == 1:
        return math.tan(math.pi * (p - 0.5))
    if dof == 2:
        return (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    z = _Z.get(p)
    if z is None:
        from statistics import NormalDist

        z = _Z[p] = NormalDist().inv_cdf(p)
    z2 = z * z
    v = float(dof)
    # Abramowitz & Stegun 26.7.5
    return (z + z * (z2 + 1) / (4 * v)
            + z * (5 * z2 * z2 + 16 * z2 + 3) / (96 * v * v)
            + z * (3 * z2 ** 3 + 19 * z2 * z2 + 17 * z2 - 15) / (384 * v ** 3)
            + z * (79 * z2 ** 4 + 776 * z2 ** 3 + 1482 * z2 * z2 - 1920 * z2 - 945)
            / (92160 * v ** 4))


def status_text(prediction: Prediction, *, now_s: float | None = None,
                tz_offset_s: float | None = None) -> str:
    """The live status line's words for ``prediction``:
    ``~2.140 kWh, 642.00 g by 14:32 (90%: 1.900-2.400 kWh)``.

    The end is in local time (``tz_offset_s`` east of UTC, for tests), with the date when it is
    not within the next 24 hours of ``now_s``.
    """
    import time

    from ..report import format_mass

    if now_s is None:
        now_s = time.time()
    end = prediction.end_s
    if tz_offset_s is None:
        when = time.localtime(end)
    else:
        when = time.gmtime(end + tz_offset_s)
    clock = time.strftime("%H:%M", when)
    if end - now_s >= 86_400:
        clock = time.strftime("%d %b ", when).lstrip("0") + clock
    low, high = prediction.energy_low_j, prediction.energy_high_j
    return (f"~{_kwh_text(prediction.energy_j)}, {format_mass(prediction.emissions_g)} by "
            f"{clock} ({prediction.level:.0%}: {_kwh_range(low, high)})")


def _kwh_text(energy_j: float) -> str:
    from ..report import format_energy

    return format_energy(energy_j)


def _kwh_range(low_j: float, high_j: float) -> str:
    """``1.900-2.400 kWh``: both ends in the unit of the higher one."""
    from ..report import format_energy

    high = format_energy(high_j)
    number, _, unit = high.partition(" ")
    scale = {"kWh": 3.6e6, "Wh": 3600.0, "mWh": 3.6}[unit]
    digits = len(number.partition(".")[2])
    return f"{low_j / scale:.{digits}f}-{number} {unit}"
