"""`wattprint run --start-when-clean`: the window from a recorded forecast, the countdown on a
fake clock (no test sleeps), Ctrl-C while waiting, the duration learned from past runs, and the
paths that start now saying why (no provider, provider down, a deadline too close, a flat
forecast). The command itself is a real child process; the decision is read back from the
stored run's tags."""

from __future__ import annotations

import functools
import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from fakes.http_recordings.replay import Replay, Reply, ok, recording, watttime_forecast, wired_replay
from wattprint.advice.windows import local_text
from wattprint.cli import clean_start, main
from wattprint.config import load_config
from wattprint.intensity.providers import _http
from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
from wattprint.store import Store, open_repository

pytest.importorskip("httpx")

NOW = datetime(2026, 1, 1, 10, 20, tzinfo=timezone.utc)
NESO_FW48H = "/intensity/2026-01-01T10:00Z/fw48h"
FULL = "neso/intensity_fw48h_full.json"
CHILD = [sys.executable, "-c", "print('child ran')"]


class FakeTime:
    """CLOCK and SLEEP for clean_start: sleeping moves the clock, and is recorded."""

    def __init__(self, start: datetime) -> None:
        self.now_s = start.timestamp()
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now_s

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_s += seconds


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch) -> Replay:
    replay = wired_replay(monkeypatch, now=NOW)
    return replay


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime(NOW)
    monkeypatch.setattr(clean_start, "CLOCK", fake.clock)
    monkeypatch.setattr(clean_start, "SLEEP", fake.sleep)
    monkeypatch.setattr(clean_start, "_stderr_is_tty", lambda: False)
    return fake


def run(tmp_path: Path, *flags: str) -> tuple[int, dict[str, str] | None]:
    """`wattprint run` with flags; the exit code and the stored run's tags (None: no run)."""
    summary = tmp_path / "summary.json"
    code = main(["run", "--interval", "0.2", "--json-summary", str(summary), *flags, "--",
                 *CHILD])
    if not summary.exists():
        return code, None
    run_id = json.loads(summary.read_text())["run_id"]
    repo = open_repository(load_config().store_path)
    try:
        return code, dict(repo.info(run_id).tags)
    finally:
        repo.close()


def test_waits_for_the_cleanest_window_then_runs(replay, fake_time, tmp_path, capfd) -> None:
    replay.add(NESO_FW48H, ok(FULL))
    code, tags = run(tmp_path, "--zone", "GB", "--start-when-clean", "--deadline", "24h",
                     "--duration", "3h")
    assert code == 0
    out, err = capfd.readouterr()
    assert out == "child ran\n"
    values = [i["intensity"]["forecast"] for i in recording(FULL)["data"]]
    # 04:00-07:00 UTC on the 2nd (half hours 36-41): 17 h 40 min after 10:20
    assert sum(fake_time.sleeps) == 17 * 3600 + 40 * 60
    assert fake_time.sleeps[:2] == [600.0, 600.0]  # a plain line every 10 min off a terminal
    assert tags is not None
    assert tags["start_when_clean"] == "waited"
    assert tags["start_when_clean.start"] == "2026-01-02T04:00:00Z"
    assert tags["start_when_clean.started"] == "2026-01-02T04:00:00Z"
    assert tags["start_when_clean.mean_g_per_kwh"] == f"{sum(values[36:42]) / 6:.1f}"
    assert tags["start_when_clean.now_g_per_kwh"] == "176.7"
    assert tags["start_when_clean.saving_pct"] == "71.3"
    assert (tags["start_when_clean.provider"], tags["start_when_clean.duration_s"],
            tags["start_when_clean.duration_from"]) == ("neso", "10800", "--duration")
    assert tags["start_when_clean.deadline"] == "2026-01-02T10:20:00Z"
    lines = [line for line in err.splitlines() if "start when clean" in line]
    assert lines[0] == ("wattprint: start when clean: expected duration 3h00m (--duration); "
                        "neso forecast")
    assert lines[1].startswith("wattprint: start when clean: waiting 17h40m to start at ")
    assert "forecast mean 51 g/kWh, 71% below starting now (177)" in lines[1]
    assert lines[2].startswith("wattprint: start when clean: starting in 17h40m00s at ")
    assert lines[2].endswith(", -71% gCO2/kWh; Ctrl-C to cancel")
    countdown = [line for line in lines if "starting in" in line]
    assert len(countdown) == 106  # 63,600 s in 600 s steps
    started = local_text(datetime(2026, 1, 2, 4, tzinfo=timezone.utc))
    assert lines[-1] == (f"wattprint: start when clean: started {started} for a forecast mean "
                         f"of {sum(values[36:42]) / 6:.0f} g/kWh (177 g/kWh had it started at "
                         "once: an expected 71% less); kept in the run's tags "
                         "(`wattprint export`)")


