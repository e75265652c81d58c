"""best_past_start: a stored run's energy profile moved in time against crafted hourly history
(exact grams), ties, gaps, a history that misses the actual time, PUE, and long runs grouped."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from wattprint.advice.hindsight import best_past_start
from wattprint.intensity.providers import IntensityPoint
from wattprint.records import ComponentEnergy, Record

H = timedelta(hours=1)
DAY = datetime(2025, 12, 31, 0, 0, tzinfo=timezone.utc)
RUN_START = DAY + 12 * H  # 12:00 UTC
KWH = 3.6e6


def history(values: list[float | None], start: datetime = DAY) -> list[IntensityPoint]:
    return [IntensityPoint(start=start + i * H, end=start + (i + 1) * H, g_per_kwh=float(v),
                           kind="average", zone="DE", source="electricitymaps", forecast=False)
            for i, v in enumerate(values) if v is not None]


def records(energies_kwh: list[float], *, start: datetime = RUN_START,
            length: timedelta = H, pue: float = 1.0, g_per_kwh: float = 400.0) -> list[Record]:
    out = []
    for seq, kwh in enumerate(energies_kwh, 1):
        energy = kwh * KWH
        out.append(Record(
            run_id="r1", seq=seq, start_s=(start + (seq - 1) * length).timestamp(),
            duration_s=length.total_seconds(), cpu_energy_j=energy, gpu_energy_j=0.0,
            ram_energy_j=0.0, other_energy_j=0.0, energy_j=energy, pue=pue,
            emissions_g=energy * pue / KWH * g_per_kwh, intensity_g_per_kwh=g_per_kwh,
            intensity_zone="DE", intensity_source="Ember", intensity_year=2024,
            intensity_kind="average", intensity_live=False,
            components=(ComponentEnergy("cpu", "rapl:package-0", "measured", energy),), gaps=(),
            work=()))
    return out


def day(low_hours: dict[int, float], base: float = 300.0) -> list[float | None]:
    return [low_hours.get(h, base) for h in range(48)]


def test_moves_the_run_to_the_cleanest_hours_and_prices_both_with_the_same_history() -> None:
    found = best_past_start(records([1, 1, 1]), history(day({2: 100, 3: 100, 4: 100})),
                            window=12 * H, provider="electricitymaps")
    assert found.actual_start == RUN_START
    assert found.best_start == DAY + 2 * H and found.shift_s == -10 * 3600
    assert (found.actual_g, found.best_g) == (900.0, 300.0)
    assert (found.saving_g, found.saving_pct) == (600.0, pytest.approx(200 / 3))
    assert found.recorded_g == pytest.approx(1200.0)  # the run's own 400 g/kWh, shown apart
    assert found.energy_j == 3 * KWH and found.duration_s == 3 * 3600
    assert found.shifts_tried == 2 * 12 * 12 + 1 and found.shifts_priced == found.shifts_tried
    data = found.to_dict()
    assert (data["best_start"], data["actual_g_per_kwh"], data["best_g_per_kwh"]) == (
        "2025-12-31T02:00:00Z", 300.0, 100.0)
    assert (data["provider"], data["kind"], data["zone"]) == ("electricitymaps", "average", "DE")


def test_the_runs_own_profile_decides_not_the_hourly_mean() -> None:
    # Nearly all the energy is in the run's last hour. Starting at 03:00 puts that hour on the
    # clean 05:00 although 03:00-06:00 averages 207 g/kWh; 05:00-08:00 averages 107 but the
    # heavy hour would then meet 150.
    found = best_past_start(records([0.1, 0.1, 2.0]), history(day({5: 20, 6: 150, 7: 150})),
                            window=12 * H)
    assert found.best_start == DAY + 3 * H
    assert found.best_g == pytest.approx(0.1 * 300 + 0.1 * 300 + 2.0 * 20)


def test_a_flat_history_says_it_ran_at_a_good_time() -> None:
    found = best_past_start(records([1, 2]), history([250.0] * 48), window=6 * H)
    assert found.best_start == found.actual_start and found.saving_g == 0.0


def test_shifts_over_a_gap_are_not_priced() -> None:
    values = day({2: 100, 3: 100, 4: 100, 20: 150, 21: 150, 22: 150})
    values[3] = None  # the cleanest block has a hole: moving there is not priced
    found = best_past_start(records([1, 1, 1]), history(values), window=12 * H)
    assert found.best_start == DAY + 20 * H and found.best_g == 450.0
    assert found.shifts_priced < found.shifts_tried
    assert any("were not priced: the history does not cover the whole run there" in note
               for note in found.notes)


def test_a_history_that_misses_the_actual_time_has_no_saving() -> None:
    values: list[float | None] = [200.0] * 12 + [None] * 36
    found = best_past_start(records([1]), history(values), window=12 * H)
    assert found.actual_g is None and found.saving_g is None and found.saving_pct is None
    assert found.best_g == 200.0
    assert "the history does not cover the run at its actual time, so there is no saving to " \
           "compare" in found.notes


def test_nothing_covered_at_all() -> None:
    found = best_past_start(records([1]), [], window=2 * H)
    assert (found.best_g, found.actual_g, found.shifts_priced) == (None, None, 0)
    assert found.best_start == found.actual_start


def test_pue_is_applied_to_every_shift() -> None:
    found = best_past_start(records([1], pue=1.5), history(day({})), window=H)
    assert found.energy_j == 1.5 * KWH and found.actual_g == pytest.approx(450.0)


def test_a_long_run_is_grouped_and_gives_the_same_grams() -> None:
    many = records([0.01] * 1200, length=timedelta(seconds=9))  # 3 h in 9 s records
    few = records([4.0, 4.0, 4.0])
    hist = history(day({2: 100, 3: 100, 4: 100}))
    grouped = best_past_start(many, hist, window=12 * H)
    whole = best_past_start(few, hist, window=12 * H)
    assert grouped.best_start == whole.best_start
    assert grouped.best_g == pytest.approx(whole.best_g)
    assert grouped.actual_g == pytest.approx(whole.actual_g)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="no records"):
        best_past_start([], history([1.0]), window=H)
    with pytest.raises(ValueError, match="step > 0"):
        best_past_start(records([1]), history([1.0]), window=H, step=timedelta(0))
