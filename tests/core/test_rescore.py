"""Re-scoring a stored run with a provider's hourly history, beside the original numbers.

``rescore_records`` is checked with hand-made points; ``rescore_run`` end to end with a real
SQLite store and the NESO provider answering from the recorded history in
``tests/fakes/http_recordings/neso/intensity_range.json``:

    06:00-06:30 actual 144   06:30-07:00 actual 152   (hour 06: mean 148)
    07:00-07:30 actual 168   07:30-08:00 forecast 181 (hour 07: mean 174.5, flagged forecast)

all on 2025-12-31 UTC, fetched as one 14-day chunk aligned on the epoch.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from fakes.http_recordings.replay import Replay, ok, recording, utc
from wattprint.errors import ProviderError, StoreError
from wattprint.intensity import Location
from wattprint.intensity.providers import IntensityPoint, Labels, make_provider
from wattprint.intensity.providers._http import HttpOptions
from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
from wattprint.rescore import rescore_records, rescore_run
from wattprint.store import Store

T0 = utc("2025-12-31T06:00")
NESO_CHUNK = "/intensity/2025-12-18T00:00Z/2026-01-01T00:00Z"


def ts(when: datetime) -> float:
    return when.timestamp()


def make_record(seq: int, start: datetime, duration_s: float, energy_j: float, *,
                pue: float = 1.0, g_per_kwh: float = 200.0, run_id: str = "run-1") -> Record:
    return Record(
        run_id=run_id, seq=seq, start_s=ts(start), duration_s=duration_s,
        cpu_energy_j=energy_j, gpu_energy_j=0.0, ram_energy_j=0.0, other_energy_j=0.0,
        energy_j=energy_j, pue=pue, emissions_g=energy_j * pue * g_per_kwh / 3_600_000.0,
        intensity_g_per_kwh=g_per_kwh, intensity_zone="GB", intensity_source="Ember",
        intensity_year=2025, intensity_kind="average", intensity_live=False,
        components=(ComponentEnergy("cpu", "fake:cpu", "measured", energy_j),),
    )


def point(start: datetime, minutes: float, g_per_kwh: float) -> IntensityPoint:
    return IntensityPoint(start=start, end=start + timedelta(minutes=minutes),
                          g_per_kwh=g_per_kwh, kind="average", zone="GB", source="test",
                          forecast=False)


# -- rescore_records: the arithmetic ------------------------------------------------------
def test_each_record_gets_the_time_weighted_mean_of_the_points_it_overlaps() -> None:
    records = [
        # 06:00-06:30, 1 kWh at PUE 1.0: points 100 (06:00-06:15) and 200 (06:15-06:45)
        make_record(0, T0, 1800.0, 3_600_000.0),
        # 06:30-07:00, 2 kWh at PUE 1.5: 200 for 15 min then 400 for 15 min
        make_record(1, T0 + timedelta(minutes=30), 1800.0, 7_200_000.0, pue=1.5),
    ]
    points = [point(T0, 15, 100.0), point(T0 + timedelta(minutes=15), 30, 200.0),
              point(T0 + timedelta(minutes=45), 15, 400.0)]
    result = rescore_records(records, points, provider="test", kind="average")
    # record 0: (100 x 15 + 200 x 15) / 30 = 150 g/kWh x 1 kWh x 1.0 = 150 g (was 200 g)
    # record 1: (200 x 15 + 400 x 15) / 30 = 300 g/kWh x 2 kWh x 1.5 = 900 g (was 600 g)
    assert [r["g_per_kwh"] for r in result.per_record] == [pytest.approx(150.0),
                                                          pytest.approx(300.0)]
    assert [r["emissions_g"] for r in result.per_record] == [pytest.approx(150.0),
                                                            pytest.approx(900.0)]
    assert [r["original_emissions_g"] for r in result.per_record] == [
        pytest.approx(200.0), pytest.approx(600.0)]
    assert [r["source"] for r in result.per_record] == ["test", "test"]
    assert result.original_emissions_g == pytest.approx(800.0)
    assert result.emissions_g == pytest.approx(1050.0)
    # energy-weighted over PUE-weighted kWh: 1050 g / (1 + 3) kWh = 262.5 g/kWh
    assert result.intensity_g_per_kwh == pytest.approx(262.5)
    assert (result.covered_records, result.total_records) == (2, 2)
    assert (result.run_id, result.provider, result.kind) == ("run-1", "test", "average")


def test_partial_coverage_keeps_the_original_for_uncovered_records() -> None:
    records = [
        make_record(0, T0, 3600.0, 3_600_000.0),                        # covered: 120 g/kWh
        make_record(1, T0 + timedelta(hours=1), 3600.0, 1_800_000.0),   # no point: kept
    ]
    result = rescore_records(records, [point(T0, 60, 120.0)], provider="neso", kind="average")
    # record 0: 1 kWh x 120 = 120 g; record 1 keeps 0.5 kWh x 200 = 100 g
    assert result.per_record[0] == {"seq": 0, "g_per_kwh": pytest.approx(120.0),
                                    "emissions_g": pytest.approx(120.0),
                                    "original_emissions_g": pytest.approx(200.0),
                                    "source": "neso", "kind": "average"}
    assert result.per_record[1] == {"seq": 1, "g_per_kwh": 200.0,
                                    "emissions_g": pytest.approx(100.0),
                                    "original_emissions_g": pytest.approx(100.0),
                                    "source": "original", "kind": "average"}
    assert result.emissions_g == pytest.approx(220.0)
    assert result.original_emissions_g == pytest.approx(300.0)
    assert result.intensity_g_per_kwh == pytest.approx(220.0 / 1.5)  # 146.67 g/kWh
    assert (result.covered_records, result.total_records) == (1, 2)


def test_a_zero_length_record_takes_the_point_covering_its_instant() -> None:
    records = [make_record(0, T0 + timedelta(minutes=10), 0.0, 0.0)]
    result = rescore_records(records, [point(T0, 30, 90.0)], provider="p", kind="average")
    assert result.per_record[0]["g_per_kwh"] == pytest.approx(90.0)
    assert result.covered_records == 1
    # no energy, so no energy-weighted mean: the value the record saw, as a summary says
    assert result.emissions_g == 0.0 and result.intensity_g_per_kwh == pytest.approx(90.0)


def test_no_records_is_an_empty_rescore() -> None:
    result = rescore_records([], [point(T0, 30, 90.0)], provider="p", kind="marginal")
    assert (result.run_id, result.emissions_g, result.intensity_g_per_kwh) == ("", 0.0, None)
    assert (result.covered_records, result.total_records, result.per_record) == (0, 0, [])
    # no interval, no kind: the provider's kind is kept apart
    assert (result.to_json()["kind"], result.to_json()["provider_kind"]) == (None, "marginal")


def test_a_marginal_history_over_average_records_never_mixes_kinds_unsaid() -> None:
    """WattTime's history covers the first hour only: the second keeps its average value and
    its own kind, and the run level says "mixed", with emissions per kind and no mean."""
    records = [
        make_record(0, T0, 3600.0, 3_600_000.0),                        # covered: 500 marginal
        make_record(1, T0 + timedelta(hours=1), 3600.0, 1_800_000.0),   # kept: 200 average
    ]
    marginal = [IntensityPoint(start=T0, end=T0 + timedelta(hours=1), g_per_kwh=500.0,
                               kind="marginal", zone="CAISO_NORTH", source="watttime",
                               forecast=False)]
    labels = Labels(kind="marginal", basis="generation", scope="direct", gases="CO2")
    result = rescore_records(records, marginal, provider="watttime", kind="marginal",
                             labels=labels)
    assert [(r["seq"], r["kind"], r["source"]) for r in result.per_record] == [
        (0, "marginal", "watttime"), (1, "average", "original")]
    assert (result.kind, result.provider_kind) == ("mixed", "marginal")
    assert result.intensity_g_per_kwh is None  # 500 marginal and 200 average: no mean
    # 1 kWh x 500 = 500 g marginal; 0.5 kWh x 200 = 100 g average; the sum is said to be both
    assert result.emissions_g == pytest.approx(600.0)
    assert result.by_kind == [
        {"kind": "average", "records": 1, "duration_s": 3600.0, "energy_j": 1_800_000.0,
         "emissions_g": pytest.approx(100.0), "g_per_kwh": pytest.approx(200.0)},
        {"kind": "marginal", "records": 1, "duration_s": 3600.0, "energy_j": 3_600_000.0,
         "emissions_g": pytest.approx(500.0), "g_per_kwh": pytest.approx(500.0)}]


def test_a_record_without_intensity_left_uncovered_stays_out_of_the_mean() -> None:
    unscored = replace(make_record(1, T0 + timedelta(hours=1), 3600.0, 3_600_000.0),
                       emissions_g=0.0, intensity_g_per_kwh=0.0, intensity_source="unavailable",
                       intensity_kind=None)
    records = [make_record(0, T0, 3600.0, 3_600_000.0), unscored]
    result = rescore_records(records, [point(T0, 60, 120.0)], provider="neso", kind="average")
    assert [r["kind"] for r in result.per_record] == ["average", None]
    assert result.kind == "average"
    # 120 g over the 1 kWh that had an intensity; the unscored kWh does not dilute it to 60
    assert result.intensity_g_per_kwh == pytest.approx(120.0)
    assert [(r["kind"], r["energy_j"], r["g_per_kwh"]) for r in result.by_kind] == [
        ("average", 3_600_000.0, pytest.approx(120.0)), (None, 3_600_000.0, None)]


def test_a_covered_record_takes_the_providers_labels() -> None:
    records = [make_record(0, T0, 3600.0, 3_600_000.0)]
    labels = Labels(kind="average", basis="consumption", scope="direct", gases="CO2")
    result = rescore_records(records, [point(T0, 60, 120.0)], provider="neso", kind="average",
                             labels=labels)
    assert result.kind == "average" and result.intensity_g_per_kwh == pytest.approx(120.0)
    assert (result.basis, result.scope, result.gases) == ("consumption", "direct", "CO2")
    # an uncovered record keeps its own labels (unknown here), so the run says they differ
    two = [*records, make_record(1, T0 + timedelta(hours=1), 3600.0, 1_800_000.0)]
    mixed = rescore_records(two, [point(T0, 60, 120.0)], provider="neso", kind="average",
                            labels=labels)
    assert (mixed.kind, mixed.basis, mixed.gases) == ("average", "mixed", "mixed")


def test_a_mixed_rescore_is_stored_without_a_mean(tmp_path) -> None:
    store = Store(tmp_path / "wattprint.db")
    try:
        store.begin_run(run_info("run-m"))
        store.add_rescore("run-m", "watttime", created_s=5.0, emissions_g=600.0,
                          intensity_g_per_kwh=None, kind="mixed", detail_json="{}")
        assert store.rescores("run-m") == [{"provider": "watttime", "created_s": 5.0,
                                            "emissions_g": 600.0, "intensity_g_per_kwh": None,
                                            "kind": "mixed"}]
    finally:
        store.close()


# -- rescore_run: store + NESO recording, end to end --------------------------------------
def test_recording_times_are_the_ones_the_run_below_is_built_inside() -> None:
    body = recording("neso/intensity_range.json")
    assert [(p["from"], p["to"]) for p in body["data"]] == [
        ("2025-12-31T06:00Z", "2025-12-31T06:30Z"), ("2025-12-31T06:30Z", "2025-12-31T07:00Z"),
        ("2025-12-31T07:00Z", "2025-12-31T07:30Z"), ("2025-12-31T07:30Z", "2025-12-31T08:00Z")]


def run_info(run_id: str) -> RunInfo:
    return RunInfo(
        run_id=run_id, project="p", experiment="e", started_s=ts(T0), scope="machine",
        interval_s=3600.0, pue=1.2,
        location={"country": "GB", "subdivision": None, "resolved_by": "config",
                  "detail": "country from argument", "zone": None, "cloud": None,
                  "cloud_region": None, "lat": None, "lon": None, "postcode": None,
                  "notes": []},
        host={"hostname": socket.gethostname(), "pid": os.getpid()},
        devices=({"device": "fake:cpu", "component": "cpu", "method": "measured",
                  "detail": "fake"},),
        skipped=(),
    )


@pytest.fixture
def stored_run(tmp_path):
    """A finished run in GB, PUE 1.2, tracked with 200 g/kWh (the bundled-style annual figure):

    seq 0  06:00-07:00  1.0 kWh IT -> 1.2 kWh   240 g
    seq 1  07:00-07:30  0.5 kWh IT -> 0.6 kWh   120 g
    seq 2  08:00-08:30  0.25 kWh IT -> 0.3 kWh   60 g   (after the recorded history)
    """
    store = Store(tmp_path / "store" / "wattprint.db")
    info = run_info("run-1")
    records = [
        make_record(0, T0, 3600.0, 3_600_000.0, pue=1.2),
        make_record(1, T0 + timedelta(hours=1), 1800.0, 1_800_000.0, pue=1.2),
        make_record(2, T0 + timedelta(hours=2), 1800.0, 900_000.0, pue=1.2),
    ]
    store.begin_run(info)
    store.add_records(records)
    store.finish_run(summarize(info, records), ended_s=ts(T0) + 3 * 3600)
    yield store, records
    store.close()


def neso(replay: Replay):
    now = utc("2026-01-01T10:20")  # the recordings' "now": the history chunk ends at 00:00
    return make_provider("neso", http=HttpOptions(transport=replay.transport), now=lambda: now)


def test_rescore_run_stores_the_result_beside_the_untouched_original(stored_run) -> None:
    store, records = stored_run
    replay = Replay().add(NESO_CHUNK, ok("neso/intensity_range.json"))
    provider = neso(replay)
    try:
        result = rescore_run(store, "run-1", provider)
    finally:
        provider.close()

    assert replay.paths() == [NESO_CHUNK]  # one request, no key, recorded answer
    # hourly means from the recording: 06h -> (144 + 152) / 2 = 148; 07h -> (168 + 181) / 2
    # = 174.5; 08h has no data and is left out, so seq 2 keeps its 200 g/kWh
    assert [(r["seq"], r["source"]) for r in result.per_record] == [
        (0, "neso"), (1, "neso"), (2, "original")]
    assert [r["g_per_kwh"] for r in result.per_record] == [
        pytest.approx(148.0), pytest.approx(174.5), 200.0]
    # 1.2 kWh x 148 = 177.6 g; 0.6 kWh x 174.5 = 104.7 g; 60 g kept
    assert [r["emissions_g"] for r in result.per_record] == [
        pytest.approx(177.6), pytest.approx(104.7), pytest.approx(60.0)]
    assert result.original_emissions_g == pytest.approx(420.0)
    assert result.emissions_g == pytest.approx(342.3)
    assert result.intensity_g_per_kwh == pytest.approx(163.0)  # 342.3 g / 2.1 kWh
    assert (result.covered_records, result.total_records) == (2, 3)
    assert (result.run_id, result.provider, result.kind) == ("run-1", "neso", "average")

    rows = store.rescores("run-1")
    assert len(rows) == 1
    row = rows[0]
    assert (row["provider"], row["kind"]) == ("neso", "average")
    assert row["emissions_g"] == pytest.approx(342.3)
    assert row["intensity_g_per_kwh"] == pytest.approx(163.0)
    assert row["created_s"] > 0
    with closing(sqlite3.connect(store.path)) as db:  # the per-record detail is stored too
        detail = db.execute("SELECT detail_json FROM rescores WHERE run_id='run-1'").fetchone()
    assert json.loads(detail[0]) == json.loads(json.dumps(result.to_json()))

    # never over the original numbers
    assert store.records("run-1") == records
    assert store.summary("run-1").emissions_g == pytest.approx(420.0)
    assert store.rescores("other-run") == []


def test_rescore_run_uses_a_given_location_over_the_stored_one(stored_run) -> None:
    store, _ = stored_run
    replay = Replay().add(NESO_CHUNK, ok("neso/intensity_range.json"))
    provider = neso(replay)
    try:
        with pytest.raises(ProviderError, match="Great Britain only"):
            rescore_run(store, "run-1", provider, where=Location("FR", resolved_by="config"))
    finally:
        provider.close()
    assert replay.paths() == []  # refused before any request
    assert store.rescores("run-1") == []


def test_rescore_run_of_a_run_without_records_is_a_store_error(tmp_path) -> None:
    store = Store(tmp_path / "wattprint.db")
    store.begin_run(run_info("empty"))
    provider = neso(Replay())
    try:
        with pytest.raises(StoreError, match="no records to rescore"):
            rescore_run(store, "empty", provider)
    finally:
        provider.close()
        store.close()