def short_forecast(values: list[int]) -> dict:
    """A NESO fw48h body (the documented shape) of half hours from 10:00Z."""
    start = datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)
    items = []
    for i, value in enumerate(values):
        a, b = start + i * timedelta(minutes=30), start + (i + 1) * timedelta(minutes=30)
        items.append({"from": a.strftime("%Y-%m-%dT%H:%MZ"), "to": b.strftime("%Y-%m-%dT%H:%MZ"),
                      "intensity": {"forecast": value, "actual": None, "index": "moderate"}})
    return {"data": items}


def test_on_a_terminal_the_countdown_is_one_redrawn_line(replay, fake_time, monkeypatch,
                                                         tmp_path, capfd) -> None:
    monkeypatch.setattr(clean_start, "_stderr_is_tty", lambda: True)
    replay.add(NESO_FW48H, Reply(200, short_forecast([300, 100, 300, 300])))
    code, tags = run(tmp_path, "--zone", "GB", "--start-when-clean", "--deadline", "2h",
                     "--duration", "30m")
    assert code == 0 and tags is not None
    assert tags["start_when_clean.start"] == "2026-01-01T10:30:00Z"
    assert fake_time.sleeps == [1.0] * 600  # redrawn every second for the 10 minutes
    err = capfd.readouterr().err
    draws = err.count("\r\x1b[2K[wattprint] starting in ")
    assert draws == 600
    assert "\r\x1b[2K[wattprint] starting in 10m00s at " in err
    assert "\r\x1b[2K[wattprint] starting in 9m59s at " in err
    assert "\r\x1b[2K[wattprint] starting in 1.0 s at " in err
    assert "-40% gCO2/kWh; Ctrl-C to cancel" in err  # 100 against 167 (10 min at 300)


def test_ctrl_c_while_waiting_starts_nothing_and_exits_130(replay, fake_time, monkeypatch,
                                                         tmp_path, capfd) -> None:
    replay.add(NESO_FW48H, ok(FULL))

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(clean_start, "SLEEP", interrupted)
    code, tags = run(tmp_path, "--zone", "GB", "--start-when-clean", "--deadline", "24h",
                     "--duration", "3h")
    assert (code, tags) == (130, None)
    out, err = capfd.readouterr()
    assert out == ""  # the child never ran
    assert err.rstrip().endswith("wattprint: start when clean: interrupted while waiting; the "
                                 "command was not started")
    repo = open_repository(load_config().store_path)
    try:
        assert repo.runs().items == []  # nothing stored
    finally:
        repo.close()


@pytest.mark.parametrize(("zone", "reply", "reason"), [
    ("DE", None, "no forecast (no forecast provider for DE: the bundled tables hold annual "
                 "averages only."),
    ("GB", Reply(503, {"error": {"code": 503}}),
     "no forecast: neso: /intensity/2026-01-01T10:00Z/fw48h answered HTTP 503"),
    ("GB", Reply(200, "<html>"), "a body that is not JSON"),
])
def test_without_a_forecast_it_starts_now_saying_why(replay, fake_time, tmp_path, capfd,
                                                     zone: str, reply: Reply | None,
                                                     reason: str) -> None:
    if reply is not None:
        replay.add(NESO_FW48H, reply)
    code, tags = run(tmp_path, "--zone", zone, "--start-when-clean", "--deadline", "12h",
                     "--duration", "1h")
    assert code == 0 and fake_time.sleeps == []
    out, err = capfd.readouterr()
    assert out == "child ran\n"
    said = [line for line in err.splitlines() if "start when clean" in line]
    assert said[0].startswith("wattprint: start when clean: ")
    assert reason in said[0] and said[0].endswith("; starting now")
    assert tags is not None and tags["start_when_clean"] == "now"
    assert reason in tags["start_when_clean.reason"]
    assert said[-1].startswith("wattprint: start when clean: started at once (")


