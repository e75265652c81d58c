"""MLflow (mlflow-skinny, a local file store): a tracked run's energy, emissions and intensity
land as metrics of the active MLflow run, exactly as the tracker's own summary has them, and
where they came from as its tags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")

import wattprint  # noqa: E402
from wattprint.config import load_config  # noqa: E402
from wattprint.errors import ConfigError  # noqa: E402
from wattprint.integrations import MissingExtra, require  # noqa: E402
from wattprint.integrations.mlflow import MlflowSink, log_summary  # noqa: E402
from wattprint.sinks.registry import make_sink  # noqa: E402


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    # MLflow 3 keeps the file store in maintenance mode behind this opt-in
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    mlflow.set_tracking_uri(uri)
    yield mlflow.MlflowClient(tracking_uri=uri)
    mlflow.set_tracking_uri(None)


def test_the_sink_logs_each_record_and_the_summary_to_the_active_run(store, tracked):
    with mlflow.start_run() as active:
        sink = make_sink("mlflow", load_config({}))
        assert isinstance(sink, MlflowSink) and sink.run_id == active.info.run_id
        settings = {**tracked.settings, "sinks": [*tracked.settings["sinks"], sink],
                    "interval_s": 10}
        tracker = wattprint.Tracker(**settings)
        tracker.start()
        for _ in range(3):
            tracked.clock.advance(10.0)
            tracker.flush()
        summary = tracker.stop()
    run = store.get_run(active.info.run_id)
    metrics, tags = run.data.metrics, run.data.tags
    # the summary's figures, exactly (100 W for 30 s at 360 g/kWh)
    assert metrics["wattprint/energy_j"] == summary.energy_j["total"] == 3000.0
    assert metrics["wattprint/cpu_energy_j"] == summary.energy_j["cpu"]
    assert metrics["wattprint/emissions_g"] == summary.emissions_g
    assert summary.emissions_g == pytest.approx(3000.0 * tracked.g_per_j)
    assert metrics["wattprint/intensity_g_per_kwh"] == summary.intensity["g_per_kwh"]
    assert summary.intensity["g_per_kwh"] == pytest.approx(360.0, rel=1e-12)
    assert metrics["wattprint/duration_s"] == 30.0
    # each record a step of the running totals
    history = store.get_metric_history(active.info.run_id, "wattprint/energy_j")
    by_step = {m.step: m.value for m in history}
    assert [by_step[s] for s in (1, 2, 3)] == [1000.0, 2000.0, 3000.0]
    power = store.get_metric_history(active.info.run_id, "wattprint/power_w")
    assert {m.value for m in power} == {100.0}
    # provenance
    assert tags["wattprint.run_id"] == summary.run_id
    assert tags["wattprint.methods"] == "fake:cpu: measured"
    assert tags["wattprint.intensity_source"] == "test table"
    assert (tags["wattprint.intensity_zone"], tags["wattprint.intensity_year"]) == ("FR", "2025")
    assert tags["wattprint.location"].startswith("FR (")
    assert tags["wattprint.status"] == "finished"


def test_a_retried_batch_logs_no_second_point(store, tracked):
    with mlflow.start_run() as active:
        sink = MlflowSink(active.info.run_id)
        tracker = wattprint.Tracker(**tracked.settings)
        tracker.start()
        tracked.clock.advance(5.0)
        tracker.stop()
    records = tracked.sink.records
    sink.export(records)
    sink.export(records)  # the exporter's retry
    history = store.get_metric_history(active.info.run_id, "wattprint/energy_j")
    assert len(history) == len(records)


def test_log_summary_to_the_active_run_or_a_named_one(store, tracked):
    tracker = wattprint.Tracker(**tracked.settings)
    tracker.start()
    tracked.clock.advance(7.0)
    summary = tracker.stop()
    with mlflow.start_run() as active:
        assert log_summary(summary) == active.info.run_id
    other = store.create_run(store.get_experiment_by_name("Default").experiment_id)
    log_summary(summary, run_id=other.info.run_id)
    for run_id in (active.info.run_id, other.info.run_id):
        logged = store.get_run(run_id).data
        assert logged.metrics["wattprint/energy_j"] == summary.energy_j["total"] == 700.0
        assert logged.tags["wattprint.run_id"] == summary.run_id
    with pytest.raises(RuntimeError, match="no active MLflow run"):
        log_summary(summary)


def test_the_sink_needs_an_active_run(store):
    with pytest.raises(ConfigError, match="no active MLflow run|there is none"):
        make_sink("mlflow", load_config({}))


def test_a_missing_mlflow_names_the_extra():
    with pytest.raises(MissingExtra, match=r"pip install 'wattprint\[mlflow\]'"):
        require("mlflow_not_installed_here", integration="MLflow", extra="mlflow")
