"""Every flag of every command explains itself with its real default, `--help` stays light, and
the `all` extra really holds every other extra."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - 3.10: the core's own fallback
    import tomli as tomllib

from wattprint.cli import build_parser
from wattprint.config import Config

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.option_strings[0] if a.option_strings else a.dest: a for a in parser._actions}


def test_every_option_and_argument_of_every_command_has_help():
    parser = build_parser()
    found = {"wattprint": parser, **commands()}
    assert set(found) == {"wattprint", "run", "monitor", "doctor", "runs", "show", "export",
                          "stats", "intensity", "regions", "rescore", "schema", "spool",
                          "setup-rapl", "login", "push", "server", "dashboard", "advise",
                          "forecast", "report", "import"}
    missing = [f"{name} {flag}" for name, command in found.items()
               for flag, action in options(command).items()
               if not isinstance(action, argparse._SubParsersAction)
               and not (action.help or "").strip()]
    assert missing == []
    for name, command in commands().items():
        assert command.description, name
        command.format_help()  # every help string formats (no stray % in it)


def test_defaults_shown_are_the_ones_config_uses():
    run = options(commands()["run"])
    defaults = Config()
    assert f"(default: {defaults.interval_s:g})" in run["--interval"].help
    assert f"(default: {defaults.scope})" in run["--scope"].help
    assert f"(default: {','.join(defaults.sinks)})" in run["--sinks"].help
    assert f"(default: {defaults.provider})" in run["--provider"].help
    assert f"(default: {defaults.project})" in run["--project"].help
    # no fixed default for the PUE: a known cloud brings its own
    pue = run["--pue"].help
    assert "default 1.0" not in pue and "(default: None)" not in pue
    assert "the cloud provider's published figure on a known cloud, else 1.0" in pue
    # an unset location is detected, not "None"
    assert "detected from cloud metadata, else the OS time zone" in run["--country"].help


def test_doctor_intensity_and_monitor_share_runs_location_flags():
    found = commands()
    location = {"--country", "--subdivision", "--zone", "--cloud", "--cloud-region"}
    run = options(found["run"])
    for name in ("monitor", "doctor", "intensity"):
        flags = options(found[name])
        assert location <= set(flags), name
        for flag in location:  # built by one function: same dest and help
            assert (flags[flag].dest, flags[flag].help) == (run[flag].dest, run[flag].help)
    doctor = options(found["doctor"])
    assert {"--provider", "--pue", "--interval", "--scope", "--sinks", "--cpu-tdp"} <= set(doctor)


def test_doctor_help_says_what_each_exit_status_means():
    text = commands()["doctor"].format_help()
    assert "exit status:" in text
    assert "0  nothing wrong" in text and "1  a PROBLEM" in text and "2  bad flags" in text
    assert "with --strict, any WARNING too" in text


@pytest.mark.slow
def test_help_imports_no_store_sensor_tracker_or_http_code():
    probe = ("import sys\n"
             "from wattprint.cli import main\n"
             "try:\n    main(['run', '--help'])\nexcept SystemExit:\n    pass\n"
             "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60)
    loaded = set(done.stderr.split())
    assert "wattprint.cli.measure" in loaded  # the probe saw the modules
    heavy = {"sqlite3", "httpx", "psutil", "wattprint.tracker", "wattprint.store",
             "wattprint.sensors", "wattprint.intensity.tables", "wattprint.records"}
    assert loaded & heavy == set()


def test_the_all_extra_holds_every_other_extra():
    extras = tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"]
    assert extras["all"] == [f"wattprint[{','.join(sorted(set(extras) - {'all'}))}]"]


def test_help_reads_as_plain_text_lines_of_terminal_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps to the terminal's width
    # descriptions taken from module docstrings once showed reST (``login URL``, :mod:`x`), and a
    # raw-formatted description ran on as one 250-character line
    for name, command in commands().items():
        text = command.format_help()
        assert "``" not in text and ":mod:`" not in text, name
        assert max(len(line) for line in text.splitlines()) <= 100, name
