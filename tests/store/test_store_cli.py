"""`wattprint runs | show | export | stats` through the read API, on a temporary WATTPRINT_HOME."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import storekit
from storekit import T0

from wattprint.cli import _parse_when, main
from wattprint.config import load_config
from wattprint.host import host_id
from wattprint.records import summarize
from wattprint.store import Store
from wattprint.wire import from_wire


@pytest.fixture
def store():
    s = Store(load_config().store_path)  # WATTPRINT_HOME is a fresh tmp dir (conftest)
    yield s
    s.close()


def add(store, run_id, *, started, project="p", host="node-a", n=2, cpu_j=100.0, gpu_j=0.0,
        job_id=None, finished=True, **info_kwargs):
    run = storekit.info(run_id, project=project, started=started, hostname=host, job_id=job_id,
                        **info_kwargs)
    records = [storekit.record(run_id, s, cpu_j=cpu_j, gpu_j=gpu_j, start=started + s - 1)
               for s in range(1, n + 1)]
    store.export([run, *records, storekit.span(run_id)]
                 + ([summarize(run, records, exit_code=0)] if finished else []))


def test_a_fresh_machine_has_no_runs_and_that_is_not_an_error(capsys):
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "no runs yet" in out and "wattprint run --" in out
    for argv in (["runs", "--json"], ["stats", "--by", "project", "--json"],
                 ["runs", "--status", "running", "--json"]):
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out) == []
    assert main(["stats", "--by", "day"]) == 0
    assert "no runs yet" in capsys.readouterr().out
    assert main(["show", "abc"]) == 1
    assert "no run matches 'abc'" in capsys.readouterr().err
    assert not load_config().store_path.exists()  # reading created nothing


def test_runs_filters_and_pages(store, capsys):
    add(store, "aaa111", started=T0, project="vision", host="gpu-1")
    add(store, "bbb222", started=T0 + 86400, project="vision", host="gpu-2")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    add(store, "ccc333", started=T0 + 2 * 86400, project="nlp", host="gpu-1", finished=False,
        host_id=host_id(), tracker_pid=int(dead.stdout))  # its tracker died on this machine

    def ids(*argv):
        assert main(["runs", "--json", *argv]) == 0
        return [r["run_id"] for r in json.loads(capsys.readouterr().out)]

    assert ids() == ["ccc333", "bbb222", "aaa111"]
    assert ids("--project", "vision") == ["bbb222", "aaa111"]
    assert ids("--host", "gpu-1") == ["ccc333", "aaa111"]
    assert ids("--status", "finished") == ["bbb222", "aaa111"]
    assert ids("--status", "interrupted") == ["ccc333"]
    assert ids("--since", "2026-01-02T00:00:00Z") == ["ccc333", "bbb222"]
    assert ids("--until", "2026-01-02T00:00:00+00:00") == ["aaa111"]
    assert main(["runs", "--json", "--limit", "2"]) == 0
    captured = capsys.readouterr()
    assert [r["run_id"] for r in json.loads(captured.out)] == ["ccc333", "bbb222"]
    cursor = captured.err.split("--cursor ")[1].split()[0]
    assert ids("--limit", "2", "--cursor", cursor) == ["aaa111"]
    assert main(["runs", "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert "ccc333"[:8] in text and "vision/e" in text and "finished" in text
    assert f"--cursor {cursor}" in text


def test_since_accepts_ages_and_dates():
    assert _parse_when("2d", now_s=1_000_000.0) == 1_000_000.0 - 2 * 86400
    assert _parse_when("90m", now_s=10_000.0) == 10_000.0 - 5400
    assert _parse_when("2026-01-01T00:00:00Z") == T0
    with pytest.raises(SystemExit):
        main(["runs", "--since", "yesterday-ish"])


def test_show_and_show_job(store, capsys):
    add(store, "rank0", started=T0, job_id="J")
    add(store, "rank1", started=T0 + 1, job_id="J")
    assert main(["show", "rank0", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["run_id"], shown["energy_j"]["total"], shown["rescores"]) == ("rank0", 200.0, [])
    assert main(["show", "J", "--job", "--json"]) == 0
    job = json.loads(capsys.readouterr().out)
    assert (job["energy_j"]["total"], job["job"]["ranks"]) == (400.0, 2)
    assert main(["show", "rank"]) == 1
    assert "several runs" in capsys.readouterr().err


def test_export_prints_the_run_as_wire_json_lines(store, capsys):
    add(store, "r1", started=T0, n=3)
    assert main(["export", "r"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["type"] for o in lines] == ["run", "record", "record", "record", "span", "summary"]
    assert all("schema_version" in o for o in lines)
    items = [from_wire(o) for o in lines]
    assert items[0] == store.info("r1")
    assert items[1:4] == store.records("r1")
    assert items[4] == store.spans("r1")[0]
    assert items[5] == store.summary("r1")


def test_stats_by_project_and_component(store, capsys):
    add(store, "a", started=T0, project="vision", cpu_j=100.0, gpu_j=300.0)
    add(store, "b", started=T0 + 1, project="nlp", cpu_j=50.0)
    assert main(["stats", "--by", "project", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["key"], r["runs"], r["energy_j"], r["duration_s"]) for r in rows] == [
        ("nlp", 1, 100.0, 2.0), ("vision", 1, 800.0, 2.0)]
    assert main(["stats", "--by", "component", "--json"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    assert (rows["cpu"]["energy_j"], rows["gpu"]["energy_j"], rows["cpu"]["runs"]) == (
        300.0, 600.0, 2)
    assert main(["stats", "--by", "project", "--project", "nlp"]) == 0
    text = capsys.readouterr().out
    assert "nlp" in text and "vision" not in text and "runs" in text


def test_read_commands_report_a_corrupted_store(capsys):
    path = load_config().store_path
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage" * 100)
    assert main(["runs", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    assert "corrupted" in captured.err and "moved to" in captured.err and ".recover" in captured.err
