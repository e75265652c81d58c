"""The run predictor on synthetic step traces whose totals are known exactly."""

from __future__ import annotations

import math

import pytest
from step_traces import G_PER_KWH, START_S, Trace, steps, trace

from wattprint.advice.predict import LEVEL, Predictor, t_quantile
from wattprint.records import Prediction


def predict_at(tr: Trace, total: float, share: float) -> Prediction:
    """The prediction made at the first record after ``share`` of the work was done."""
    predictor = Predictor(total=total, unit="steps")
    for record, done in zip(tr.records, tr.done_after, strict=True):
        found = predictor.add(record)
        if done >= share * total and found is not None:
            return found
    raise AssertionError("no prediction")


def test_constant_cost_is_predicted_exactly_with_no_band() -> None:
    # 0.5 s steps at 300 W, 10 per 5 s record: every interval alike
    tr = trace(steps(1000))
    found = predict_at(tr, 1000, 0.2)
    assert found.done == 200
    assert found.duration_s == pytest.approx(500.0) == pytest.approx(tr.duration_s)
    assert found.energy_j == pytest.approx(150_000.0) == pytest.approx(tr.energy_j)
    assert found.emissions_g == pytest.approx(150_000.0 * G_PER_KWH / 3.6e6)
    assert found.duration_low_s == pytest.approx(found.duration_high_s)
    assert found.energy_low_j == pytest.approx(found.energy_high_j)
    assert found.seconds_per_unit == pytest.approx(0.5)
    assert found.energy_j_per_unit == pytest.approx(150.0)
    assert found.end_s == pytest.approx(START_S + 500.0)
    assert (found.level, found.unit, found.total, found.rebased) == (LEVEL, "steps", 1000, 0)


def test_nothing_is_predicted_before_three_intervals_of_work() -> None:
    # 12 s of set-up without work: its intervals belong to no regime
    tr = trace(steps(100), setup_s=12.0)
    predictor = Predictor(total=100, unit="steps")
    found = [predictor.add(r) for r in tr.records[:5]]
    assert tr.done_after[:5] == [0, 0, 6, 16, 26]
    assert found[:4] == [None, None, None, None]
    assert found[4] is not None and found[4].regime_intervals == 3
    assert found[4].regime_start_s == START_S + 10.0


def test_a_warm_up_is_left_out_of_the_cost() -> None:
    # the first 50 steps 5x slower (2.5 s each, 125 s in all), then 0.5 s steps
    tr = trace(steps(2000, warmup_steps=50, noise=0.05, seed=3))
    found = predict_at(tr, 2000, 0.25)
    assert found.rebased >= 1
    assert START_S + 120.0 <= found.regime_start_s <= START_S + 130.0
    assert found.duration_low_s <= tr.duration_s <= found.duration_high_s
    assert found.duration_s == pytest.approx(tr.duration_s, rel=0.01)
    assert found.energy_j == pytest.approx(tr.energy_j, rel=0.01)
    # what multiplying the first 100 steps would have said
    first = tr.records[:next(i for i, d in enumerate(tr.done_after) if d >= 100) + 1]
    naive_s = sum(r.duration_s for r in first) / 100 * 2000
    assert naive_s > 1.5 * tr.duration_s


def test_a_slowdown_mid_run_rebases_on_the_recent_regime() -> None:
    # steps twice as slow from the 1000th on
    tr = trace(steps(2000, noise=0.2, slowdown_at=1000, seed=5))
    before = predict_at(tr, 2000, 0.45)
    after = predict_at(tr, 2000, 0.7)
    assert before.rebased == 0
    assert not before.duration_low_s <= tr.duration_s <= before.duration_high_s
    assert after.rebased == 1
    slowed_s = sum(d for d, _ in steps(2000, noise=0.2, slowdown_at=1000, seed=5)[:1000])
    assert START_S + slowed_s - 5.0 <= after.regime_start_s <= START_S + slowed_s + 30.0
    assert after.duration_low_s <= tr.duration_s <= after.duration_high_s
    assert after.seconds_per_unit == pytest.approx(1.0, rel=0.05)


def test_a_power_change_alone_is_a_new_regime() -> None:
    # same speed, 300 W then 450 W (another job on the GPU, clocks raised)
    first = steps(1000, noise=0.1, seed=7)
    step_list = first[:500] + [(d, 450.0) for d, _ in first[500:]]
    tr = trace(step_list)
    found = predict_at(tr, 1000, 0.8)
    assert found.rebased == 1
    assert found.energy_j_per_unit == pytest.approx(0.5 * 450, rel=0.05)
    assert found.energy_low_j <= tr.energy_j <= found.energy_high_j


def test_work_past_the_total_predicts_what_was_measured() -> None:
    tr = trace(steps(300, noise=0.1, seed=1))
    predictor = Predictor(total=200, unit="steps")
    for record in tr.records:
        found = predictor.add(record)
    assert found is not None and found.done == 300
    assert found.duration_s == found.duration_low_s == found.duration_high_s
    assert found.duration_s == pytest.approx(tr.duration_s)
    assert found.energy_j == pytest.approx(tr.energy_j)


def test_other_units_are_not_counted() -> None:
    tr = trace(steps(100), unit="tokens")
    predictor = Predictor(total=100, unit="steps")
    assert all(predictor.add(r) is None for r in tr.records)
    assert predictor.done == 0


