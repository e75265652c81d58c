"""`wattprint advise`, in-process against a real store in the temporary WATTPRINT_HOME: --json
values, the text a person reads, and the errors (exit 2 bad usage, 1 not found)."""

from __future__ import annotations

import json

import pytest
from advicekit import IE_G_PER_KWH, cpu_run, store_run

from wattprint.cli import main


def advise_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["advise", *argv, "--json"]) == 0
    data: dict = json.loads(capsys.readouterr().out)
    return data


def test_energy_kwh_ranks_one_clouds_regions_with_figures_and_savings_near(capsys):
    data = advise_json(capsys, "--energy-kwh", "10", "--cloud", "gcp", "--near", "europe-west1")
    where = data["where"]
    assert data["run_id"] is None and "waste" not in data
    assert where["energy_kwh"] == pytest.approx(10.0)
    assert where["reference"]["label"] == "gcp europe-west1"
    # gcp europe-west1: Google 2024 comparable 151.34 g/kWh x its own PUE 1.08
    assert where["reference"]["emissions_g"] == pytest.approx(10 * 151.34 * 1.08)
    rows = where["regions"]
    assert {r["cloud"] for r in rows} == {"gcp"}
    assert {r["continent"] for r in rows} == {"europe"}
    assert [r["emissions_g"] for r in rows] == sorted(r["emissions_g"] for r in rows)
    first = rows[0]
    for key in ("comparable_g_per_kwh", "year", "source", "published", "pue", "cfe_share",
                "saving_g", "saving_pct"):
        assert first[key] is not None, key
    assert first["saving_g"] == pytest.approx(where["reference"]["emissions_g"]
                                              - first["emissions_g"])


def test_text_output_names_the_basis_the_reference_and_the_caveats_once(capsys):
    assert main(["advise", "--energy-kwh", "10", "--cloud", "gcp", "--near", "europe-west1",
                 "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "10.000 kWh of IT energy" in out
    assert "Basis: lifecycle-comparable gCO2e/kWh" in out
    assert "Savings against gcp europe-west1 (the --near region): 1.634 kg CO2e" in out
    assert out.count("Caveats: latency") == 1 and "data residency" in out and "price" in out
    lines = [line for line in out.splitlines() if line[:4].strip().isdigit()]
    assert [line.split()[2] for line in lines] == ["europe-north2", "europe-west9",
                                                   "europe-west6"]
    assert "... 10 more" in out


def test_a_stored_run_is_compared_with_where_it_ran(capsys):
    run, records = cpu_run("abcd1234", n=10, cpu_j=36_000.0)  # 0.1 kWh, aws eu-west-1
    store_run(run, records)
    data = advise_json(capsys, "abcd", "--cloud", "aws")
    assert data["run_id"] == "abcd1234"
    ref = data["where"]["reference"]
    assert (ref["label"], ref["kind"]) == ("aws eu-west-1", "run")
    assert ref["emissions_g"] == pytest.approx(0.1 * 1.2 * IE_G_PER_KWH)
    assert ref["recorded_g"] == pytest.approx(0.1 * 1.2 * IE_G_PER_KWH)
    regions = {r["region"]: r for r in data["where"]["regions"]}
    assert regions["eu-north-1"]["saving_g"] == pytest.approx(0.1 * 1.2 * (256.54 - 39.47))


@pytest.mark.parametrize(("argv", "message"), [
    ([], "give a RUN_ID"),
    (["abc", "--energy-kwh", "1"], "not both"),
    (["--energy-kwh", "1", "--within-km", "100"], "--within-km needs --near"),
    (["--energy-kwh", "1", "--cloud", "ibm"], "Known clouds: aws, azure, gcp"),
    (["--energy-kwh", "1", "--near", "atlantis"], "CLOUD/REGION"),
])
def test_bad_usage_exits_2_naming_the_choices(capsys, argv, message):
    assert main(["advise", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_bad_numbers_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["advise", "--energy-kwh", "-1"])
    assert stop.value.code == 2
    assert "above 0" in capsys.readouterr().err


def test_an_unknown_run_exits_1(capsys):
    store_run(*cpu_run("abcd1234"))
    assert main(["advise", "zzzz"]) == 1
    assert "no run matches 'zzzz'" in capsys.readouterr().err


def test_a_stored_runs_waste_is_in_the_json_and_the_text(capsys):
    from advicekit import training_run

    store_run(*training_run("gpu00001"))
    data = advise_json(capsys, "gpu0")
    waste = data["waste"]
    kinds = {(f["kind"], f["device"]): f for f in waste["findings"]}
    idle = kinds[("idle_accelerator", "nvml:0")]
    assert (idle["seconds"], idle["share_of_time"], idle["energy_wh"]) == (100.0, 0.5,
                                                                          5000 / 3600)
    assert idle["threshold_w"] == pytest.approx(80.0) and idle["inferred_from"] == "power"
    assert kinds[("gpu_waiting_on_cpu", "nvml:0")]["energy_j"] == 1200.0
    assert kinds[("other_processes", "cpu:model")]["energy_j"] == 4500.0
    assert waste["saving_wh"] == pytest.approx(10700 / 3600)
    assert main(["advise", "gpu0"]) == 0
    out = capsys.readouterr().out
    assert "What was wasted (3m20s, 9.64 Wh of IT energy):" in out
    assert ("accelerator allocated but idle: nvml:0, 1m40s (50% of the run), 1.39 Wh, 17% of "
            "its energy (inferred from power)") in out
    assert "GPU waiting on the CPU: nvml:0, 20.0 s (10% of the run), 333.3 mWh" in out
    assert "machine energy other processes used: cpu:model" in out
    assert "idle at <= 80 W: 20% of its power limit 400 W (device info)" in out
    assert "total saving at most 2.97 Wh" in out


def test_energy_alone_has_no_waste_section(capsys):
    assert main(["advise", "--energy-kwh", "1"]) == 0
    assert "What was wasted" not in capsys.readouterr().out
