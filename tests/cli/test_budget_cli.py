"""Budgets on the command line: `wattprint run --budget-g/--budget-kwh` warn, never stop."""

from __future__ import annotations

import json
import subprocess
import sys


def wattprint(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True,
                          text=True, timeout=60)


def test_a_crossed_budget_is_said_and_the_command_still_runs_to_its_end(tmp_path):
    out = tmp_path / "summary.json"
    done = wattprint("run", "--country", "FR", "--interval", "0.2", "--budget-g", "0.00001",
                     "--json-summary", str(out), "--", sys.executable, "-c",
                     "import time; time.sleep(0.8); print('finished')")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "finished\n"  # the child ran to its end
    summary = json.loads(out.read_text())
    (alert,) = summary["budget"]["alerts"]
    assert (alert["kind"], alert["limit"], alert["predicted"]) == ("emissions", 1e-05, False)
    assert alert["value"] >= 1e-05
    assert alert["message"].startswith("emissions budget 0.01 mg crossed: ")
    assert f"  ! {alert['message']}" in done.stderr.splitlines()
    assert summary["budget"]["budget_g"] == 1e-05 and summary["budget"]["budget_kwh"] is None
    assert summary["prediction"] is None  # `run` does not know the command's work


def test_a_bad_budget_is_a_usage_error_naming_the_setting():
    done = wattprint("run", "--budget-kwh", "-2", "--", sys.executable, "-c", "pass")
    assert done.returncode == 2
    assert "budget_kwh = -2.0 is not allowed; expected kWh above 0" in done.stderr
