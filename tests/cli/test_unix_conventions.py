"""The CLI as a careful Unix tool, run as real processes: a closed pipe ends a command quietly
with 141, bare `wattprint` is a usage error on stderr, a stray WATTPRINT_* variable does not
lock anyone out of their stored runs, and lists that match nothing are `[]` with exit 0.

The autouse ``isolated_env`` fixture gives each test a fresh WATTPRINT_HOME and TZ=Europe/Paris.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wattprint.cli import main
from wattprint.cli.common import EXIT_CLOSED_PIPE

pytestmark = pytest.mark.slow


def wattprint(*args: str, env: dict[str, str] | None = None,
              **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wattprint", *args], capture_output=True,
                          text=True, timeout=60,
                          env={**os.environ, **env} if env is not None else None, **kwargs)


def into_closed_pipe(*args: str, stream: str = "stdout") -> subprocess.CompletedProcess[str]:
    """Run wattprint with stdout (or stderr) writing into a pipe whose reader has already gone,
    as `wattprint ... | head -1` is once head has exited. Every write fails with EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        if stream == "stdout":
            return subprocess.run([sys.executable, "-m", "wattprint", *args], stdout=write_end,
                                  stderr=subprocess.PIPE, text=True, timeout=60)
        return subprocess.run([sys.executable, "-m", "wattprint", *args], stderr=write_end,
                              stdout=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)


@pytest.fixture
def stored_run(tmp_path: Path) -> str:
    out = tmp_path / "summary.json"
    done = wattprint("run", "--country", "FR", "--quiet", "--json-summary", str(out), "--",
                     sys.executable, "-c", "pass")
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    if (summary.get("delivery") or {}).get("sqlite") != "delivered":
        # on a loaded machine the final export may outlast its 3 s bound and be spooled
        assert wattprint("spool", "deliver").returncode == 0
    assert wattprint("show", summary["run_id"]).returncode == 0
    return str(summary["run_id"])


# -- 1. closed pipe -------------------------------------------------------------------------
def test_every_command_that_prints_stops_quietly_with_141_on_a_closed_pipe(stored_run):
    commands = [
        ("regions",), ("regions", "--json"), ("schema",), ("runs",), ("runs", "--json"),
        ("show", stored_run[:8]), ("show", stored_run[:8], "--json"), ("export", stored_run),
        ("stats", "--by", "project"), ("stats", "--by", "day", "--json"),
        ("intensity", "--country", "FR"), ("doctor", "--country", "FR"),
        ("doctor", "--json"), ("spool",), ("spool", "--json"), ("setup-rapl",),
        ("setup-rapl", "--json"), ("--help",), ("runs", "--help"), ("--version",),
    ]
    for args in commands:
        done = into_closed_pipe(*args)
        assert done.returncode == EXIT_CLOSED_PIPE == 141, (args, done.stderr)
        assert done.stderr == "", (args, done.stderr)  # no traceback, no "Exception ignored"