def test_a_deadline_too_close_starts_now_saying_it_cannot_fit(replay, fake_time, tmp_path,
                                                               capfd) -> None:
    replay.add(NESO_FW48H, ok(FULL))
    code, tags = run(tmp_path, "--zone", "GB", "--start-when-clean", "--deadline", "2h",
                     "--duration", "3h")
    assert code == 0 and fake_time.sleeps == []
    assert tags is not None
    assert tags["start_when_clean.reason"] == ("cannot fit: the deadline leaves 2.0 h for a run "
                                               "of 3.0 h; starting now")


def test_a_flat_forecast_starts_now(replay, fake_time, tmp_path, capfd) -> None:
    replay.add(NESO_FW48H, Reply(200, short_forecast([200] * 20)))
    code, tags = run(tmp_path, "--zone", "GB", "--start-when-clean", "--deadline", "8h",
                     "--duration", "1h")
    assert code == 0 and fake_time.sleeps == []
    assert tags is not None
    assert (tags["start_when_clean"], tags["start_when_clean.mean_g_per_kwh"],
            tags["start_when_clean.now_g_per_kwh"]) == ("now", "200.0", "200.0")
    said = [line for line in capfd.readouterr().err.splitlines() if "start when clean" in line]
    assert said[1] == "wattprint: start when clean: starting now is already the cleanest window"


def add_finished_run(store: Store, run_id: str, *, started_s: float, duration_s: float,
                     project: str = "vision", experiment: str = "resnet") -> None:
    info = RunInfo(run_id=run_id, project=project, experiment=experiment, started_s=started_s,
                   scope="machine", interval_s=5.0, pue=1.0,
                   location={"country": "GB", "subdivision": None, "resolved_by": "config"},
                   host={"hostname": "node-a", "pid": 1}, devices=(), skipped=())
    record = Record(run_id=run_id, seq=1, start_s=started_s, duration_s=duration_s,
                    cpu_energy_j=1000.0, gpu_energy_j=0.0, ram_energy_j=0.0, other_energy_j=0.0,
                    energy_j=1000.0, pue=1.0, emissions_g=0.05, intensity_g_per_kwh=180.0,
                    intensity_zone="GB", intensity_source="neso", intensity_year=2026,
                    intensity_kind="average", intensity_live=False,
                    components=(ComponentEnergy("cpu", "rapl:package-0", "measured", 1000.0),),
                    gaps=(), work=())
    store.export([info, record, summarize(info, [record], exit_code=0, duration_s=duration_s)])


def test_the_duration_comes_from_the_last_finished_runs(replay, fake_time, tmp_path,
                                                        capfd) -> None:
    store = Store(load_config().store_path)
    hours = [9.0, 2.0, 3.0, 2.5, 3.5, 3.0]  # oldest first; the last five give a median of 3 h
    for i, h in enumerate(hours):
        add_finished_run(store, f"run{i:04d}" + "0" * 24,
                         started_s=NOW.timestamp() - 86400 * (10 - i),
                         duration_s=h * 3600)
    add_finished_run(store, "other" + "0" * 27, started_s=NOW.timestamp() - 3600,
                     duration_s=60.0, experiment="bert")
    store.close()
    replay.add(NESO_FW48H, ok(FULL))
    code, tags = run(tmp_path, "--zone", "GB", "--project", "vision", "--experiment", "resnet",
                     "--start-when-clean", "--deadline", "24h")
    assert code == 0 and tags is not None
    assert tags["start_when_clean.duration_s"] == "10800"
    assert tags["start_when_clean.duration_from"] == (
        "the median of the last 5 finished runs of vision/resnet: run00050, run00040, run00030, "
        "run00020, run00010")
    assert tags["start_when_clean.start"] == "2026-01-02T04:00:00Z"
    err = capfd.readouterr().err
    assert "expected duration 3h00m (the median of the last 5" in err
    # the same runs' median energy (1000 J each) priced at the window's saving in g/kWh
    saving = float(tags["start_when_clean.now_g_per_kwh"]) - float(
        tags["start_when_clean.mean_g_per_kwh"])
    assert float(tags["start_when_clean.saving_g"]) == pytest.approx(saving * 1000 / 3.6e6,
                                                                     rel=2e-3)
    assert "wattprint: start when clean: about 35.0 mg CO2e less for the 0.000278 kWh those " \
           "runs used (median, before PUE)" in err


