"""Flags that contradict each other are refused before anything runs (exit 2, one line saying
why and what to do), and a location given on the command line is the location used."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from wattprint.cli import main


def refused(capsys, *argv: str) -> str:
    """Run ``wattprint argv`` in-process; assert exit 2 with nothing on stdout; the message."""
    try:
        code = main(list(argv))
    except SystemExit as stopped:  # argparse's own refusals
        code = int(stopped.code or 0)
    captured = capsys.readouterr()
    assert code == 2, (argv, captured.err)
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize("argv, message", [
    (("run", "--json", "--quiet", "--", "true"),
     "wattprint run: error: --json prints the summary and --quiet prints none: give one"),
    (("monitor", "--scope", "process"),
     "scope is 'process' (from argument) but monitor has no process to follow: give --pid PID,"
     " or --scope machine"),
    (("monitor", "--pid", "1", "--scope", "machine"),
     "--pid measures one process tree and --scope machine the whole machine: give one"),
    (("monitor", "--duration", "0"), "'0': give a number of seconds above 0"),
    (("monitor", "--pid", "-5"), "'-5': give a number of a process id above 0"),
    (("intensity", "--zone", "FR", "--country", "DE"),
     "--zone and --country both say where the machine is; give one"),
    (("run", "--cloud", "gcp", "--cloud-region", "europe-west9", "--country", "FR", "--", "true"),
     "--cloud/--cloud-region and --country both say where the machine is"),
    (("doctor", "--zone", "US-CA", "--subdivision", "CA"),
     "--subdivision goes with --country, not with --zone"),
    (("doctor", "--pue", "7"), "pue = 7.0 is not allowed; expected a number from 1.0 to 3.0"),
    (("doctor", "--country", "Frnace"), "did you mean France (FR)?"),
    (("runs", "--since", "1d", "--until", "2d"),
     "--since is not before --until: no run can match; swap them?"),
    (("stats", "--by", "day", "--since", "2026-02-01", "--until", "2026-01-01"),
     "--since is not before --until"),
    (("runs", "--limit", "0"), "'0': give a number of runs above 0"),
    (("setup-rapl", "--apply", "--json"),
     "--apply runs sudo, which may ask for a password at the terminal"),
])
def test_contradictions_are_refused_with_a_reason(capsys, argv, message):
    assert message in refused(capsys, *argv)


def test_json_summary_into_a_directory_is_refused_before_the_command_runs(capsys, tmp_path):
    marker = tmp_path / "ran"
    err = refused(capsys, "run", "--country", "FR", "--json-summary", str(tmp_path), "--",
                  sys.executable, "-c", f"open({str(marker)!r}, 'w')")
    assert f"--json-summary {tmp_path} is a directory; give a file path" in err
    assert not marker.exists()


def test_monitor_pid_of_a_process_that_is_gone_is_refused(capsys):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = gone.stdout.strip()
    assert f"--pid {pid}: no such process (it may have ended)" in refused(
        capsys, "monitor", "--country", "FR", "--pid", pid)


def test_a_location_flag_replaces_the_environments_whole_location(capsys, monkeypatch):
    # Without this, zone (more specific) would win over the --country the user just typed.
    monkeypatch.setenv("WATTPRINT_ZONE", "FR")
    monkeypatch.setenv("WATTPRINT_SUBDIVISION", "CA")
    assert main(["intensity", "--country", "DE", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["zone"], found["location"]["country"], found["location"]["subdivision"]) == (
        "DE", "DE", None)
    assert found["location"]["detail"] == "country from argument"
    monkeypatch.setenv("WATTPRINT_COUNTRY", "US")
    monkeypatch.delenv("WATTPRINT_ZONE")
    assert main(["intensity", "--subdivision", "CA", "--json"]) == 0  # the country stays
    found = json.loads(capsys.readouterr().out)
    assert (found["location"]["country"], found["location"]["subdivision"]) == ("US", "CA")
    monkeypatch.setenv("WATTPRINT_CLOUD", "gcp")
    monkeypatch.delenv("WATTPRINT_SUBDIVISION")
    assert main(["intensity", "--cloud-region", "europe-west9", "--json"]) == 0  # cloud stays
    found = json.loads(capsys.readouterr().out)
    assert (found["location"]["cloud"], found["zone"]) == ("gcp", "FR")


@pytest.mark.parametrize("command", ["show", "export", "rescore"])
def test_an_empty_run_id_is_refused_rather_than_matching_every_run(capsys, command):
    assert "give a run id or a unique prefix of it" in refused(capsys, command, " ")
