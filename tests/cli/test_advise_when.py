"""`wattprint advise RUN_ID --when`: a stored run moved in time against a provider's recorded
history (Electricity Maps' past-range, in its documented shape, through an injected transport),
exact grams; the usage and provider errors."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from fakes.http_recordings.replay import Replay, Reply, recording, wired_replay
from wattprint.advice.windows import local_text
from wattprint.cli import main
from wattprint.config import load_config
from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
from wattprint.store import Store

pytest.importorskip("httpx")

NOW = datetime(2026, 1, 1, 10, 20, tzinfo=timezone.utc)
DAY = datetime(2025, 12, 31, tzinfo=timezone.utc)
RUN_START = DAY + timedelta(hours=12)
PAST_RANGE = "/v3/carbon-intensity/past-range"
RUN_ID = "feedc0de" + "0" * 24
KWH = 3.6e6


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch) -> Replay:
    replay = wired_replay(monkeypatch, now=NOW)
    monkeypatch.setenv("WATTPRINT_ELECTRICITYMAPS_API_KEY", "test-token")
    return replay


def past_range(low_hours: set[int]) -> dict:
    """Electricity Maps past-range (documented item shape, as in past_range_DE.json): hourly
    from 2025-12-30T00:00Z to 2026-01-01T10:00Z, 300 g/kWh except 100 at ``low_hours`` of
    2025-12-31 (UTC)."""
    template = recording("electricitymaps/past_range_DE.json")["data"][0]
    start = DAY - timedelta(days=1)
    items = []
    for i in range(58):
        when = start + timedelta(hours=i)
        low = when.date() == DAY.date() and when.hour in low_hours
        items.append({**template, "carbonIntensity": 100 if low else 300,
                      "datetime": when.strftime("%Y-%m-%dT%H:%M:%S.000Z")})
    return {"zone": "DE", "data": items}


@pytest.fixture
def stored_run() -> str:
    """A finished run in DE, 12:00-15:00 UTC on 2025-12-31, 1 kWh an hour at 400 g/kWh."""
    info = RunInfo(run_id=RUN_ID, project="p", experiment="e", started_s=RUN_START.timestamp(),
                   scope="machine", interval_s=3600.0, pue=1.0,
                   location={"country": "DE", "subdivision": None, "resolved_by": "config"},
                   host={"hostname": "node-a", "pid": 1}, devices=(), skipped=())
    records = [Record(run_id=RUN_ID, seq=seq, start_s=RUN_START.timestamp() + 3600 * (seq - 1),
                      duration_s=3600.0, cpu_energy_j=KWH, gpu_energy_j=0.0, ram_energy_j=0.0,
                      other_energy_j=0.0, energy_j=KWH, pue=1.0, emissions_g=400.0,
                      intensity_g_per_kwh=400.0, intensity_zone="DE", intensity_source="Ember",
                      intensity_year=2024, intensity_kind="average", intensity_live=False,
                      components=(ComponentEnergy("cpu", "rapl:package-0", "measured", KWH),),
                      gaps=(), work=())
               for seq in (1, 2, 3)]
    store = Store(load_config().store_path)
    store.export([info, *records, summarize(info, records, exit_code=0)])
    store.close()
    return RUN_ID


def test_when_moves_the_run_to_the_cleanest_hours(replay, stored_run, capsys) -> None:
    replay.add(PAST_RANGE, Reply(200, past_range({2, 3, 4})))
    assert main(["advise", RUN_ID[:8], "--when", "--window", "12h", "--provider",
                 "electricitymaps", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    when = data["when"]
    assert data["run_id"] == RUN_ID
    assert (when["actual_start"], when["best_start"]) == ("2025-12-31T12:00:00Z",
                                                          "2025-12-31T02:00:00Z")
    assert (when["actual_g"], when["best_g"], when["saving_g"]) == (900.0, 300.0, 600.0)
    assert when["saving_pct"] == pytest.approx(200 / 3)
    assert (when["actual_g_per_kwh"], when["best_g_per_kwh"]) == (300.0, 100.0)
    assert when["recorded_g"] == 1200.0
    assert (when["provider"], when["kind"], when["zone"], when["gases"]) == (
        "electricitymaps", "average", "DE", "CO2e")
    assert when["shifts_priced"] == when["shifts_tried"] == 289
    request = replay.requests[0]
    assert request.headers["auth-token"] == "test-token"
    assert dict(request.url.params)["zone"] == "DE"

    assert main(["advise", RUN_ID[:8], "--when", "--window", "12h", "--provider",
                 "electricitymaps"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("When could it have run? The run's 3.000 kWh (after PUE, its own profile "
                        "over 3.0 h) moved up to 12 h before or after its start, priced with "
                        "electricitymaps's hourly history (average, DE).")
    assert lines[1] == (f"  as it ran   {local_text(RUN_START)}: 900.00 g CO2e at 300 "
                        "gCO2e/kWh")
    assert lines[2] == (f"  best start  {local_text(DAY + timedelta(hours=2))} (10.0 h earlier): "
                        "300.00 g CO2e at 100 gCO2e/kWh, 600.00 g less (67%)")
    assert lines[3].startswith("  recorded    1.200 kg CO2e with the run's own intensity")
    assert lines[4] == "  starts tried every 5 min: 289 of 289 wholly covered by the history"


def test_a_run_at_the_best_time_says_so(replay, stored_run, capsys) -> None:
    replay.add(PAST_RANGE, Reply(200, past_range(set())))
    assert main(["advise", RUN_ID[:8], "--when", "--provider", "electricitymaps"]) == 0
    out = capsys.readouterr().out
    assert "it ran at the best time in the window (no start saves anything)" in out
    assert "moved up to 24 h before or after" in out  # the default window


def test_when_without_a_history_provider_is_a_settings_error(replay, stored_run,
                                                             capsys) -> None:
    assert main(["advise", RUN_ID[:8], "--when"]) == 2
    assert "no history provider for DE: the bundled tables hold annual averages only" in \
        capsys.readouterr().err
    assert replay.requests == []


def test_a_provider_refusal_exits_1_saying_what_to_do(replay, stored_run, capsys) -> None:
    replay.add(PAST_RANGE, Reply(403, {"message": "plan does not include past-range"}))
    assert main(["advise", RUN_ID[:8], "--when", "--provider", "electricitymaps"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("wattprint: advise --when: no history: ")
    assert "your Electricity Maps plan does not include /carbon-intensity/past-range" in err
    assert err.rstrip().endswith("try again later, or another --provider")


def test_when_usage_errors(replay, stored_run, capsys) -> None:
    assert main(["advise", RUN_ID[:8], "--window", "12h"]) == 2
    assert "--window go with --when" in capsys.readouterr().err
    assert main(["advise", "--energy-kwh", "3", "--when"]) == 2
    assert "--when needs a RUN_ID: it moves a stored run's own energy profile" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit) as bad:  # argparse's own exit
        main(["advise", RUN_ID[:8], "--when", "--window", "soon"])
    assert bad.value.code == 2
    assert "'soon' is not a duration: give a number with a unit" in capsys.readouterr().err
    assert replay.requests == []


def test_a_run_in_great_britain_uses_neso_history_without_a_key(replay, monkeypatch,
                                                                 capsys) -> None:
    """NESO's national history (documented {from}/{to} windows of at most 14 days, aligned on
    the epoch, half hours with their actual values) for a GB run, with the bundled tables
    configured: no key, no --provider."""
    monkeypatch.delenv("WATTPRINT_ELECTRICITYMAPS_API_KEY")
    run_id = "0b0e" + "1" * 28
    info = RunInfo(run_id=run_id, project="p", experiment="e", started_s=RUN_START.timestamp(),
                   scope="machine", interval_s=3600.0, pue=1.0,
                   location={"country": "GB", "subdivision": None, "resolved_by": "config"},
                   host={"hostname": "node-a", "pid": 1}, devices=(), skipped=())
    records = [Record(run_id=run_id, seq=1, start_s=RUN_START.timestamp(), duration_s=7200.0,
                      cpu_energy_j=KWH, gpu_energy_j=0.0, ram_energy_j=0.0, other_energy_j=0.0,
                      energy_j=KWH, pue=1.0, emissions_g=200.0, intensity_g_per_kwh=200.0,
                      intensity_zone="GB", intensity_source="Ember", intensity_year=2024,
                      intensity_kind="average", intensity_live=False,
                      components=(ComponentEnergy("cpu", "rapl:package-0", "measured", KWH),),
                      gaps=(), work=())]
    store = Store(load_config().store_path)
    store.export([info, *records, summarize(info, records, exit_code=0)])
    store.close()
    half = timedelta(minutes=30)
    items = []
    for i in range(2 * 58 + 1):
        a = DAY - timedelta(days=1) + i * half
        value = 60 if a.date() == DAY.date() and 20 <= a.hour < 22 else 240
        items.append({"from": a.strftime("%Y-%m-%dT%H:%MZ"),
                      "to": (a + half).strftime("%Y-%m-%dT%H:%MZ"),
                      "intensity": {"forecast": value + 5, "actual": value, "index": "low"}})
    # the two epoch-aligned 14-day windows the run's +-12 h touch, the second cut at "now"
    replay.add("/intensity/2025-12-18T00:00Z/2026-01-01T00:00Z", Reply(200, {"data": items}))
    replay.add("/intensity/2026-01-01T00:00Z/2026-01-01T10:30Z", Reply(200, {"data": items}))
    assert main(["advise", run_id[:8], "--when", "--window", "12h", "--json"]) == 0
    when = json.loads(capsys.readouterr().out)["when"]
    assert (when["provider"], when["zone"], when["gases"]) == ("neso", "GB", "CO2")
    assert (when["best_start"], when["actual_g"], when["best_g"]) == (
        "2025-12-31T20:00:00Z", 240.0, 60.0)  # actuals, not the forecasts beside them
    assert sorted(set(replay.paths())) == ["/intensity/2025-12-18T00:00Z/2026-01-01T00:00Z",
                                           "/intensity/2026-01-01T00:00Z/2026-01-01T10:30Z"]
