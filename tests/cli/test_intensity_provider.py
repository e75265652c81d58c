"""`wattprint intensity` asks the configured live provider, through the same factory and
background poller the tracker uses, and labels the bundled value when it stands in.

The provider's HTTP goes to hand-written recordings (tests/fakes/http_recordings) through an
injected ``httpx.MockTransport``: the tracker's own ``_make_provider`` builds the provider from
the settings, with the transport slipped into its ``HttpOptions``. No network, no real backoff.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from fakes.http_recordings.replay import Replay, Reply, ok, recording, wired_replay
from wattprint.cli import main
from wattprint.intensity import Location
from wattprint.intensity.bundled import BundledSource

pytest.importorskip("httpx")

LATEST = "/v3/carbon-intensity/latest"
KEY = "test-token"


@pytest.fixture
def replay(monkeypatch) -> Replay:
    replay = wired_replay(monkeypatch)
    return replay


@pytest.fixture
def electricitymaps_in_env(monkeypatch) -> None:
    monkeypatch.setenv("WATTPRINT_PROVIDER", "electricitymaps")
    monkeypatch.setenv("WATTPRINT_ELECTRICITYMAPS_API_KEY", KEY)


def bundled_de() -> float:
    now = datetime.now(timezone.utc)
    return BundledSource().lookup(Location("DE", None, resolved_by="config"), now, now).g_per_kwh


def test_the_configured_provider_answers_off_the_callers_thread(
        replay, electricitymaps_in_env, capsys):
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    assert main(["intensity", "--country", "DE", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert recording("electricitymaps/latest_DE.json")["carbonIntensity"] == 412
    assert (found["g_per_kwh"], found["zone"], found["source"]) == (412.0, "DE", "electricitymaps")
    assert (found["live"], found["fallback"], found["provider"]) == (True, False,
                                                                    "electricitymaps")
    assert (found["kind"], found["basis"], found["note"]) == ("average", "consumption", None)
    latest = [r for r in replay.requests if r.url.path == LATEST]
    assert latest[0].headers["auth-token"] == KEY
    assert dict(latest[0].url.params)["zone"] == "DE"
    # polled by the provider's background thread, as during a run
    assert all(name.startswith("wattprint-intensity") for name in replay.threads)

    assert main(["intensity", "--country", "DE"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0] == "412.0 gCO2e/kWh for DE (average, lifecycle, CO2e, consumption basis)"
    assert text[1] == "  source    electricitymaps, 2026 (live)"
    assert text[2] == "  provider  electricitymaps (from environment WATTPRINT_PROVIDER)"


def test_a_failing_provider_shows_the_bundled_value_labelled_as_its_fallback(
        replay, electricitymaps_in_env, capsys):
    replay.add(LATEST, Reply(401, recording("electricitymaps/error_401.json")))
    assert main(["intensity", "--country", "DE", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["g_per_kwh"] == bundled_de()
    assert (found["live"], found["fallback"], found["provider"]) == (False, True,
                                                                    "electricitymaps")
    assert found["note"].startswith("electricitymaps unavailable: ")
    assert "401" in found["note"] and found["note"].endswith("; bundled value used")

    assert main(["intensity", "--country", "DE"]) == 0
    text = capsys.readouterr().out
    assert "(bundled fallback)" in text and "note      electricitymaps unavailable" in text


def test_a_provider_set_in_a_config_file_is_used_too(replay, capsys, isolated_env):
    (isolated_env / "work" / "wattprint.toml").write_text(
        f'provider = "electricitymaps"\nelectricitymaps_api_key = "{KEY}"\n')
    replay.add(LATEST, ok("electricitymaps/latest_DE.json"))
    assert main(["intensity", "--country", "DE", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["g_per_kwh"] == 412.0


def test_provider_flag_overrides_the_setting(replay, electricitymaps_in_env, capsys):
    assert main(["intensity", "--country", "DE", "--provider", "bundled", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["provider"], found["live"], found["fallback"]) == ("bundled", False, False)
    assert found["g_per_kwh"] == bundled_de()
    assert replay.requests == []


def test_a_marginal_provider_without_a_value_is_not_replaced_by_an_average(
        replay, monkeypatch, capsys):
    monkeypatch.setenv("WATTPRINT_PROVIDER", "watttime")
    monkeypatch.setenv("WATTPRINT_WATTTIME_USERNAME", "someone")
    monkeypatch.setenv("WATTPRINT_WATTTIME_PASSWORD", "secret")
    replay.add("/login", Reply(403, recording("watttime/forbidden_403.json")))
    assert main(["intensity", "--country", "US", "--subdivision", "CA", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "watttime unavailable" in captured.err
    assert "is average, not marginal, so it is not used in its place" in captured.err
    assert "a run would record these intervals as gaps" in captured.err
