"""The `wattprint` command, run as a real subprocess against a temporary store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def wattprint(*args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def test_run_propagates_exit_code_and_writes_the_json_summary(tmp_path):
    out = tmp_path / "summary.json"
    done = wattprint("run", "--country", "FR", "--interval", "0.2", "--json-summary", str(out),
                     "--", sys.executable, "-c",
                     "import time,sys; t=time.time()\nwhile time.time()-t<0.6: pass\nsys.exit(3)")
    assert done.returncode == 3, done.stderr
    summary = json.loads(out.read_text())
    for key in ("run_id", "duration_s", "energy_j", "emissions_g", "components", "intensity",
                "location", "pue", "exit_code"):
        assert key in summary
    assert summary["exit_code"] == 3
    assert set(summary["energy_j"]) >= {"cpu", "gpu", "ram", "total"}
    assert summary["energy_j"]["total"] > 0
    assert summary["energy_j"]["total"] == pytest.approx(
        summary["energy_j"]["cpu"] + summary["energy_j"]["gpu"] + summary["energy_j"]["ram"]
        + summary["energy_j"]["other"])
    assert summary["intensity"]["zone"] == "FR"
    assert {"g_per_kwh", "zone", "source", "year"} <= set(summary["intensity"])
    assert summary["location"]["country"] == "FR"
    assert summary["location"]["resolved_by"] == "config"
    assert summary["pue"] == 1.0
    assert summary["duration_s"] >= 0.6
    components = {c["component"]: c for c in summary["components"]}
    assert components["cpu"]["method"] in {"measured", "modelled"}
    assert {"component", "device", "method", "energy_j"} <= set(components["cpu"])
    expected = summary["energy_j"]["total"] / 3.6e6 * summary["intensity"]["g_per_kwh"]
    assert summary["emissions_g"] == pytest.approx(expected)
    # the human summary goes to stderr, leaving stdout to the child
    assert "emissions" in done.stderr and "gCO2e/kWh" in done.stderr
    assert done.stdout == ""


def test_run_stores_the_run_and_show_and_runs_find_it(tmp_path):
    out = tmp_path / "s.json"
    done = wattprint("run", "--country", "DE", "--project", "cli-test", "--json-summary",
                     str(out), "--", sys.executable, "-c", "print('hello from child')")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello from child\n"
    run_id = json.loads(out.read_text())["run_id"]
    listing = wattprint("runs")
    assert listing.returncode == 0
    assert run_id[:8] in listing.stdout and "cli-test/default" in listing.stdout
    assert "finished" in listing.stdout
    shown = wattprint("show", run_id[:8], "--json")
    assert shown.returncode == 0, shown.stderr
    stored = json.loads(shown.stdout)
    assert stored["run_id"] == run_id and stored["exit_code"] == 0
    assert stored["intensity"]["zone"] == "DE"
    text = wattprint("show", run_id[:8])
    assert "cli-test/default" in text.stdout
    missing = wattprint("show", "doesnotexist")
    assert missing.returncode == 1 and "no run matches" in missing.stderr


def test_run_child_killed_by_signal_is_reported_the_same_way(tmp_path):
    done = wattprint("run", "--country", "FR", "--", sys.executable, "-c",
                     "import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert done.returncode == -signal.SIGTERM
    assert "exit code  143" in done.stderr


def test_sigterm_to_wattprint_is_forwarded_to_the_child(tmp_path):
    marker = tmp_path / "child-got-term"
    script = (
        "import signal, sys, time, pathlib\n"
        f"def h(*a): pathlib.Path({str(marker)!r}).write_text('x'); sys.exit(7)\n"
        "signal.signal(signal.SIGTERM, h)\n"
        "print('ready', flush=True)\n"
        "time.sleep(30)\n"
    )
    proc = subprocess.Popen([sys.executable, "-m", "wattprint", "run", "--country", "FR", "--",
                             sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 7, err
    assert marker.read_text() == "x"


def test_missing_command_and_unknown_program(tmp_path):
    assert wattprint("run").returncode == 2
    done = wattprint("run", "--country", "FR", "--", "definitely-not-a-program-xyz")
    assert done.returncode == 127 and "cannot start" in done.stderr


def test_bad_setting_fails_with_the_key_and_what_is_allowed():
    done = wattprint("run", "--pue", "7", "--", "true")
    assert done.returncode == 2
    assert "pue = 7.0 is not allowed" in done.stderr and "1.0 to 3.0" in done.stderr
    env = {**os.environ, "WATTPRINT_SCOPE": "galaxy"}
    done = wattprint("run", "--", "true", env=env)
    assert done.returncode == 2 and "WATTPRINT_SCOPE" in done.stderr
    bad_country = wattprint("run", "--country", "Frnace", "--", "true")
    assert bad_country.returncode == 2 and "FR" in bad_country.stderr


def test_doctor_explains_sensors_location_and_exits_zero():
    done = wattprint("doctor")
    assert done.returncode == 0, done.stderr
    assert "Sensors in use:" in done.stdout and "Sensors not available:" in done.stdout
    assert "Location: FR, resolved by timezone" in done.stdout  # TZ=Europe/Paris in tests
    as_json = json.loads(wattprint("doctor", "--json").stdout)
    assert as_json["location"]["country"] == "FR"
    assert as_json["intensity"]["zone"] == "FR"
    assert as_json["devices"], "the CPU is always covered, measured or modelled"


def test_doctor_diagnoses_a_broken_setting_as_a_problem_and_exits_one():
    env = {**os.environ, "WATTPRINT_PUE": "zero"}
    done = wattprint("doctor", env=env)
    assert done.returncode == 1
    assert "PROBLEM: config:" in done.stdout and "WATTPRINT_PUE" in done.stdout
    # the rest is still diagnosed, without the bad variable
    assert "Location: FR, resolved by timezone" in done.stdout


def test_doctor_flags_the_world_average_loudly():
    env = {**os.environ, "TZ": "UTC"}
    done = wattprint("doctor", env=env)
    assert done.returncode == 0
    assert "WARNING: location unknown: using the WORLD average" in done.stdout


def test_monitor_stores_a_machine_run(tmp_path):
    out = tmp_path / "m.json"
    done = wattprint("monitor", "--country", "FR", "--interval", "0.2", "--duration", "0.6",
                     "--json-summary", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    assert summary["scope"] == "machine" and summary["records"] >= 2


def test_sigkill_mid_run_leaves_every_flushed_interval_readable(tmp_path):
    home = Path(os.environ["WATTPRINT_HOME"])
    script = (
        "import time, wattprint\n"
        "t = wattprint.Tracker(country='FR', interval_s=0.1, store_flush_s=0.3,\n"
        "                      project='killed').start()\n"
        "print(t.run_id, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    run_id = proc.stdout.readline().strip()
    db = home / "wattprint.db"
    deadline = time.monotonic() + 20
    count = 0
    while time.monotonic() < deadline:
        if db.exists():
            try:
                count = sqlite3.connect(db).execute(
                    "SELECT count(*) FROM records WHERE run_id=?", (run_id,)).fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
            if count >= 3:
                break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    assert count >= 3
    shown = wattprint("show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    summary = json.loads(shown.stdout)
    assert summary["status"] == "interrupted"
    assert summary["records"] >= count
    assert summary["energy_j"]["total"] > 0
    assert "interrupted" in wattprint("runs").stdout


def test_atexit_finishes_a_run_that_was_never_stopped():
    script = (
        "import wattprint\n"
        "t = wattprint.Tracker(country='FR', interval_s=3600, project='atexit').start()\n"
        "print(t.run_id, flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    shown = json.loads(wattprint("show", done.stdout.strip(), "--json").stdout)
    assert shown["status"] == "finished" and shown["records"] == 1


def test_setup_rapl_prints_the_plan_without_applying():
    done = wattprint("setup-rapl")
    assert done.returncode == 0
    assert "udev" in done.stdout and "--apply" in done.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_live_status_line_on_a_terminal():
    from fakes.terminal import run_on_a_terminal

    returncode, text = run_on_a_terminal(
        [sys.executable, "-m", "wattprint", "run", "--country", "FR", "--interval", "0.2", "--",
         sys.executable, "-c", "import time; time.sleep(2.5)"], timeout_s=30)
    assert returncode == 0
    assert "\r\x1b[2K[wattprint] " in text  # redrawn in place
    assert " W  " in text and "CO2e" in text
    assert "emissions" in text  # the final summary follows


def test_a_sigkilled_run_wrapper_shows_interrupted_while_its_child_lives_on(tmp_path):
    # The wrapper owns the tracker; its child (the user's program) outlives it. Liveness
    # follows the tracker's pid, not the measured child's.
    script = "import time\nprint('ready', flush=True)\ntime.sleep(60)\n"
    proc = subprocess.Popen([sys.executable, "-m", "wattprint", "run", "--country", "FR",
                             "--interval", "0.2", "--", sys.executable, "-c", script],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 20  # the run row and first heartbeat go out at start
        while not json.loads(wattprint("runs", "--json").stdout) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [r["status"] for r in json.loads(wattprint("runs", "--json").stdout)] == ["running"]
        child = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True)
        child_pid = int(child.stdout.split()[0])
        proc.kill()
        proc.wait(timeout=10)
        os.kill(child_pid, 0)  # still alive
        rows = json.loads(wattprint("runs", "--json").stdout)
        assert [r["status"] for r in rows] == ["interrupted"]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
