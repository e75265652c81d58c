"""`--json` on the commands that measure, `monitor --pid`, and `doctor`'s exit status and flags,
as real processes (TZ=Europe/Paris and a fresh WATTPRINT_HOME from the autouse fixture)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from wattprint.wire import schema

pytestmark = pytest.mark.slow
jsonschema = pytest.importorskip("jsonschema")


def wattprint(*args: str, env: dict[str, str] | None = None,
              timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True,
                          text=True, timeout=timeout,
                          env={**os.environ, **env} if env is not None else None)


# -- run --json ---------------------------------------------------------------------------
def test_run_json_puts_one_summary_object_on_stderr_and_leaves_stdout_to_the_command():
    done = wattprint("run", "--country", "FR", "--json", "--", sys.executable, "-c",
                     "import sys; print('child out'); print('child err', file=sys.stderr); "
                     "sys.exit(4)")
    assert done.returncode == 4
    assert done.stdout == "child out\n"
    lines = done.stderr.splitlines()
    assert lines[0] == "child err"
    summary = json.loads(lines[-1])  # one line, the last: `2>&1 >/dev/null | tail -1`
    assert (summary["exit_code"], summary["status"]) == (4, "failed")
    assert summary["intensity"]["zone"] == "FR"
    stored = json.loads(wattprint("show", summary["run_id"], "--json").stdout)
    assert stored["emissions_g"] == pytest.approx(summary["emissions_g"])


# -- monitor --json -----------------------------------------------------------------------
def test_monitor_json_streams_wire_objects_that_validate_one_per_line():
    done = wattprint("monitor", "--country", "FR", "--interval", "0.2", "--duration", "1.1",
                     "--json")
    assert done.returncode == 0, done.stderr
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    validator = jsonschema.Draft202012Validator(schema())
    for item in objects:
        validator.validate(item)
    types = [item["type"] for item in objects]
    assert types[0] == "run" and types[-1] == "summary"
    assert set(types[1:-1]) == {"record"} and len(types) - 2 >= 4  # ~5 ticks of 0.2 s
    seqs = [item["seq"] for item in objects if item["type"] == "record"]
    assert seqs == sorted(set(seqs))
    summary = objects[-1]
    assert summary["records"] == len(seqs) and summary["scope"] == "machine"
    assert summary["energy_j"]["total"] == pytest.approx(
        sum(item["energy_j"] for item in objects if item["type"] == "record"))
    # the text summary still goes to people, on stderr; the run is stored as usual
    assert "emissions" in done.stderr
    runs = json.loads(wattprint("runs", "--json").stdout)
    assert [r["run_id"] for r in runs] == [summary["run_id"]]


def test_monitor_pid_measures_that_process_tree_and_stops_when_it_exits():
    busy = subprocess.Popen([sys.executable, "-c",
                             "import time\nt = time.time()\nwhile time.time() - t < 1.5: pass"])
    started = time.monotonic()
    try:
        done = wattprint("monitor", "--country", "FR", "--interval", "0.2", "--pid",
                         str(busy.pid), "--duration", "30", "--json")
    finally:
        busy.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 20  # ended with the process, not at --duration
    objects = [json.loads(line) for line in done.stdout.splitlines()]
    run, summary = objects[0], objects[-1]
    assert run["scope"] == summary["scope"] == "process"
    assert run["host"]["pid"] == busy.pid
    assert summary["records"] >= 2
    assert f"monitoring process {busy.pid} and its children" in done.stderr


# -- doctor -------------------------------------------------------------------------------
def test_doctor_exit_status_follows_its_findings():
    clean = wattprint("doctor", "--country", "FR", "--json")
    report = json.loads(clean.stdout)
    assert report["problems"] == []
    assert clean.returncode == 0, report["problems"]
    # a guessed location is a warning: exit 0, unless --strict
    guessed = wattprint("doctor", env={"TZ": "UTC"})
    assert guessed.returncode == 0
    assert "WARNING: location unknown: using the WORLD average" in guessed.stdout
    assert re.fullmatch(r"0 problems, [1-9]\d* warnings?", guessed.stdout.splitlines()[-1])
    strict = wattprint("doctor", "--strict", env={"TZ": "UTC"})
    assert strict.returncode == 1
    # a store that cannot be created is a problem
    blocked = wattprint("doctor", "--country", "FR", env={"WATTPRINT_HOME": "/dev/null/x"})
    assert blocked.returncode == 1
    assert ("PROBLEM: store: cannot create the store in /dev/null/x: /dev/null is not a "
            "directory") in blocked.stdout
    assert "1 problem, " in blocked.stdout and "(exit status 1)" in blocked.stdout


def test_doctor_diagnoses_the_place_its_flags_name():
    done = wattprint("doctor", "--cloud", "gcp", "--cloud-region", "europe-west9", "--json")
    assert done.returncode == 0, done.stdout
    report = json.loads(done.stdout)
    assert (report["location"]["cloud"], report["location"]["cloud_region"]) == (
        "gcp", "europe-west9")
    assert report["intensity"]["zone"] == "FR"
    assert report["pue"]["pue"] == 1.12  # Google's fleet figure, as a run there would use
    settings = {s["key"]: s for s in report["config"]}
    assert (settings["cloud"]["value"], settings["cloud"]["source"]) == ("gcp", "argument")


def test_doctor_reports_a_live_provider_that_could_never_answer_as_a_problem():
    keyless = wattprint("doctor", "--country", "DE", env={"WATTPRINT_PROVIDER": "electricitymaps"})
    assert keyless.returncode == 1
    assert ("PROBLEM: provider: electricitymaps needs an API key: set "
            "`electricitymaps_api_key`") in keyless.stdout
    keyed = wattprint("doctor", "--country", "DE", "--json",
                      env={"WATTPRINT_PROVIDER": "electricitymaps",
                           "WATTPRINT_ELECTRICITYMAPS_API_KEY": "k"})
    report = json.loads(keyed.stdout)
    assert keyed.returncode == 0 and report["problems"] == []
    assert (report["provider"], report["provider_kind"]) == ("electricitymaps", "average")
    # choosing a live provider is no fallback: nothing about it among the warnings
    assert not any("electricitymaps" in w for w in report["warnings"])
    marginal = wattprint("doctor", "--country", "US", "--subdivision", "CA",
                         env={"WATTPRINT_PROVIDER": "watttime",
                              "WATTPRINT_WATTTIME_USERNAME": "u",
                              "WATTPRINT_WATTTIME_PASSWORD": "p"})
    assert marginal.returncode == 0
    assert ("live provider watttime: polled in the background during runs, with no fallback"
            in marginal.stdout)
