"""``wattprint report`` as a user runs it: the store under WATTPRINT_HOME (set per test by
tests/conftest.py), stdout for the report, stderr for people, exit codes 0/1/2."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import reportkit

from wattprint import __version__
from wattprint.cli import main


def _store() -> Path:
    path = Path(os.environ["WATTPRINT_HOME"]) / "wattprint.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    reportkit.store_run(path)
    return path


def _run(capsys: Any, *argv: str) -> tuple[int, str, str]:
    code = main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_offers_every_format_the_report_has() -> None:
    from wattprint.advice import report
    from wattprint.cli import report as command

    assert command.FORMATS == report.FORMATS


def test_markdown_on_stdout_by_default(capsys: Any) -> None:
    store = _store()
    code, out, err = _run(capsys, reportkit.RUN_ID[:6])
    assert code == 0 and err == ""
    assert out.startswith("# Energy and emissions of run 3f9c2a1b (bert-finetune/lr\\_3e-5)")
    assert f"wattprint report {reportkit.RUN_ID} --format md" in out
    assert f"wattprint {__version__}, store {store}" in out.replace("\\_", "_")


def test_json_is_the_model_and_json_flag_is_its_shorthand(capsys: Any) -> None:
    _store()
    code, out, _ = _run(capsys, reportkit.RUN_ID, "--json")
    code2, out2, _ = _run(capsys, reportkit.RUN_ID, "--format", "json")
    assert code == code2 == 0 and out == out2
    data = json.loads(out)
    assert data["energy"]["total"] == {"value": reportkit.expected_totals()["total_j"],
                                       "unit": "J"}
    assert data["reproduce"]["command"] == f"wattprint report {reportkit.RUN_ID} --format json"


def test_output_file_gets_the_report_and_stdout_stays_empty(capsys: Any, tmp_path: Path) -> None:
    _store()
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "report.html"
    code, out, err = _run(capsys, reportkit.RUN_ID, "--format", "html", "--output", str(target))
    assert code == 0 and out == ""
    assert f"wrote the html report of run 3f9c2a1b to {target}" in err
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in folder.iterdir()] == ["report.html"]  # no temporary file left


def test_latex_fragment_and_its_reproduction_command(capsys: Any) -> None:
    _store()
    code, out, _ = _run(capsys, reportkit.RUN_ID, "--format", "latex", "--fragment")
    assert code == 0 and out.startswith("% wattprint report: paste into a document")
    assert "\\begin{table}" in out and "\\documentclass" not in out


def test_all_equivalents_and_a_chosen_few(capsys: Any) -> None:
    _store()
    code, out, _ = _run(capsys, reportkit.RUN_ID, "--json", "--equivalents", "all")
    keys = [e["key"] for e in json.loads(out)["equivalents"]]
    assert code == 0 and keys[:2] == ["car_eu_km", "video_streaming_hour"] and len(keys) == 8
    assert "smartphone_charge" in keys and "flight_economy_km" in keys
    code, out, _ = _run(capsys, reportkit.RUN_ID, "--json", "--equivalents",
                        "smartphone_charge,tree_month")
    data = json.loads(out)
    assert [e["key"] for e in data["equivalents"]] == ["smartphone_charge", "tree_month"]
    assert data["reproduce"]["command"].endswith(
        "--format json --equivalents smartphone_charge,tree_month")


def test_a_job_with_job(capsys: Any) -> None:
    reportkit.store_job(Path(os.environ["WATTPRINT_HOME"]) / "wattprint.db")
    code, out, _ = _run(capsys, reportkit.JOB_ID, "--job", "--json")
    data = json.loads(out)
    assert code == 0 and data["run"]["job"]["ranks"] == 2
    assert data["energy"]["total"]["value"] == 2 * reportkit.expected_totals()["total_j"]
    code, out, err = _run(capsys, "slurm-0", "--job")
    assert code == 1 and out == "" and "no runs of job 'slurm-0'" in err


def test_unknown_run_is_exit_1_naming_the_store(capsys: Any) -> None:
    _store()
    code, out, err = _run(capsys, "ffff")
    assert code == 1 and out == ""
    assert "no run matches 'ffff'" in err and "wattprint runs" in err


def test_unknown_run_in_an_empty_home_is_exit_1(capsys: Any) -> None:
    code, out, err = _run(capsys, "abc")
    assert code == 1 and out == "" and "no run matches 'abc'" in err


@pytest.mark.parametrize("argv,message", [
    (["--format", "pdf"], "invalid choice: 'pdf'"),
    (["--fragment"], "--fragment is a LaTeX table: use it with --format latex"),
    (["--json", "--format", "md"], "--json and --format md disagree"),
    (["--equivalents", "car_eu_km,horses"], "unknown equivalent horses: use 'all' or some of"),
    (["--equivalents", ","], "unknown equivalent ','"),
])
def test_bad_flags_are_exit_2_saying_what_to_do(capsys: Any, argv: list[str],
                                                message: str) -> None:
    _store()
    try:
        code, out, err = _run(capsys, reportkit.RUN_ID, *argv)
    except SystemExit as exc:  # argparse's own refusals
        code, (out, err) = int(str(exc.code)), capsys.readouterr()
    assert code == 2 and out == "" and message in err


def test_unwritable_output_is_exit_1_and_leaves_files_alone(capsys: Any, tmp_path: Path) -> None:
    _store()
    folder = tmp_path / "out"
    folder.mkdir()
    blocker = folder / "not-a-folder"
    blocker.write_text("keep me", encoding="utf-8")
    for target in (folder / "missing" / "r.md", blocker / "r.md", folder):
        code, out, err = _run(capsys, reportkit.RUN_ID, "--output", str(target))
        assert code == 1 and out == ""
        assert f"wattprint report: cannot write {target}" in err
        assert "choose a writable path, or leave out --output" in err
    assert blocker.read_text(encoding="utf-8") == "keep me"
    assert sorted(p.name for p in folder.iterdir()) == ["not-a-folder"]


def test_a_run_measured_by_the_tracker_reports_its_own_totals(capsys: Any) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))
    import dashkit

    summary = dashkit.finished_run(gpu_w=250.0, records=3, step_s=60.0)
    code, out, _ = _run(capsys, summary.run_id, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["energy"]["total"]["value"] == summary.energy_j["total"]
    assert data["emissions"]["operational"]["value"] == summary.emissions_g
    assert data["emissions"]["embodied"]["value"] == summary.embodied_g
    assert data["pue"]["source"] == summary.pue_source
    assert data["uncertainty"]["pue_one_sided"] is True  # the default PUE 1.0
    assert [h["component"] for h in data["hardware"]] == ["gpu", "cpu", "ram"]
