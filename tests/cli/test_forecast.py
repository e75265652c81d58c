"""`wattprint forecast` against recorded provider responses (tests/fakes/http_recordings):
UK NESO without a key, Electricity Maps and WattTime where configured, the sparkline (Unicode
and ASCII), the cleanest window, and the errors (no provider, provider down, slow, garbage,
unknown zone).

The provider's HTTP goes to an injected ``httpx.MockTransport``; "now" is the recordings'
2026-01-01T10:20Z, injected as the providers' default clock. Times are shown in Europe/Paris
(--tz), whatever the machine's zone.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from datetime import datetime, timedelta, timezone

import pytest

from fakes.http_recordings.replay import Replay, Reply, ok, recording, watttime_forecast, wired_replay
from wattprint.cli import main
from wattprint.cli.forecast import deadline_arg, duration_arg

httpx = pytest.importorskip("httpx")

NOW = datetime(2026, 1, 1, 10, 20, tzinfo=timezone.utc)
NESO_FW48H = "/intensity/2026-01-01T10:00Z/fw48h"
FULL = "neso/intensity_fw48h_full.json"


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch) -> Replay:
    replay = wired_replay(monkeypatch, now=NOW)
    return replay


def neso_values() -> list[int]:
    return [item["intensity"]["forecast"] for item in recording(FULL)["data"]]


def test_neso_needs_no_key_and_finds_the_cleanest_window(replay: Replay, capsys) -> None:
    replay.add(NESO_FW48H, ok(FULL))
    assert main(["forecast", "--zone", "GB", "--duration", "3h", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    values = neso_values()
    assert [p["g_per_kwh"] for p in data["points"]] == values  # 96 half hours, as recorded
    assert (data["provider"], data["kind"], data["zone"], data["gases"]) == (
        "neso", "average", "GB", "CO2")
    assert data["provider_why"].startswith("neso (no key needed")
    best = data["cleanest"]
    # 04:00-07:00 UTC on the 2nd: the six half hours 36-41 of the recording
    assert (best["start"], best["end"]) == ("2026-01-02T04:00:00Z", "2026-01-02T07:00:00Z")
    assert best["mean_g_per_kwh"] == pytest.approx(sum(values[36:42]) / 6)
    started_now = (values[0] * 10 + sum(values[1:6]) * 30 + values[6] * 20) / 180
    assert best["now_g_per_kwh"] == pytest.approx(started_now)
    assert best["saving_pct"] == pytest.approx(100 * (1 - best["mean_g_per_kwh"] / started_now))
    assert replay.paths() == [NESO_FW48H]


def test_neso_text_shows_a_sparkline_with_the_window_marked(replay: Replay, capsys) -> None:
    replay.add(NESO_FW48H, ok(FULL))
    assert main(["forecast", "--zone", "GB", "--duration", "3h", "--tz", "Europe/Paris"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Carbon intensity forecast for GB (average, direct, CO2) from "
                               "neso")
    assert lines[1] == ("2026-01-01 11:00 CET to 2026-01-03 11:00 CET, Europe/Paris; the "
                        "provider's forecast covers 47.7 h of the 48 asked")
    spark = lines[2][2:98]
    assert set(spark) <= set("▁▂▃▄▅▆▇█") and len(spark) == 96
    values = neso_values()
    assert spark[values.index(min(values))] == "▁" and spark[values.index(max(values))] == "█"
    assert lines[2].endswith(f"  {min(values)}-{max(values)} gCO2/kWh")
    assert lines[3] == " " * 38 + "▔" * 6 + " cleanest"  # under half hours 36-41
    # Paris time: 12h is the third half hour (11:00, 11:30, 12:00); Fri is midnight on the 2nd
    assert lines[4] == "  " + " " * 2 + "12h" + " " * 9 + "18h" + " " * 9 + "Fri" + " " * 9 + \
        "06h" + " " * 9 + "12h" + " " * 9 + "18h" + " " * 9 + "Sat" + " " * 9 + "06h"
    assert lines[5].startswith("cleanest 3 h window: 2026-01-02 05:00 CET to 2026-01-02 08:00 "
                               "CET, mean 51 gCO2/kWh, 71% below starting now (177 gCO2/kWh)")
    assert lines[6] == f"{'start':<21} {'end':<21} {'gCO2/kWh':>10}"
    assert lines[7] == f"{'2026-01-01 11:00 CET':<21} {'2026-01-01 11:30 CET':<21} {154:>10}"
    marked = [line for line in lines if line.endswith("<- cleanest")]
    assert len(marked) == 6 and marked[0].startswith("2026-01-02 05:00 CET")


def test_an_ascii_terminal_gets_an_ascii_sparkline(replay: Replay, monkeypatch) -> None:
    replay.add(NESO_FW48H, ok(FULL))
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", out)
    assert main(["forecast", "--zone", "GB", "--duration", "3h", "--tz", "Europe/Paris"]) == 0
    out.flush()
    lines = raw.getvalue().decode("ascii").splitlines()
    assert set(lines[2][2:98]) <= set("_.-:=+*#")
    assert lines[3] == " " * 38 + "^" * 6 + " cleanest"


def test_electricitymaps_where_configured(replay: Replay, monkeypatch, capsys) -> None:
    monkeypatch.setenv("WATTPRINT_PROVIDER", "electricitymaps")
    monkeypatch.setenv("WATTPRINT_ELECTRICITYMAPS_API_KEY", "test-token")
    replay.add("/v3/carbon-intensity/forecast", ok("electricitymaps/forecast_DE.json"))
    assert main(["forecast", "--zone", "DE", "--duration", "2h", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["g_per_kwh"] for p in data["points"]] == [405, 398, 380, 371, 376, 392]
    assert (data["kind"], data["gases"], data["scope"]) == ("average", "CO2e", "lifecycle")
    assert data["provider_why"] == "electricitymaps (provider from environment WATTPRINT_PROVIDER)"
    assert (data["cleanest"]["start"], data["cleanest"]["mean_g_per_kwh"]) == (
        "2026-01-01T13:00:00Z", (371 + 376) / 2)
    request = replay.requests[0]
    assert request.headers["auth-token"] == "test-token"
    assert dict(request.url.params)["zone"] == "DE"
    assert main(["forecast", "--zone", "DE", "--duration", "2h", "--tz", "Europe/Paris"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[1].endswith("Europe/Paris; the provider's forecast covers 5.7 h of the 48 asked")
    assert text[2].endswith("371-405 gCO2e/kWh")


def test_watttime_five_minute_values_are_shown_as_hourly_rows(replay: Replay, monkeypatch,
                                                               capsys) -> None:
    watttime_forecast(monkeypatch, replay)
    assert main(["forecast", "--country", "US", "--subdivision", "CA", "--duration", "15m",
                 "--tz", "Europe/Paris"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Carbon intensity forecast for CAISO_NORTH (marginal, direct, "
                               "CO2) from watttime")
    moer = [v["value"] * 0.45359237 for v in recording("watttime/forecast_CAISO_NORTH.json")
            ["data"]]
    rows = lines[lines.index(f"{'start':<21} {'end':<21} {'gCO2/kWh':>10}") + 1:]
    # 10:20-11:00 UTC (8 values) and 11:00-11:20 UTC (4 values), partial hours as such
    assert [r[:43] for r in rows] == ["2026-01-01 11:20 CET  2026-01-01 12:00 CET ",
                                      "2026-01-01 12:00 CET  2026-01-01 12:20 CET "]
    assert [float(r.split()[6]) for r in rows] == [round(sum(moer[:8]) / 8),
                                                  round(sum(moer[8:]) / 4)]
    assert "cleanest 0.25 h window: 2026-01-01 11:45 CET to 2026-01-01 12:00 CET" in lines[5]


def test_no_forecast_provider_for_the_zone_is_a_settings_error(replay: Replay, capsys) -> None:
    assert main(["forecast", "--zone", "DE"]) == 2
    err = capsys.readouterr().err
    assert "no forecast provider for DE: the bundled tables hold annual averages only" in err
    assert "WATTPRINT_PROVIDER=electricitymaps" in err
    assert replay.requests == []


def test_unknown_zone_is_a_usage_error(replay: Replay, capsys) -> None:
    assert main(["forecast", "--zone", "XX-NOWHERE"]) == 2
    assert "XX-NOWHERE" in capsys.readouterr().err


def test_neso_outside_great_britain_says_so(replay: Replay, capsys) -> None:
    assert main(["forecast", "--provider", "neso", "--zone", "FR"]) == 1
    err = capsys.readouterr().err
    assert "wattprint: forecast: no forecast: neso covers Great Britain only (country GB); " \
           "this location is FR; try again later" in err


@pytest.mark.parametrize(("reply", "expected"), [
    (Reply(503, {"error": {"code": 503, "message": "Service Unavailable"}}),
     "neso: /intensity/2026-01-01T10:00Z/fw48h answered HTTP 503"),
    (Reply(raises=httpx.ReadTimeout), "timed out after 4 attempt(s)"),
    (Reply(200, "<html>maintenance</html>"), "a body that is not JSON"),
    (Reply(200, {"data": [{"from": "2026-01-01T10:00Z", "to": "2026-01-01T10:30Z"}]}),
     "field data[0].intensity is missing"),
    (Reply(200, {"data": []}), "neso returned no forecast points for the next 48 h"),
])
def test_provider_down_slow_or_garbage_exits_1_saying_what_to_do(
        replay: Replay, capsys, reply: Reply, expected: str) -> None:
    replay.add(NESO_FW48H, reply)
    assert main(["forecast", "--zone", "GB"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert expected in captured.err
    assert captured.err.rstrip().endswith("try again later; a run started meanwhile uses the "
                                          "value `wattprint intensity` shows")


def test_durations_and_deadlines_parse_with_units_only() -> None:
    assert duration_arg("3h") == timedelta(hours=3)
    assert duration_arg("1h30m") == timedelta(minutes=90)
    assert duration_arg("2d") == timedelta(days=2)
    assert duration_arg("45s") == timedelta(seconds=45)
    for bad in ("3", "h", "3x", "-1h", "0h", "1h 30", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            duration_arg(bad)
    assert deadline_arg("12h") == timedelta(hours=12)
    assert deadline_arg("2026-01-02T06:00Z") == datetime(2026, 1, 2, 6, tzinfo=timezone.utc)
    # naive: this machine's local time
    assert deadline_arg("2026-01-02T07:00") == datetime(2026, 1, 2, 7).astimezone()
    with pytest.raises(argparse.ArgumentTypeError, match="not a deadline"):
        deadline_arg("tomorrow")


def test_a_cloud_region_in_great_britain_uses_neso(replay: Replay, capsys) -> None:
    replay.add(NESO_FW48H, ok(FULL))
    assert main(["forecast", "--cloud", "gcp", "--cloud-region", "europe-west2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["provider"], data["location"]["cloud_region"]) == ("neso", "europe-west2")
    values = neso_values()
    pairs = [values[i] + values[i + 1] for i in range(1, len(values) - 1)]  # 1 h, the default
    best = 1 + pairs.index(min(pairs))
    assert best == 39  # 05:30 UTC on the 2nd
    assert data["cleanest"]["start"] == "2026-01-02T05:30:00Z"
    assert data["cleanest"]["mean_g_per_kwh"] == min(pairs) / 2


def test_an_unknown_cloud_region_is_a_usage_error(replay: Replay, capsys) -> None:
    assert main(["forecast", "--cloud", "gcp", "--cloud-region", "mars-north1"]) == 2
    assert "mars-north1" in capsys.readouterr().err
    assert replay.requests == []


def test_a_duration_longer_than_the_forecast_marks_nothing_and_says_why(replay: Replay,
                                                                        capsys) -> None:
    replay.add(NESO_FW48H, ok(FULL))
    assert main(["forecast", "--zone", "GB", "--duration", "3h", "--hours", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "▔" not in "".join(lines) and "<- cleanest" not in "".join(lines)
    assert lines[5] == ("no 3 h window fits in the 2.0 h of forecast from now: give a shorter "
                        "--duration or more --hours")
    assert main(["forecast", "--zone", "GB", "--duration", "3h", "--hours", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cleanest"]["fits"] is False
