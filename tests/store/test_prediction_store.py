"""A running run's latest prediction through the read API: `show` and `export`."""

from __future__ import annotations

import json

import storekit
from storekit import T0

from wattprint.cli import main
from wattprint.config import load_config
from wattprint.records import Prediction
from wattprint.store import Store
from wattprint.wire import from_wire

PREDICTION = Prediction(
    run_id="live", seq=2, at_s=T0 + 3, unit="steps", done=30.0, total=100.0, level=0.9,
    duration_s=10.0, duration_low_s=9.5, duration_high_s=10.5, energy_j=1000.0,
    energy_low_j=950.0, energy_high_j=1050.0, emissions_g=0.25, emissions_low_g=0.2375,
    emissions_high_g=0.2625, end_s=T0 + 10, seconds_per_unit=0.1, energy_j_per_unit=10.0,
    regime_start_s=T0, regime_intervals=3, rebased=0)


def test_a_running_runs_summary_carries_its_latest_prediction(capsys):
    store = Store(load_config().store_path)  # WATTPRINT_HOME is a fresh tmp dir (conftest)
    try:
        run = storekit.info("live", started=T0)
        records = [storekit.record("live", s, start=T0 + s - 1) for s in range(3)]
        store.export([run, *records, PREDICTION])  # no summary: still running
        assert store.summary("live").prediction == PREDICTION.to_dict()
    finally:
        store.close()
    assert main(["show", "live", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["prediction"] == PREDICTION.to_dict()
    assert main(["show", "live"]) == 0
    assert ("  predicted  ~277.8 mWh, 250.0 mg CO2e, 10.0 s for 100 steps (90%: 263.9 mWh "
            "to 291.7 mWh); 30 done") in capsys.readouterr().out.splitlines()
    assert main(["export", "live"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["type"] for o in lines] == ["run", "record", "record", "record", "prediction",
                                          "summary"]
    assert from_wire(lines[4]) == PREDICTION
    assert lines[5]["prediction"] == PREDICTION.to_dict()
