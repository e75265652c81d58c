"""best_start_window on crafted forecasts: the cleanest window, and every edge the issue names
(deadline shorter than the run, flat forecast, gaps, a forecast ending before the deadline,
DST changes, a duration that is not a multiple of the period)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from wattprint.advice.windows import best_start_window, local_text
from wattprint.intensity.providers import IntensityPoint

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
LONDON = ZoneInfo("Europe/London")


def series(start: datetime, values: list[float | None], period: timedelta = H,
           *, source: str = "neso") -> list[IntensityPoint]:
    """One point per value, back to back; None leaves that period out (a gap)."""
    return [IntensityPoint(start=start + i * period, end=start + (i + 1) * period,
                           g_per_kwh=float(v), kind="average", zone="GB", source=source,
                           forecast=True)
            for i, v in enumerate(values) if v is not None]


def test_picks_the_cleanest_window_and_says_what_it_saves() -> None:
    forecast = series(T0, [300, 300, 100, 100, 300, 300])
    found = best_start_window(forecast, 2 * H, T0 + 6 * H, now=T0)
    assert (found.start, found.end) == (T0 + 2 * H, T0 + 4 * H)
    assert found.start_now is False and found.fits is True
    assert found.wait_s == 7200.0
    assert (found.mean_g_per_kwh, found.now_g_per_kwh) == (100.0, 300.0)
    assert found.saving_g_per_kwh == 200.0
    assert found.saving_pct == pytest.approx(200 / 3)
    assert found.saving_g(7.2e6) == pytest.approx(400.0)  # 2 kWh x 200 g/kWh
    assert found.coverage == 1.0
    assert (found.kind, found.zone, found.source) == ("average", "GB", "neso")
    assert found.reason == "the cleanest window: 67% below starting now"
    data = found.to_json(energy_j=7.2e6)
    assert (data["start"], data["end"], data["saving_g"]) == (
        "2026-01-01T12:00:00Z", "2026-01-01T14:00:00Z", pytest.approx(400.0))


def test_the_window_must_end_by_the_deadline() -> None:
    forecast = series(T0, [300, 300, 300, 300, 100, 100])
    found = best_start_window(forecast, 2 * H, T0 + 5 * H, now=T0)
    # [4h, 6h) is cleanest but ends after the deadline: the best that fits is [3h, 5h)
    assert (found.start, found.end, found.mean_g_per_kwh) == (T0 + 3 * H, T0 + 5 * H, 200.0)


def test_a_duration_that_is_not_a_multiple_of_the_period() -> None:
    half = timedelta(minutes=30)
    forecast = series(T0, [200, 200, 50, 200, 200], half)
    found = best_start_window(forecast, timedelta(minutes=45), T0 + 5 * half, now=T0)
    # every start from 10:45 to 11:00 covers the 50 slot and 15 min of 200: mean 100; the
    # earliest is the slot's end minus the duration, a corner no period boundary gives
    assert found.start == T0 + timedelta(minutes=45)
    assert found.mean_g_per_kwh == pytest.approx(100.0)


def test_flat_forecast_starts_now() -> None:
    forecast = series(T0, [250.0] * 24)
    found = best_start_window(forecast, 3 * H, T0 + 24 * H, now=T0 + timedelta(minutes=20))
    assert found.start_now is True and found.wait_s == 0.0
    assert found.start == T0 + timedelta(minutes=20)
    assert found.saving_g_per_kwh == 0.0
    assert found.reason == "starting now is already the cleanest window"
    assert found.windows_tried > 1


def test_among_equal_windows_the_earliest_wins() -> None:
    forecast = series(T0, [300, 100, 300, 100, 300, 100])
    found = best_start_window(forecast, H, T0 + 6 * H, now=T0)
    assert found.start == T0 + H


def test_a_saving_below_the_threshold_is_not_worth_the_wait() -> None:
    forecast = series(T0, [200, 200, 199, 199])
    found = best_start_window(forecast, 2 * H, T0 + 4 * H, now=T0)
    assert found.start_now is True
    assert found.reason == "waiting saves only 0.5% (under 1%): starting now"
    waits = best_start_window(forecast, 2 * H, T0 + 4 * H, now=T0, min_saving_pct=0.0)
    assert (waits.start, waits.mean_g_per_kwh) == (T0 + 2 * H, 199.0)


def test_deadline_shorter_than_the_duration_starts_now_and_says_it_cannot_fit() -> None:
    forecast = series(T0, [300, 100, 100, 100])
    found = best_start_window(forecast, 3 * H, T0 + 2 * H, now=T0)
    assert (found.start_now, found.fits) == (True, False)
    assert found.start == T0 and found.end == T0 + 3 * H
    assert found.reason == "cannot fit: the deadline leaves 2.0 h for a run of 3.0 h; starting now"
    past = best_start_window(forecast, H, T0 - H, now=T0)
    assert past.fits is False and past.reason.startswith("cannot fit: the deadline leaves 0.0 h")


def test_windows_over_a_gap_are_rejected_never_filled_in() -> None:
    # 12:00-13:00 is missing. Scored on its covered hour alone, [12h, 14h) would read 40;
    # it is rejected, and the wholly covered [13h, 15h) at 50 wins.
    forecast = series(T0, [300, 300, None, 40, 60, 300])
    found = best_start_window(forecast, 2 * H, T0 + 6 * H, now=T0)
    assert (found.start, found.mean_g_per_kwh, found.coverage) == (T0 + 3 * H, 50.0, 1.0)
    assert "the forecast has 1 gap(s) between its points; windows overlapping a gap were " \
           "rejected, not filled in" in found.notes


def test_a_gap_under_a_run_started_now_leaves_no_saving_to_compare() -> None:
    forecast = series(T0, [300, None, 200, 100, 100])
    found = best_start_window(forecast, 2 * H, T0 + 5 * H, now=T0)
    assert found.now_g_per_kwh is None
    assert (found.start, found.mean_g_per_kwh) == (T0 + 3 * H, 100.0)
    assert found.saving_g_per_kwh is None and found.saving_pct is None
    assert found.saving_g(3.6e6) is None
    assert "no saving to compare" in found.reason


def test_a_forecast_ending_before_the_deadline_limits_the_latest_start() -> None:
    forecast = series(T0, [300, 300, 200, 100])  # ends at 14:00; the deadline is 22:00
    found = best_start_window(forecast, 2 * H, T0 + 12 * H, now=T0)
    assert (found.start, found.mean_g_per_kwh) == (T0 + 2 * H, 150.0)
    assert found.forecast_end == T0 + 4 * H
    assert found.notes == ("the forecast ends at 2026-01-01T14:00:00Z, before the deadline "
                           "2026-01-01T22:00:00Z: starts after 2026-01-01T12:00:00Z were not "
                           "considered",)


def test_a_run_longer_than_the_forecast_starts_now_with_partial_coverage() -> None:
    forecast = series(T0, [300, 100, 100, 100])
    found = best_start_window(forecast, 6 * H, T0 + 24 * H, now=T0)
    assert (found.start_now, found.fits) == (True, True)
    assert found.coverage == pytest.approx(4 / 6)
    assert found.mean_g_per_kwh == 150.0  # over the 4 forecast hours only, said by coverage
    assert found.now_g_per_kwh is None and found.saving_pct is None
    assert found.reason == ("no wholly forecast window (the forecast covers only 4.0 h of a run "
                            "started now): starting now")


def test_no_forecast_starts_now() -> None:
    found = best_start_window([], H, T0 + 5 * H, now=T0)
    assert found.start_now is True and found.mean_g_per_kwh is None
    assert found.coverage == 0.0 and found.reason == "no forecast: starting now"


def test_now_inside_a_period_uses_the_part_that_remains() -> None:
    half = timedelta(minutes=30)
    forecast = series(T0, [400, 100, 100, 400], half)
    now = T0 + timedelta(minutes=20)
    found = best_start_window(forecast, half, T0 + 2 * H, now=now, min_saving_pct=0)
    assert found.now_g_per_kwh == pytest.approx((10 * 400 + 20 * 100) / 30)
    assert (found.start, found.mean_g_per_kwh) == (T0 + half, 100.0)


def test_spring_forward_in_london_is_three_real_hours() -> None:
    # 2026-03-29 01:00 UTC: 01:00 GMT becomes 02:00 BST. The clean hours straddle the change.
    start = datetime(2026, 3, 28, 22, 0, tzinfo=timezone.utc)
    values = [300.0] * 5 + [80.0] * 6 + [300.0] * 13  # 80 from 00:30 to 03:30 UTC
    forecast = series(start, values, timedelta(minutes=30))
    found = best_start_window(forecast, 3 * H, start + 12 * H, now=start)
    assert found.start == datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)
    assert found.duration_s == 3 * 3600.0 and found.mean_g_per_kwh == 80.0
    assert local_text(found.start, LONDON) == "2026-03-29 00:30 GMT"
    assert local_text(found.end, LONDON) == "2026-03-29 04:30 BST"  # 3 h later, one skipped


def test_fall_back_in_london_tells_the_repeated_hour_apart() -> None:
    start = datetime(2026, 10, 24, 22, 0, tzinfo=timezone.utc)
    values = [300.0] * 7 + [60.0] * 2 + [300.0] * 10  # 60 from 01:30 to 02:30 UTC
    forecast = series(start, values, timedelta(minutes=30))
    found = best_start_window(forecast, H, start + 9 * H, now=start)
    assert found.start == datetime(2026, 10, 25, 1, 30, tzinfo=timezone.utc)
    # 01:30 happens twice in London that night; the zone says which one
    assert local_text(found.start, LONDON) == "2026-10-25 01:30 GMT"
    assert local_text(found.start - H, LONDON) == "2026-10-25 01:30 BST"


def test_times_must_be_timezone_aware_and_durations_positive() -> None:
    forecast = series(T0, [300, 100])
    with pytest.raises(ValueError, match="deadline must be timezone-aware"):
        best_start_window(forecast, H, datetime(2026, 1, 1, 12), now=T0)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        best_start_window(forecast, H, T0 + 2 * H, now=datetime(2026, 1, 1, 10))
    with pytest.raises(ValueError, match="duration must be positive"):
        best_start_window(forecast, timedelta(0), T0 + 2 * H, now=T0)
    with pytest.raises(ValueError, match="min_saving_pct"):
        best_start_window(forecast, H, T0 + 2 * H, now=T0, min_saving_pct=-1)


def test_other_time_zones_give_the_same_instants() -> None:
    forecast = series(T0, [300, 300, 100, 100, 300, 300])
    tokyo = ZoneInfo("Asia/Tokyo")
    found = best_start_window(forecast, 2 * H, (T0 + 6 * H).astimezone(tokyo),
                              now=T0.astimezone(tokyo))
    assert found.start == T0 + 2 * H and found.start.tzinfo == timezone.utc


def brute_force(forecast: list[IntensityPoint], duration: timedelta, deadline: datetime,
                now: datetime, step: timedelta) -> float | None:
    """The lowest mean over every start on a fine grid, wholly covered windows only."""
    best = None
    start = now
    while start + duration <= deadline:
        covered = sum(p.overlap_s(start, start + duration) for p in forecast)
        if covered >= duration.total_seconds() - 1e-6:
            mean = sum(p.g_per_kwh * p.overlap_s(start, start + duration)
                       for p in forecast) / covered
            best = mean if best is None else min(best, mean)
        start += step
    return best


@pytest.mark.parametrize("seed", range(12))
def test_the_corner_search_equals_a_minute_by_minute_search(seed: int) -> None:
    rng = random.Random(seed)
    period = timedelta(minutes=rng.choice([5, 30, 60]))
    values: list[float | None] = [None if rng.random() < 0.08 else rng.randint(20, 500)
                                  for _ in range(rng.randint(4, 40))]
    forecast = series(T0, values, period)
    duration = timedelta(minutes=rng.randint(7, 240))
    now = T0 + timedelta(minutes=rng.randint(0, 10))
    deadline = now + duration + timedelta(minutes=rng.randint(0, 600))
    found = best_start_window(forecast, duration, deadline, now=now, min_saving_pct=0)
    expected = brute_force(forecast, duration, deadline, now, timedelta(minutes=1))
    if expected is None:
        assert found.start_now is True and found.coverage < 1.0 or not found.fits
    else:
        assert found.mean_g_per_kwh == pytest.approx(expected)
        assert found.end <= deadline and found.start >= now


def test_a_forecast_wholly_in_the_past_starts_now() -> None:
    forecast = series(T0 - 6 * H, [100, 100, 100])  # ended three hours ago
    found = best_start_window(forecast, H, T0 + 6 * H, now=T0)
    assert (found.start_now, found.coverage, found.mean_g_per_kwh) == (True, 0.0, None)
    assert found.reason == ("no wholly forecast window (the forecast covers only 0.0 h of a run "
                            "started now): starting now")


def test_overlapping_points_keep_the_earlier_value_and_say_so() -> None:
    forecast = series(T0, [300, 100, 300]) + series(T0 + H / 2, [50])  # 10:30-11:30 overlaps
    found = best_start_window(forecast, H, T0 + 3 * H, now=T0)
    # in start order each point keeps its time and a later-starting one only what is left:
    # 10:00-11:00 300, then the 10:30 point's 11:00-11:30 at 50, then 11:30-12:00 at 100
    assert (found.start, found.mean_g_per_kwh) == (T0 + H, 75.0)
    assert found.notes[0] == ("2 forecast points overlapped the one before; the earlier "
                              "point's value was kept for the overlap")
