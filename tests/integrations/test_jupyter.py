"""The %%wattprint / %wattprint magics in a real IPython InteractiveShell.

Each scenario runs in a process of its own (tests/integrations/ipython_shell.py): the shell is a
process-wide singleton. The magics get a fake 100 W CPU on a fake clock that the cells move, and
360 g/kWh, so every figure shown is exact: 1 s is 100 J = 27.8 mWh and 10.0 mg CO2e.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wattprint.integrations.jupyter import MagicUsageError, parse_options

pytest.importorskip("IPython")

SHELL = Path(__file__).with_name("ipython_shell.py")


def run_cells(*cells: str, fake: bool = True, break_stop: bool = False) -> dict:
    request = json.dumps({"cells": list(cells), "fake": fake, "break_stop": break_stop})
    done = subprocess.run([sys.executable, str(SHELL)], input=request, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out: dict = json.loads(done.stdout)
    return out


def only_output(result: dict) -> dict:
    assert len(result["outputs"]) == 1, result
    output: dict = result["outputs"][0]
    return output


def test_the_cell_magic_shows_the_runs_summary_as_text_and_html():
    [cell] = run_cells("%%wattprint --project demo --experiment 'lr sweep' --tag lr=3e-5 "
                       "--tag note=\"a b\"\nclock.advance(2.0)\nx = 40\nx + 2")["results"]
    summary = cell["summary"]
    assert cell["error"] is None
    assert cell["result"] == "42"  # the cell's last expression is still its value
    assert summary["energy_j"]["total"] == 200.0
    assert summary["emissions_g"] == pytest.approx(0.02)
    assert (summary["project"], summary["experiment"]) == ("demo", "lr sweep")
    assert cell["tags"] == {"lr": "3e-5", "note": "a b"}
    shown = only_output(cell)
    assert shown["text/plain"] == (
        f"wattprint {summary['run_id'][:8]} demo/lr sweep  2.0 s  55.6 mWh  20.0 mg CO2e  "
        "[finished]\n"
        "  360 gCO2e/kWh FR (test table, 2025); pue 1; cpu measured")
    html = shown["text/html"]
    assert html.startswith('<div class="wattprint-summary"><strong>'
                           f"wattprint {summary['run_id'][:8]} demo/lr sweep</strong> &middot; "
                           "2.0 s &middot; 55.6 mWh &middot; 20.0 mg CO2e &middot; [finished]"
                           "<br><small>360 gCO2e/kWh FR (test table, 2025); pue 1; cpu measured"
                           "</small><details>")
    # the full summary, as `wattprint show` prints it, folded under the figures
    assert "<details><summary>full summary</summary><pre>wattprint run" in html
    assert "energy     55.6 mWh  (200.0 J, before PUE)" in html


def test_a_statement_on_the_line_magic_is_one_run():
    [cell] = run_cells("%wattprint clock.advance(1.5) or 7")["results"]
    assert cell["result"] == "7"
    assert cell["summary"]["energy_j"]["total"] == 150.0
    assert only_output(cell)["text/plain"].startswith(
        f"wattprint {cell['summary']['run_id'][:8]} default/default  1.5 s  41.7 mWh  15.0 mg CO2e"
        "  [finished]")


def test_an_exception_in_the_cell_shows_the_summary_then_goes_on_untouched():
    [cell] = run_cells("%%wattprint\nclock.advance(1.0)\nx = 1\nraise boom")["results"]
    assert cell["error"] == "ValueError" and cell["error_is_boom"]  # the very same object
    assert cell["summary"]["status"] == "failed"
    assert cell["summary"]["energy_j"]["total"] == 100.0
    assert only_output(cell)["text/plain"].splitlines()[0].endswith(
        "1.0 s  27.8 mWh  10.0 mg CO2e  [failed]")
    assert cell["user_x"] == "1"  # the cell ran in the user's namespace up to the raise
    traceback = cell["stdout"]
    # the cell's own lines, numbered as in the cell (the magic's line is line 1)
    assert "Cell In[1], line 4\n      2 clock.advance(1.0)\n      3 x = 1\n----> 4 raise boom" \
        in traceback
    assert "ValueError: the user's own <error>" in traceback
    assert "jupyter.py" not in traceback  # the magic's frames are hidden


def test_an_interrupted_cell_is_interrupted():
    [cell] = run_cells("%%wattprint\nclock.advance(1.0)\nraise KeyboardInterrupt")["results"]
    assert cell["error"] == "KeyboardInterrupt"
    assert cell["summary"]["status"] == "interrupted"


def test_user_strings_are_escaped_in_the_html():
    [cell] = run_cells("%%wattprint --project '<b>p&q</b>' --experiment '<script>x</script>'\n"
                       "clock.advance(1.0)")["results"]
    html = only_output(cell)["text/html"]
    assert "<script>" not in html and "<b>" not in html
    assert "<strong>wattprint " in html  # the markup is the magic's own
    assert "&lt;b&gt;p&amp;q&lt;/b&gt;/&lt;script&gt;x&lt;/script&gt;</strong>" in html
    assert "<b>p&q</b>/<script>x</script>" in only_output(cell)["text/plain"]


def test_a_session_measures_cells_as_spans_of_one_run():
    start, first, status, second, stop, full = run_cells(
        "%wattprint start --project nb", "%%wattprint\nclock.advance(3.0)", "%wattprint status",
        "%wattprint clock.advance(1.0)", "%wattprint stop", "%wattprint summary")["results"]
    assert start["stdout"].startswith("wattprint: session run ")
    assert only_output(first)["text/plain"].startswith(
        "wattprint cell-2  3.0 s  83.3 mWh  30.0 mg CO2e\n  a span of the session's run ")
    assert first["summary"] is None  # no run of its own
    assert status["stdout"].endswith("3.0 s  100.0 W  83.3 mWh  30.0 mg CO2e so far\n")
    assert only_output(second)["text/plain"].startswith("wattprint cell-4  1.0 s  27.8 mWh")
    summary = stop["summary"]
    assert summary["project"] == "nb" and summary["energy_j"]["total"] == 400.0
    assert [(s["name"], s["energy_j"]) for s in summary["spans"]] == [("cell-2", 300.0),
                                                                      ("cell-4", 100.0)]
    assert only_output(stop)["text/plain"].startswith(
        f"wattprint {summary['run_id'][:8]} nb/default  4.0 s  111.1 mWh  40.0 mg CO2e")
    assert full["stdout"].startswith(f"wattprint run {summary['run_id'][:8]}  nb/default")


def test_a_statement_that_starts_like_a_command_follows_two_dashes():
    [cell] = run_cells("%wattprint -- start = 5")["results"]
    assert cell["error"] is None and cell["summary"]["status"] == "finished"


def test_a_bad_magic_line_is_a_usage_error_and_the_cell_does_not_run():
    bad, statement = run_cells("%%wattprint --projet x\nx = 1",
                               "%wattprint stop")["results"]
    assert bad["error"] == "UsageError" and bad["user_x"] == "None"
    assert "unknown option '--projet'" in bad["stderr"]
    assert statement["error"] == "UsageError"
    assert "no session is running; %wattprint start begins one" in statement["stderr"]


def test_a_syntax_error_points_into_the_cell_and_nothing_is_measured():
    [cell] = run_cells("%%wattprint\nx = 1\ny = (")["results"]
    assert cell["error"] == "SyntaxError" and cell["user_x"] == "None"
    assert "Cell In[1], line 3\n    y = (" in cell["stdout"]  # the magic's line is line 1
    assert cell["outputs"] == [] and cell["summary"] is None
    [awaits] = run_cells("%%wattprint\nawait f()")["results"]
    assert "cannot await; measure it in a session instead (%wattprint start" in awaits["stdout"]


def test_help_says_how_to_use_the_magics():
    [cell] = run_cells("%wattprint?")["results"]
    assert "%wattprint start [options]       a session" in cell["stdout"]


def test_a_tracker_that_cannot_be_made_or_stopped_never_breaks_the_cell():
    [bad_setting] = run_cells("%%wattprint --country '<Atlantis>'\nx = 5\nx")["results"]
    assert bad_setting["error"] is None and bad_setting["result"] == "5"
    shown = only_output(bad_setting)
    assert shown["text/plain"].startswith("wattprint: not measured (unknown country '<Atlantis>'")
    assert "unknown country &#x27;&lt;Atlantis&gt;&#x27;" in shown["text/html"]
    [broken] = run_cells("%%wattprint\nx = 6\nx", break_stop=True)["results"]
    assert broken["error"] is None and broken["result"] == "6"
    assert only_output(broken)["text/plain"] == (
        "wattprint: not measured (stopping the tracker failed: RuntimeError('sink exploded'))")
    [broken_raise] = run_cells("%%wattprint\nraise boom", break_stop=True)["results"]
    assert broken_raise["error_is_boom"]  # the user's exception, not the tracker's


def test_load_ext_wattprint_measures_this_machine_and_import_stays_light():
    load, cell, start, unload, gone = run_cells(
        "%load_ext wattprint", "%%wattprint --quiet --country FR\nx = 3",
        "%wattprint start --quiet --country FR", "%unload_ext wattprint", "%wattprint 1",
        fake=False)["results"]
    assert load["error"] is None and cell["error"] is None
    assert cell["outputs"] == []  # --quiet: nothing shown, the summary still kept
    assert cell["summary"]["status"] == "finished"
    assert cell["summary"]["location"]["country"] == "FR"
    # unloading ends a running session (its summary shown), and the magics are gone
    assert unload["summary"] is None  # the shell's magics object went with the extension
    assert only_output(unload)["text/plain"].splitlines()[0].endswith("  [finished]")
    assert gone["error"] == "UsageError" and "`%wattprint` not found" in gone["stderr"]
    light = subprocess.run(
        [sys.executable, "-c", "import sys, wattprint; wattprint.load_ipython_extension; "
         "print(sorted(m for m in sys.modules if m.startswith(('wattprint', 'IPython'))))"],
        capture_output=True, text=True, check=True)
    assert light.stdout.strip() == "['wattprint']"


def test_options_are_read_up_to_the_statement():
    options = parse_options("--project 'my proj' --tag a=1 --tag b= -q --experiment=e x -1")
    assert options.settings == {"project": "my proj", "experiment": "e"}
    assert options.tags == {"a": "1", "b": ""}
    assert options.quiet and options.rest == "x -1"
    assert parse_options("-- --x").rest == "--x" and parse_options("-- --x").ended
    assert parse_options("start --project p").rest == "start --project p"
    with pytest.raises(MagicUsageError, match="--tag takes KEY=VALUE"):
        parse_options("--tag novalue")
    with pytest.raises(MagicUsageError, match="--project needs a value"):
        parse_options("--project")


def test_a_notebook_through_a_real_kernel_shows_the_summary_under_the_cell(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    v4 = nbformat.v4
    notebook = v4.new_notebook(cells=[
        v4.new_code_cell("%load_ext wattprint"),
        v4.new_code_cell(f"import sys; sys.path.insert(0, {str(SHELL.parent)!r})\n"
                         "from ipython_shell import register_fakes\n"
                         "sink = register_fakes(get_ipython())"),
        v4.new_code_cell("%%wattprint --project nb\nclock.advance(2.0)\n'done'"),
        v4.new_code_cell("sink.summary.run_id"),
    ])
    nbclient.NotebookClient(notebook, timeout=60, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown, value = notebook.cells[2].outputs
    run_id = notebook.cells[3].outputs[0]["data"]["text/plain"].strip("'")
    assert shown["output_type"] == "display_data" and value["output_type"] == "execute_result"
    assert shown["data"]["text/plain"] == (
        f"wattprint {run_id[:8]} nb/default  2.0 s  55.6 mWh  20.0 mg CO2e  [finished]\n"
        "  360 gCO2e/kWh FR (test table, 2025); pue 1; cpu measured")
    assert shown["data"]["text/html"].startswith('<div class="wattprint-summary">')
    assert value["data"]["text/plain"] == "'done'"
