"""The prediction and the budgets in a real tracker: fake sensors and a fake clock."""

from __future__ import annotations

from typing import Any

import pytest

import wattprint
from wattprint.advice.budget import BudgetAlert
from wattprint.errors import ConfigError
from wattprint.intensity import Intensity
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.sinks.memory import MemorySink


class FixedIntensity:
    name = "fixed"

    def lookup(self, where: Any, start: Any, end: Any) -> Intensity:
        return Intensity(400.0, "XX", "test table", 2025)


def make_tracker(clock: Any, sink: MemorySink, **settings: Any) -> wattprint.Tracker:
    # 300 W on a GPU: 10 steps of 1 s per 10 s record is 300 J a step, 120 mg CO2e at 400 g/kWh
    sensor = FakeSensor([FakeDevice("fake:gpu", "gpu", 300.0)], clock=clock)
    return wattprint.Tracker(sensors=[sensor], sinks=[sink], intensity=FixedIntensity(),
                             clock=clock, wall_clock=clock.wall_clock, country="FR",
                             interval_s=3600, **settings)


def work(tracker: wattprint.Tracker, clock: Any, records: int, steps: int = 10) -> None:
    """``records`` records of ``steps`` one-second steps each (the test cuts them)."""
    for _ in range(records):
        for _ in range(steps):
            clock.advance(1.0)
            tracker.step(1, unit="steps")
        tracker.flush()


def test_the_prediction_is_made_at_each_record_sent_and_summarised(clock: Any) -> None:
    sink = MemorySink()
    tracker = make_tracker(clock, sink)
    tracker.start()
    started = clock.wall
    tracker.expect(total=100, unit="steps")
    work(tracker, clock, 2)
    assert tracker.prediction is None and tracker.snapshot().prediction is None  # 2 records
    work(tracker, clock, 1)
    found = tracker.prediction
    assert found is not None and tracker.snapshot().prediction == found
    assert (found.done, found.total, found.unit, found.seq) == (30, 100, "steps", 2)
    assert found.duration_s == pytest.approx(100.0)
    assert found.energy_j == pytest.approx(30_000.0)
    assert found.emissions_g == pytest.approx(30_000 * 400 / 3.6e6)
    assert found.duration_low_s == pytest.approx(found.duration_high_s)  # no noise, no band
    assert found.end_s == pytest.approx(started + 100.0)
    work(tracker, clock, 2)
    summary = tracker.stop()
    assert [p.seq for p in sink.predictions] == [2, 3, 4]  # not for stop()'s empty last cut
    assert sink.predictions[-1].done == 50
    assert summary.prediction == sink.predictions[-1].to_dict()
    assert summary.budget is None


def test_expect_counts_the_work_done_before_it(clock: Any) -> None:
    sink = MemorySink()
    tracker = make_tracker(clock, sink)
    tracker.start()
    work(tracker, clock, 2)
    tracker.expect(total=100, unit="steps")
    work(tracker, clock, 3)
    found = tracker.prediction
    assert found is not None and found.done == 50
    assert found.duration_s == pytest.approx(100.0)
    assert found.energy_j == pytest.approx(30_000.0)
    tracker.stop()


def test_a_bad_total_is_refused_at_the_call(clock: Any) -> None:
    tracker = make_tracker(clock, MemorySink())
    with pytest.raises(ValueError, match="positive number of steps"):
        tracker.expect(total=-1, unit="steps")


def test_a_predicted_crossing_warns_once_and_calls_on_budget(clock: Any) -> None:
    sink = MemorySink()
    alerts: list[BudgetAlert] = []
    # 5 Wh = 18,000 J: the prediction (30,000 J) crosses it at the third record, the measured
    # total at the sixth; one alert for the budget
    tracker = make_tracker(clock, sink, budget_kwh=0.005, on_budget=alerts.append)
    tracker.start()
    tracker.expect(total=100, unit="steps")
    work(tracker, clock, 2)
    assert alerts == [] and tracker.snapshot().budget is None
    work(tracker, clock, 1)
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.kind, alert.limit, alert.predicted) == ("energy", 18_000.0, True)
    assert alert.value == pytest.approx(30_000.0)
    assert alert.prediction is not None and alert.prediction.seq == 2
    assert alert.message == ("energy budget 5 Wh will be crossed: 8.33 Wh predicted (90%: "
                             "8.33 Wh to 8.33 Wh) when the 100 steps are done; 2.5 Wh used so "
                             "far")
    assert tracker.snapshot().budget == alert.message
    work(tracker, clock, 4)
    assert len(alerts) == 1
    summary = tracker.stop()
    assert alert.message in summary.warnings
    assert summary.budget == {"budget_g": None, "budget_kwh": 0.005,
                              "alerts": [alert.to_dict()]}


def test_a_measured_crossing_without_a_prediction(clock: Any) -> None:
    # no expect(): the measured total alone; 333 mg a record (0.833 Wh x 400 g/kWh)
    alerts: list[BudgetAlert] = []
    tracker = make_tracker(clock, MemorySink(), budget_g=0.5, on_budget=alerts.append)
    tracker.start()
    work(tracker, clock, 1)
    assert alerts == []
    work(tracker, clock, 1)
    assert [(a.kind, a.predicted, a.prediction) for a in alerts] == [("emissions", False, None)]
    assert alerts[0].message == "emissions budget 500 mg crossed: 667 mg used so far"
    tracker.stop()