def test_usage_errors(replay, fake_time, tmp_path, capfd) -> None:
    assert main(["run", "--deadline", "12h", "--", *CHILD]) == 2
    assert "--deadline go with --start-when-clean" in capfd.readouterr().err
    assert main(["run", "--start-when-clean", "--", *CHILD]) == 2
    assert "--start-when-clean needs --deadline" in capfd.readouterr().err
    assert main(["run", "--zone", "GB", "--start-when-clean", "--deadline", "12h", "--",
                 *CHILD]) == 2
    err = capfd.readouterr().err
    assert "give --duration (e.g. 3h); there are no finished runs of default/default" in err
    assert replay.requests == []


def test_a_marginal_forecast_says_so(replay, fake_time, monkeypatch, tmp_path, capfd) -> None:
    watttime_forecast(monkeypatch, replay)
    code, tags = run(tmp_path, "--country", "US", "--subdivision", "CA", "--start-when-clean",
                     "--deadline", "1h", "--duration", "15m")
    assert code == 0 and tags is not None
    moer = [v["value"] * 0.45359237 for v in recording("watttime/forecast_CAISO_NORTH.json")
            ["data"]]
    assert tags["start_when_clean.start"] == "2026-01-01T10:45:00Z"  # 845.5, 840, 838 lbs/MWh
    mean = sum(moer[5:8]) / 3
    assert float(tags["start_when_clean.mean_g_per_kwh"]) == pytest.approx(mean, abs=0.05)
    assert tags["start_when_clean.kind"] == "marginal"
    assert sum(fake_time.sleeps) == 25 * 60
    assert f"forecast marginal mean {mean:.0f} g/kWh" in capfd.readouterr().err


@pytest.fixture
def cache_on_fake_time(monkeypatch: pytest.MonkeyPatch, replay: Replay,
                       fake_time: FakeTime) -> None:
    """The providers' disk cache ages on the fake clock, so an hour's wait makes the cached
    forecast stale and the next plan asks the provider again."""
    wired = functools.partial(_http.HttpOptions.func, transport=replay.transport,
                              sleep=lambda _s: None, jitter=lambda: 0.0,
                              wall_clock=fake_time.clock)
    monkeypatch.setattr(_http, "HttpOptions", wired)


def test_a_fresher_forecast_moves_the_start(replay, fake_time, cache_on_fake_time, tmp_path,
                                            capfd) -> None:
    changed = recording(FULL)
    for item in changed["data"][20:26]:  # 20:00-23:00 UTC on the 1st becomes the cleanest
        item["intensity"]["forecast"] = 30
    replay.add(NESO_FW48H, ok(FULL), Reply(200, changed))
    code, tags = run(tmp_path, "--zone", "GB", "--start-when-clean", "--deadline", "24h",
                     "--duration", "3h")
    assert code == 0 and tags is not None
    assert replay.count(NESO_FW48H) >= 2  # asked again after an hour's wait
    assert (tags["start_when_clean.first_start"], tags["start_when_clean.start"]) == (
        "2026-01-02T04:00:00Z", "2026-01-01T20:00:00Z")
    assert tags["start_when_clean.started"] == "2026-01-01T20:00:00Z"
    assert sum(fake_time.sleeps) == 9 * 3600 + 40 * 60
    assert tags["start_when_clean.mean_g_per_kwh"] == "30.0"
    # against the first forecast's figure for starting at once (176.7 g/kWh)
    assert tags["start_when_clean.saving_pct"] == f"{100 * (176.7222 - 30) / 176.7222:.1f}"
    assert tags["start_when_clean.reason"].startswith("replanned on a fresher forecast: ")
    err = capfd.readouterr().err
    changes = [line for line in err.splitlines() if "the forecast changed" in line]
    assert len(changes) == 1
    assert changes[0].startswith("wattprint: start when clean: the forecast changed: waiting "
                                 "8h40m to start at ")


def test_a_failed_refresh_keeps_the_plan_and_says_so_once(replay, fake_time, cache_on_fake_time,
                                                          tmp_path, capfd) -> None:
    replay.add(NESO_FW48H, ok(FULL), Reply(503, {"error": {"code": 503}}))
    code, tags = run(tmp_path, "--zone", "GB", "--start-when-clean", "--deadline", "24h",
                     "--duration", "3h")
    assert code == 0 and tags is not None
    assert tags["start_when_clean.start"] == tags["start_when_clean.started"] == \
        "2026-01-02T04:00:00Z"
    assert "start_when_clean.first_start" not in tags
    assert sum(fake_time.sleeps) == 17 * 3600 + 40 * 60
    err = capfd.readouterr().err
    assert err.count("the forecast could not be refreshed; keeping the plan") == 1
