"""`wattprint intensity | regions | rescore` and `run` on a cloud region, as real subprocesses.

The autouse ``isolated_env`` fixture points ``WATTPRINT_HOME`` at a temporary directory and
clears every ``WATTPRINT_*`` variable; the child processes inherit that environment. Nothing
here reaches the network: every location is explicit (or cloud metadata is turned off).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from wattprint.intensity.tables import gcp_region_intensity, zones
from wattprint.report import format_mass

pytestmark = pytest.mark.slow


def wattprint(*args: str, timeout: float = 60,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True,
                          text=True, timeout=timeout,
                          env={**os.environ, **env} if env is not None else None)


# -- intensity ----------------------------------------------------------------------------
def test_intensity_for_an_aws_region_is_the_states_egrid_figure_made_comparable() -> None:
    done = wattprint("intensity", "--cloud", "aws", "--cloud-region", "us-east-1", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    row = zones()["US-VA"]  # eGRID2023, direct (combustion only) emissions
    assert data["zone"] == "US-VA"
    # A run records the lifecycle-comparable figure by default, and says how it was converted.
    assert data["g_per_kwh"] == row.comparable_g_per_kwh == data["comparable_g_per_kwh"]
    assert data["source"] == f"{row.source} [lifecycle-comparable: {row.comparable_method}]"
    assert data["source"].startswith("US EPA eGRID2023")
    assert (data["scope"], data["gases"], data["year"]) == ("lifecycle", "CO2e", 2023)
    assert data["published"] == {"g_per_kwh": row.g_per_kwh, "basis": row.basis,
                                 "scope": "direct", "gases": "CO2e"}
    assert (data["intensity_figure"], data["figure_from"], data["stale"]) == (
        "lifecycle", "zone US-VA", False)
    assert (data["kind"], data["live"], data["note"]) == ("average", False, None)
    location = data["location"]
    assert (location["cloud"], location["cloud_region"]) == ("aws", "us-east-1")
    assert (location["country"], location["subdivision"], location["zone"]) == ("US", "VA",
                                                                                "US-VA")
    assert (location["lat"], location["lon"]) == (39.04, -77.49)
    assert location["resolved_by"] == "config"
    assert location["detail"] == "cloud_region from argument"


def test_intensity_for_a_country_and_its_text_form() -> None:
    done = wattprint("intensity", "--country", "FR", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["zone"], data["g_per_kwh"], data["year"]) == ("FR", 41.44, 2025)
    assert (data["scope"], data["basis"]) == ("lifecycle", "generation")
    assert data["location"]["country"] == "FR"
    assert data["location"]["detail"] == "country from argument"
    text = wattprint("intensity", "--country", "France")
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("41.4 gCO2e/kWh for FR (average, lifecycle, CO2e, generation")
    assert "resolved by config" in text.stdout
    assert "WARNING" not in text.stdout


def test_intensity_with_a_typo_region_exits_2_with_the_suggestion() -> None:
    done = wattprint("intensity", "--cloud", "gcp", "--cloud-region", "europe-westt9", "--json")
    assert done.returncode == 2
    assert done.stdout == ""
    assert "unknown gcp region 'europe-westt9'; did you mean europe-west9 (Paris)" in done.stderr


def test_intensity_with_only_a_cloud_exits_2() -> None:
    done = wattprint("intensity", "--cloud", "gcp")
    assert done.returncode == 2
    assert "give both `cloud` and `cloud_region`" in done.stderr


def test_intensity_with_nothing_known_says_it_is_the_world_average() -> None:
    done = wattprint("intensity", env={"TZ": "Etc/UTC", "WATTPRINT_CLOUD_METADATA": "false"})
    assert done.returncode == 0, done.stderr
    assert "for WORLD" in done.stdout
    assert "resolved by default" in done.stdout
    assert "OS time zone Etc/UTC names no country" in done.stdout
    assert "WARNING   location unknown" in done.stdout


# -- regions ------------------------------------------------------------------------------
def test_regions_of_one_cloud_list_their_figure_ranked() -> None:
    done = wattprint("regions", "--cloud", "gcp", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {r["cloud"] for r in rows} == {"gcp"}
    assert len(rows) == 44  # cloud_regions("gcp")
    paris = next(r for r in rows if r["region"] == "europe-west9")
    google = gcp_region_intensity("europe-west9")
    assert {k: paris[k] for k in ("name", "country", "subdivision", "continent", "zone",
                                  "figure_from", "g_per_kwh", "year", "source")} == {
        "name": "Paris", "country": "FR", "subdivision": None, "continent": "europe",
        "zone": "FR", "figure_from": "gcp europe-west9",
        "g_per_kwh": google.comparable_g_per_kwh, "year": google.year,
        "source": f"{google.source} for europe-west9",
    }
    values = [r["comparable_g_per_kwh"] for r in rows]
    assert values == sorted(values) and [r["rank"] for r in rows] == list(range(1, 45))


def test_regions_with_an_unknown_cloud_exits_2() -> None:
    done = wattprint("regions", "--cloud", "amazn")
    assert done.returncode == 2
    assert "unknown cloud 'amazn'" in done.stderr


# -- rescore ------------------------------------------------------------------------------
def test_rescore_with_the_bundled_provider_exits_2_with_guidance() -> None:
    for args in (("rescore", "abcd1234", "--provider", "bundled"), ("rescore", "abcd1234")):
        done = wattprint(*args)
        assert done.returncode == 2, args
        assert "choose a live provider with --provider (electricitymaps, watttime or neso)" \
            in done.stderr


def test_rescore_with_an_unknown_provider_exits_2_naming_the_setting() -> None:
    done = wattprint("rescore", "abcd1234", "--provider", "carbonfairy")
    assert done.returncode == 2
    assert "provider" in done.stderr and "carbonfairy" in done.stderr


def test_rescore_with_no_store_yet_exits_1() -> None:
    done = wattprint("rescore", "abcd1234", "--provider", "neso")
    assert done.returncode == 1
    assert "no runs yet" in done.stderr


# -- run on a cloud region ----------------------------------------------------------------
def test_run_on_a_cloud_region_uses_its_pue_and_reports_embodied(tmp_path) -> None:
    out = tmp_path / "summary.json"
    done = wattprint("run", "--cloud", "gcp", "--cloud-region", "europe-west9", "--interval",
                     "0.2", "--json-summary", str(out), "--quiet", "--", sys.executable, "-c",
                     "import time; t = time.time()\nwhile time.time() - t < 0.4: pass")
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    location = summary["location"]
    assert (location["cloud"], location["cloud_region"]) == ("gcp", "europe-west9")
    assert (location["country"], location["zone"], location["resolved_by"]) == (
        "FR", "FR", "config")
    # Google's fleet PUE 1.12 (cloud_pue.csv, 2023): no europe-west9 row of its own
    assert summary["pue"] == 1.12
    assert summary["pue_source"].startswith("Green Algorithms defaults_PUE.csv")
    # Google's own europe-west9 figure, made lifecycle-comparable (the default figure)
    google = gcp_region_intensity("europe-west9").comparable_g_per_kwh
    assert summary["intensity"]["zone"] == "FR"
    assert summary["intensity"]["source"].startswith("Google Cloud region-carbon-info")
    assert summary["intensity"]["g_per_kwh"] == pytest.approx(google)
    expected = summary["energy_j"]["total"] * 1.12 * google / 3_600_000
    assert summary["emissions_g"] == pytest.approx(expected)
    # embodied: the server's share plus one card per GPU over 4-year lives (35064 h), for the
    # run's duration; beside emissions_g, not in it
    embodied = summary["embodied"]
    hours = summary["duration_s"] / 3600
    assert embodied["server_g"] == pytest.approx(
        1_719_110 * embodied["cpu_share"] * hours / 35_064)
    assert embodied["gpu_g"] == pytest.approx(150_000 * embodied["gpus"] * hours / 35_064)
    assert summary["embodied_g"] == pytest.approx(embodied["server_g"] + embodied["gpu_g"])
    assert summary["embodied_g"] > 0
    assert summary["water_l"] is None  # Google publishes no WUE in the bundled table
    assert summary["market_based"] is None


def test_show_lists_a_stored_rescore_beside_the_run(tmp_path) -> None:
    out = tmp_path / "summary.json"
    done = wattprint("run", "--country", "GB", "--quiet", "--json-summary", str(out), "--",
                     sys.executable, "-c", "pass")
    assert done.returncode == 0, done.stderr
    run_id = json.loads(out.read_text())["run_id"]

    from wattprint.config import load_config
    from wattprint.store import Store

    store = Store(load_config().store_path)
    store.add_rescore(run_id, "neso", created_s=1_767_225_600.0, emissions_g=1.25,
                      intensity_g_per_kwh=150.0, kind="average", detail_json="{}")
    store.close()
    shown = wattprint("show", run_id[:8], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["rescores"] == [
        {"provider": "neso", "created_s": 1_767_225_600.0, "emissions_g": 1.25,
         "intensity_g_per_kwh": 150.0, "kind": "average"}]
    text = wattprint("show", run_id[:8]).stdout
    # emissions are computed (energy x PUE x intensity), never "measured": the stored figure is
    # the original, the rescore sits beside it
    assert "measured" not in text.split("  emissions of this run")[1]
    original = json.loads(out.read_text())
    lines = text.splitlines()
    assert "  emissions of this run, original and rescored (energy x PUE x intensity):" in lines
    assert (f"    original   {format_mass(original['emissions_g'])} CO2e at "
            f"{original['intensity']['g_per_kwh']:.0f} gCO2e/kWh "
            f"({original['intensity']['source']}, average)") in lines
    assert "    rescored   1.25 g CO2e at 150 gCO2e/kWh (neso, average; rescored " \
        "2026-01-01 01:00)" in lines  # 1_767_225_600 is 2026-01-01T00:00Z; TZ=Europe/Paris