def test_monitor_json_into_a_closed_pipe_stops_stores_the_run_and_exits_141():
    done = into_closed_pipe("monitor", "--country", "FR", "--interval", "0.2", "--duration",
                            "30", "--json", "--quiet")
    # the first line (the run info) meets the closed pipe: monitor stops long before 30 s
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""
    runs = json.loads(wattprint("runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["finished"]
    info = json.loads(wattprint("export", runs[0]["run_id"]).stdout.splitlines()[0])
    assert (info["type"], info["host"]["command"]) == ("run", "wattprint monitor")


def test_run_keeps_its_commands_exit_status_when_stderr_is_closed():
    done = into_closed_pipe("run", "--country", "FR", "--", sys.executable, "-c",
                            "import sys; print('out'); sys.exit(3)", stream="stderr")
    assert done.returncode == 3
    assert done.stdout == "out\n"


# -- 4. bare wattprint ----------------------------------------------------------------------
def test_bare_wattprint_prints_usage_on_stderr_and_exits_2():
    done = wattprint()
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("usage: wattprint [-h] [--version] COMMAND ...\n")
    assert "wattprint: error: give a command (`wattprint --help` lists them)" in done.stderr


# -- 3. stray or bad WATTPRINT_* variables -------------------------------------------------
def test_read_only_commands_warn_about_a_bad_variable_and_go_on(stored_run):
    env = {"WATTPRINT_SCOPE": "galaxy", "WATTPRINT_INTERVL_S": "5"}  # bad value; typo'd key
    expected = {  # what each prints all the same
        ("runs",): stored_run[:8], ("runs", "--json"): stored_run,
        ("show", stored_run[:8]): stored_run[:8], ("show", stored_run[:8], "--json"): stored_run,
        ("export", stored_run): stored_run, ("stats", "--by", "project", "--json"): '"runs": 1',
        ("regions", "--cloud", "gcp"): "europe-west9", ("schema",): '"$schema"',
        ("spool", "--json"): "[]",
    }
    for args, shown in expected.items():
        done = wattprint(*args, env=env)
        assert done.returncode == 0, (args, done.stderr)
        assert shown in done.stdout, args
        warnings = [line for line in done.stderr.splitlines() if "warning: ignoring" in line]
        if args[0] == "schema":
            assert warnings == []  # it reads no settings at all
            continue
        assert len(warnings) == 2, (args, done.stderr)
        typo, bad_scope = sorted(warnings)  # "...INTERVL_S" sorts before "...SCOPE"
        assert "environment WATTPRINT_INTERVL_S: unknown setting 'intervl_s'" in typo
        assert "Did you mean interval_s?" in typo and "`unset WATTPRINT_INTERVL_S`" in typo
        assert "scope = 'galaxy' is not allowed; expected 'machine' or 'process'" in bad_scope
        assert "`unset WATTPRINT_SCOPE`" in bad_scope
    assert json.loads(wattprint("runs", "--json", env=env).stdout)[0]["run_id"] == stored_run


def test_commands_that_measure_still_reject_a_bad_variable():
    env = {"WATTPRINT_SCOPE": "galaxy"}
    for args in (("run", "--", sys.executable, "-c", "pass"),
                 ("monitor", "--duration", "0.1"), ("intensity",)):
        done = wattprint(*args, env=env)
        assert done.returncode == 2, (args, done.stderr)
        assert "environment WATTPRINT_SCOPE: scope = 'galaxy' is not allowed" in done.stderr
        assert done.stdout == ""
    assert json.loads(wattprint("runs", "--json").stdout) == []  # nothing was measured


def test_the_tolerance_is_for_variables_a_bad_flag_is_still_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["runs", "--since", "yesterday"])
    assert stopped.value.code == 2
    assert "'yesterday' is not a time: give an age such as 12h" in capsys.readouterr().err


# -- 2. empty results ---------------------------------------------------------------------
def test_empty_results_are_empty_lists_with_exit_0(capsys):
    for argv in (["runs", "--json"], ["runs", "--job", "nosuch", "--json"],
                 ["runs", "--project", "nosuch", "--status", "failed", "--json"],
                 ["stats", "--by", "host", "--json"], ["spool", "--json"],
                 ["spool", "--sink", "csv", "--json"], ["regions", "--country", "AQ", "--json"],
                 ["regions", "--cloud", "scaleway", "--country", "JP", "--json"]):
        assert main(argv) == 0, argv
        captured = capsys.readouterr()
        assert json.loads(captured.out) == [], argv
    assert main(["runs"]) == 0
    assert "no runs yet" in capsys.readouterr().out  # a friendly line, on stdout, exit 0
    assert main(["regions", "--country", "Antarctica"]) == 0
    assert capsys.readouterr().out == "no regions match\n"


def test_one_thing_asked_for_by_id_and_missing_is_exit_1_with_the_reason(capsys):
    assert main(["show", "--job", "nosuch", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no runs of job 'nosuch' in the store; see `wattprint runs --job ID`" in captured.err
    assert main(["export", "abc123"]) == 1
    assert "no run matches 'abc123'" in capsys.readouterr().err