def test_a_callback_that_raises_does_not_stop_the_run(clock: Any) -> None:
    def boom(alert: BudgetAlert) -> None:
        raise RuntimeError("stop!")

    sink = MemorySink()
    tracker = make_tracker(clock, sink, budget_g=0.01, on_budget=boom)
    tracker.start()
    work(tracker, clock, 3)
    summary = tracker.stop()
    assert len(sink.records) == 4 and summary.status == "finished"  # and stop()'s last cut
    assert "the on_budget callback raised RuntimeError('stop!')" in summary.warnings


def test_a_callback_can_stop_the_loop_cleanly(clock: Any) -> None:
    stop = []
    tracker = make_tracker(clock, MemorySink(), budget_kwh=0.005,
                           on_budget=lambda alert: stop.append(alert))
    tracker.start()
    tracker.expect(total=1000, unit="steps")
    done = 0
    while not stop and done < 1000:
        work(tracker, clock, 1)
        done += 10
    summary = tracker.stop()
    assert done == 30 and summary.status == "finished"  # stopped at the first prediction


@pytest.mark.parametrize(("key", "value"), [("budget_g", -5), ("budget_kwh", "2 kWh"),
                                            ("budget_g", 0)])
def test_bad_budgets_are_refused_with_the_key(key: str, value: Any, clock: Any) -> None:
    with pytest.raises(ConfigError, match=f"{key} = .* is not allowed; expected"):
        make_tracker(clock, MemorySink(), **{key: value})


def test_budgets_from_the_environment(clock: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATTPRINT_BUDGET_KWH", "0.005")
    monkeypatch.setenv("WATTPRINT_BUDGET_G", "oops")
    with pytest.raises(ConfigError, match="WATTPRINT_BUDGET_G: budget_g = 'oops'"):
        make_tracker(clock, MemorySink())
    monkeypatch.setenv("WATTPRINT_BUDGET_G", "2.5")
    tracker = make_tracker(clock, MemorySink())
    assert (tracker.config.budget_g, tracker.config.budget_kwh) == (2.5, 0.005)


def test_the_live_status_line_shows_the_prediction_and_the_budget(clock: Any) -> None:
    from wattprint.cli.measure import status_text

    tracker = make_tracker(clock, MemorySink(), budget_kwh=0.005)
    tracker.start()
    tracker.expect(total=100, unit="steps")
    work(tracker, clock, 2)
    assert status_text(tracker.snapshot(), now_s=clock.wall, tz_offset_s=0) == (
        "[wattprint] 20.0 s  300.0 W  1.67 Wh  666.7 mg CO2e")
    work(tracker, clock, 1)
    # the fake wall clock started at 2026-01-01 00:00 UTC: 100 s of work ends at 00:01
    assert status_text(tracker.snapshot(), now_s=clock.wall, tz_offset_s=0) == (
        "[wattprint] 30.0 s  300.0 W  2.50 Wh  1.00 g CO2e  ~8.33 Wh, 3.33 g by 00:01 "
        "(90%: 8.33-8.33 Wh)  ! energy budget 5 Wh will be crossed: 8.33 Wh predicted "
        "(90%: 8.33 Wh to 8.33 Wh) when the 100 steps are done; 2.5 Wh used so far")
    tracker.stop()


def test_the_summary_text_shows_the_prediction_and_the_alert(clock: Any) -> None:
    from wattprint.report import format_summary

    tracker = make_tracker(clock, MemorySink(), budget_kwh=0.005)
    tracker.start()
    tracker.expect(total=100, unit="steps")
    work(tracker, clock, 4)
    text = format_summary(tracker.stop())
    assert ("  predicted  ~8.33 Wh, 3.33 g CO2e, 1m40s for 100 steps (90%: 8.33 Wh to 8.33 Wh); "
            "40 done") in text.splitlines()
    assert ("  ! energy budget 5 Wh will be crossed: 8.33 Wh predicted (90%: 8.33 Wh to "
            "8.33 Wh) when the 100 steps are done; 2.5 Wh used so far") in text.splitlines()


def test_wattprint_run_shows_the_prediction_of_a_tracker_inside_its_command(clock: Any,
                                                                            tmp_path: Any) -> None:
    # the measured program tracks its own work into the local store; `wattprint run`'s status
    # line reads the latest prediction of the runs that process tracks
    import os

    from wattprint.cli.measure import ChildPrediction
    from wattprint.config import load_config

    config = load_config({"home": str(tmp_path), "sinks": "sqlite", "store_flush_s": 0})
    sensor = FakeSensor([FakeDevice("fake:gpu", "gpu", 300.0)], clock=clock)
    inner = wattprint.Tracker(config=config, sensors=[sensor], intensity=FixedIntensity(),
                              clock=clock, wall_clock=clock.wall_clock, country="FR",
                              interval_s=3600)
    inner.start()
    inner.expect(total=100, unit="steps")
    ticks = [0.0]
    child = ChildPrediction(config, os.getpid(), clock.wall - 1, clock=lambda: ticks[0])
    assert child() is None  # nothing predicted yet
    work(inner, clock, 3)
    assert child() is None  # read at most every 2 s
    ticks[0] = 2.0
    found = child()
    assert found is not None and found == inner.prediction and found.seq == 2
    assert ChildPrediction(config, os.getpid() + 1, clock.wall - 100)() is None  # not its pid
    assert ChildPrediction(config, os.getpid(), clock.wall + 1)() is None  # an older run
    inner.stop()
    assert ChildPrediction(load_config({"home": str(tmp_path / "none")}), os.getpid(), 0)() \
        is None  # no store yet: no prediction, no error
