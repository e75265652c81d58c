"""What the three callbacks share (wattprint.integrations._common): launches with several ranks,
the end of a run that no framework event ended, counting work in a batch, and never letting a
failure reach training."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from fakes.powercap import FakePowercap
from wattprint.errors import ConfigError
from wattprint.integrations._common import TrainingRun, batch_work

RANK_SCRIPT = """
import json, sys
from pathlib import Path
from wattprint.host import HostPaths
from wattprint.integrations._common import TrainingRun

sys_root, out, rank = sys.argv[1], sys.argv[2], int(sys.argv[3])
run = TrainingRun("test", paths=HostPaths(sys=Path(sys_root)), sinks=[], country="FR",
                  interval_s=3600)
run.begin()
run.epoch_begin(0)
for _ in range(3):
    run.batch({"input_ids": [[1, 2, 3]] * (2 + rank)})  # a list: no shape, no samples
    run.steps(1)
run.epoch_end()
summary = run.end()
Path(out).write_text(json.dumps({
    "job": summary.job, "devices": [c["device"] for c in summary.components],
    "skipped": {s["sensor"]: s["reason"] for s in run.tracker.info.skipped},
    "work": {w["unit"]: w["count"] for w in summary.work}}))
"""


def test_each_rank_of_a_torchrun_job_tracks_its_share_and_the_node_is_measured_once(tmp_path):
    """Two ranks as torchrun starts them (real processes, torchrun's variables): local rank 0
    measures the node's RAPL packages, rank 1 does not; both carry one job id."""
    powercap = FakePowercap(tmp_path / "sys")
    powercap.package(0, energy_uj=1_000_000)
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    procs = []
    for rank in range(2):
        env = {**os.environ, "TORCHELASTIC_RUN_ID": "none", "RANK": str(rank),
               "LOCAL_RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2",
               "GROUP_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
        procs.append(subprocess.Popen([sys.executable, str(script), str(powercap.sys),
                                       str(tmp_path / f"rank{rank}.json"), str(rank)], env=env))
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["job"]["rank"] for r in reports] == [0, 1]
    assert reports[0]["job"]["job_id"] == reports[1]["job"]["job_id"]
    assert [r["job"]["node_leader"] for r in reports] == [True, False]
    assert "rapl:package-0" in reports[0]["devices"]
    assert not any(d.startswith("rapl") for d in reports[1]["devices"])
    assert "local rank 0" in reports[1]["skipped"]["rapl"]
    # each rank counts its own work: the job's work is the sum of its runs'
    assert [r["work"] for r in reports] == [{"steps": 3}, {"steps": 3}]


EXIT_SCRIPT = """
import atexit, json, sys
out, how = sys.argv[1], sys.argv[2]
run = None
def report():  # registered first, so it runs after wattprint's exit hooks
    with open(out, "w") as f:
        json.dump(run.summary.status if run.summary else None, f)
atexit.register(report)
from wattprint.integrations._common import TrainingRun
from wattprint.sensors.fake import FakeDevice, FakeSensor
run = TrainingRun("test", sensors=[FakeSensor([FakeDevice("fake:cpu", "cpu", 10.0)])], sinks=[],
                  country="FR", interval_s=3600)
run.begin()
run.epoch_begin(0)
if how == "raise":
    raise RuntimeError("CUDA out of memory")
if how == "interrupt":
    raise KeyboardInterrupt
sys.exit(0)
"""


@pytest.mark.parametrize("how, status", [("raise", "failed"), ("interrupt", "interrupted"),
                                         ("exit", "interrupted")])
def test_a_run_no_framework_event_ended_gets_its_true_status_at_exit(tmp_path, how, status):
    script = tmp_path / "train.py"
    script.write_text(EXIT_SCRIPT)
    out = tmp_path / "status.json"
    done = subprocess.run([sys.executable, str(script), str(out), how], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode != 0 if how != "exit" else done.returncode == 0
    assert json.loads(out.read_text()) == status


def test_counting_work_in_batches():
    torch = pytest.importorskip("torch")
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    samples, tokens = batch_work({"input_ids": torch.ones(2, 4), "attention_mask": mask,
                                  "labels": torch.ones(2)})
    assert samples == 2 and int(tokens) == 5  # non-padding tokens
    assert batch_work({"input_ids": torch.ones(3, 4)}) == (3, 12)  # no mask: every position
    assert batch_work((torch.ones(5, 3, 8, 8), torch.ones(5))) == (5, None)  # images, labels
    assert batch_work(torch.ones(7, 2)) == (7, None)
    assert batch_work({"pixel_values": torch.ones(4, 3, 2, 2)}) == (4, None)
    assert batch_work(["not", "tensors"]) == (None, None)


def test_tokens_on_an_accelerator_are_read_at_the_next_flush_point(tracked):
    """A mask on a device is summed there; the count is read (waiting for the device) only
    when figures, an epoch's end or the run's end need it."""

    class DeviceSum:  # what a CUDA tensor's sum looks like to the counting code
        device = type("Device", (), {"type": "cuda"})()
        reads = 0

        def __init__(self, value):
            self.value = value

        def __add__(self, other):
            return DeviceSum(self.value + (other.value if isinstance(other, DeviceSum) else other))

        __radd__ = __add__

        def item(self):
            DeviceSum.reads += 1
            return self.value

    class Mask:
        shape = (2, 3)

        def sum(self):
            return DeviceSum(5)

    run = TrainingRun("test", **tracked.settings)
    run.begin()
    run.epoch_begin(0)
    for _ in range(4):
        run.batch({"attention_mask": Mask()})
    assert DeviceSum.reads == 0
    run.epoch_end()
    assert DeviceSum.reads == 1
    summary = run.end()
    assert {w["unit"]: w["count"] for w in summary.work} == {"samples": 8, "tokens": 20}
    epoch = next(s for s in summary.spans if s["span_id"] == "train/epoch-1")
    assert {w["unit"]: w["count"] for w in epoch["work"]} == {"samples": 8, "tokens": 20}


class Rows:
    shape = (2, 3)


def test_a_failure_inside_the_bookkeeping_never_reaches_training_and_is_logged_once(
        tracked, caplog):
    run = TrainingRun("test", **tracked.settings)
    run.begin()

    def broken(n, unit):
        raise ValueError("bad unit")

    run.tracker.step = broken
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        for _ in range(3):
            run.batch({"input_ids": Rows()})
            run.steps(1)
    said = [r.getMessage() for r in caplog.records if "failed" in r.getMessage()]
    assert len(said) == 2  # batch and steps, once each
    assert "the test callback's steps failed (ValueError('bad unit'))" in said[1]
    tracked.clock.advance(2.0)
    assert run.end().energy_j["total"] == pytest.approx(2.0 * tracked.cpu_w)


def test_a_tracker_that_cannot_start_leaves_training_untracked(tracked, caplog):
    run = TrainingRun("test", **tracked.settings)
    run._settings["clock"] = "not a clock"  # the tracker cannot even take its first reading
    with caplog.at_level(logging.WARNING, logger="wattprint"):
        run.begin()
        run.epoch_begin(0)
        run.batch({"input_ids": [[1]]})
        assert run.figures() == {}
        assert run.end() is None
    assert not run.active
    assert "the test callback's begin failed (TypeError(" in caplog.text
    assert "training goes on untracked" in caplog.text


def test_a_bad_setting_fails_when_the_callback_is_made_naming_the_key():
    with pytest.raises(ConfigError, match="interval_s"):
        TrainingRun("test", interval_s=0)
    with pytest.raises(ConfigError, match="contry"):
        TrainingRun("test", contry="FR")


def test_a_given_tracker_is_used_and_left_running_if_it_was_running(tracked):
    import wattprint

    settings = dict(tracked.settings)
    tracker = wattprint.Tracker(**settings).start()
    run = TrainingRun("test", tracker=tracker)
    run.begin()
    run.steps(4)
    tracked.clock.advance(1.0)
    assert run.figures()["wattprint/energy_j"] == pytest.approx(tracked.cpu_w)
    run.end()
    assert tracker.summary is None  # the caller's to stop
    summary = tracker.stop()
    assert {w["unit"]: w["count"] for w in summary.work} == {"steps": 4}


def test_the_expected_total_feeds_the_tracker_prediction(tracked):
    import wattprint

    if not hasattr(wattprint.Tracker, "expect"):
        pytest.skip("this wattprint's Tracker has no expect() (prediction) yet")
    run = TrainingRun("test", **tracked.settings)
    run.begin()
    for total in (None, 0, -1, float("inf")):  # what frameworks say when they do not know
        run.expect(total)
    assert run.tracker.prediction is None and not run._said
    run.expect(10)
    for _ in range(4):
        tracked.clock.advance(1.0)
        run.steps(1)
        run.tracker.flush()
    prediction = run.tracker.prediction
    assert prediction is not None
    assert prediction.energy_j == pytest.approx(10 * tracked.cpu_w)  # 100 J a step, 10 steps
    run.end()


def test_the_job_is_read_when_training_begins_not_when_the_callback_is_made(tracked,
                                                                            monkeypatch):
    """Lightning's rank 0 sets the job's variables in its own environment inside fit()."""
    run = TrainingRun("test", **tracked.settings)
    for name, value in {"NODE_RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "2",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(name, value)
    run.begin()
    assert run.tracker.job is not None and run.tracker.job.source == "lightning"
    assert run.end().job["world_size"] == 2


def test_a_budget_in_the_callback_settings_warns_from_the_expected_total(tracked):
    """budget_kwh is a setting and on_budget a Tracker keyword: both pass through the callback's
    keywords; the framework's total steps make the prediction cross the budget early."""
    import wattprint

    if not hasattr(wattprint.Tracker, "expect"):
        pytest.skip("this wattprint's Tracker has no expect() (prediction) yet")
    alerts = []
    run = TrainingRun("test", budget_kwh=500 / 3.6e6, on_budget=alerts.append,
                      **tracked.settings)
    run.begin()
    run.expect(10)  # 10 steps of 1 s at 100 W: 1,000 J predicted, against 500 J
    for _ in range(3):
        tracked.clock.advance(1.0)
        run.steps(1)
        run.tracker.flush()
    assert [(a.kind, a.predicted) for a in alerts] == [("energy", True)]
    assert alerts[0].limit == pytest.approx(500.0)
    assert run.end().energy_j["total"] == pytest.approx(300.0)  # warned, never stopped