def test_what_was_measured_before_the_first_record_counts() -> None:
    tr = trace(steps(400))
    predictor = Predictor(total=500, unit="steps", done=100, elapsed_s=50.0,
                          energy_j=15_000.0, emissions_g=1.25)
    for record in tr.records[:20]:
        found = predictor.add(record)
    assert found is not None and found.done == 300
    assert found.duration_s == pytest.approx(250.0)
    assert found.energy_j == pytest.approx(75_000.0)
    assert found.emissions_g == pytest.approx(1.25 + 60_000 * G_PER_KWH / 3.6e6)


@pytest.mark.parametrize("total", [0, -3, math.inf, math.nan])
def test_a_total_that_is_not_a_positive_number_is_refused(total: float) -> None:
    with pytest.raises(ValueError, match="positive number of steps"):
        Predictor(total=total, unit="steps")


def test_a_level_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        Predictor(total=10, unit="steps", level=90)


@pytest.mark.parametrize(("p", "dof", "expected"), [
    (0.95, 1, 6.313752), (0.95, 2, 2.919986), (0.95, 3, 2.353363), (0.95, 5, 2.015048),
    (0.95, 10, 1.812461), (0.95, 30, 1.697261), (0.975, 4, 2.776445), (0.995, 3, 5.840909),
    (0.95, 100_000, 1.644868),
])
def test_t_quantile(p: float, dof: int, expected: float) -> None:
    assert t_quantile(p, dof) == pytest.approx(expected, rel=0.01)


def _binomial_band(n: int, p: float) -> tuple[float, float]:
    """Coverage counts within 3 standard deviations of n x p."""
    sd = math.sqrt(n * p * (1 - p))
    return n * p - 3 * sd, n * p + 3 * sd


@pytest.mark.parametrize("share", [0.2, 0.5])
def test_the_band_holds_the_truth_at_its_stated_rate(share: float) -> None:
    # 200 seeded runs: lognormal step times (30%), power noise (10%), a warm-up of 2-5% of the
    # steps 3-6x slower and 0-20 s of set-up; the 90% band must hold the true totals in
    # 90% of them, within binomial tolerance
    runs = 200
    held_s = held_j = 0
    for seed in range(runs):
        import random

        rng = random.Random(seed)
        n = rng.randrange(400, 800)
        step_list = steps(n, seconds=rng.uniform(0.2, 1.0), noise=0.3, power_noise=0.1,
                          warmup_steps=int(n * rng.uniform(0.02, 0.05)),
                          warmup_factor=rng.uniform(3, 6), seed=seed)
        tr = trace(step_list, setup_s=rng.uniform(0, 20))
        found = predict_at(tr, n, share)
        held_s += found.duration_low_s <= tr.duration_s <= found.duration_high_s
        held_j += found.energy_low_j <= tr.energy_j <= found.energy_high_j
    low, high = _binomial_band(runs, LEVEL)
    assert low <= held_s <= high, held_s
    assert low <= held_j <= high, held_j


def test_a_total_beyond_any_run_is_refused() -> None:
    with pytest.raises(ValueError, match=r"at most 1e\+18"):
        Predictor(total=1e20, unit="tokens")


def test_figures_that_are_not_finite_give_no_prediction() -> None:
    # a sensor gone wrong: NaN joules; a batch with a NaN would be refused by the team server
    # with the records beside it, so no prediction is made
    tr = trace(steps(100))
    predictor = Predictor(total=100, unit="steps")
    for record in tr.records[:3]:
        predictor.add(record)
    assert predictor.last is not None
    from dataclasses import replace

    assert predictor.add(replace(tr.records[3], energy_j=math.nan)) is None
    assert predictor.last is None


def test_after_a_slowdown_the_band_holds_the_truth_at_its_stated_rate() -> None:
    # 200 seeded runs as above, each also slowing down 1.5-3x somewhere between 40% and 60% of
    # its steps; checked at 75%, once the slowdown has been found and the prediction re-based
    runs = 200
    held_s = held_j = rebased = 0
    for seed in range(runs):
        import random

        rng = random.Random(1000 + seed)
        n = rng.randrange(400, 800)
        step_list = steps(n, seconds=rng.uniform(0.2, 1.0), noise=0.3, power_noise=0.1,
                          warmup_steps=int(n * rng.uniform(0.02, 0.05)),
                          warmup_factor=rng.uniform(3, 6),
                          slowdown_at=int(n * rng.uniform(0.4, 0.6)),
                          slowdown_factor=rng.uniform(1.5, 3), seed=seed)
        tr = trace(step_list, setup_s=rng.uniform(0, 20))
        found = predict_at(tr, n, 0.75)
        held_s += found.duration_low_s <= tr.duration_s <= found.duration_high_s
        held_j += found.energy_low_j <= tr.energy_j <= found.energy_high_j
        rebased += found.rebased >= 1
    low, high = _binomial_band(runs, LEVEL)
    assert low <= held_s <= high, held_s
    assert low <= held_j <= high, held_j
    assert rebased >= 0.95 * runs  # the changes were found (197 of 200)


def test_a_change_late_in_a_long_run_is_placed_to_within_one_record() -> None:
    # 6,000 records; steps 1.5x slower from the 48,000th of 60,000: recent blocks stay small
    # however long the regime, so the new regime starts where the change happened
    step_list = steps(60_000, noise=0.2, slowdown_at=48_000, slowdown_factor=1.5, seed=2)
    tr = trace(step_list)
    found = predict_at(tr, 60_000, 50_000 / 60_000)
    slowed_s = sum(d for d, _ in step_list[:48_000])
    assert found.rebased == 1
    assert START_S + slowed_s - 5.0 <= found.regime_start_s <= START_S + slowed_s + 5.0
    assert found.duration_low_s <= tr.duration_s <= found.duration_high_s
