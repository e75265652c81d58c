"""Long runs on the local dashboard: the records download and the waste scan read raw rows
(SqliteRepository.record_rows), never a Record per row. On random crafted runs in a real SQLite
store, the fast paths equal the record paths: the waste report field for field, the download
cell for cell against the read API's records."""

from __future__ import annotations

import sys
from pathlib import Path

import dashkit
import pytest
from starlette.testclient import TestClient

from wattprint.advice.waste import WASTE_COLUMNS, waste_report, waste_report_rows
from wattprint.records import RECORD_COLUMNS
from wattprint.server.dashboard.local import LocalStoreData, row_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "advice"))
import advicekit  # noqa: E402  (tests/advice's run builders)
from crafted_runs import SCENARIOS, crafted_run, expected_csv, expected_download  # noqa: E402

NOW = advicekit.T0 + 86_400.0


@pytest.fixture
def stored():
    made = [crafted_run(seed) for seed in range(SCENARIOS)]
    for run, records in made:
        advicekit.store_run(run, records)
    app, repo = dashkit.app(now_s=NOW)
    with TestClient(app) as client:
        yield client, repo, made
    repo.close()


def test_the_waste_scan_over_raw_rows_equals_the_record_path(stored):
    _, repo, made = stored
    data = LocalStoreData(repo, clock=lambda: NOW)
    kinds = set()
    for run, records in made:
        fast = data.waste(run.run_id, max_records=1000)
        assert fast is not None
        slow = waste_report(repo.info(run.run_id), repo.records(run.run_id, limit=None))
        assert fast.to_dict() == slow.to_dict()  # every float, every word
        assert fast.to_dict() == waste_report(run, records).to_dict()
        kinds |= {f.kind for f in fast.findings}
    # the scenarios reach every finding (else the equality would prove less than it says)
    assert kinds == {"idle_accelerator", "gpu_waiting_on_cpu", "other_processes"}


def test_waste_rows_take_decoded_components_too(stored):
    """A JSON column the driver decoded (the team server) gives the same report as text."""
    _, repo, made = stored
    run, records = made[1]
    rows = [row_of(r, WASTE_COLUMNS) for r in records]
    assert waste_report_rows(run, rows).to_dict() == waste_report(run, records).to_dict()


def test_the_waste_scan_says_none_past_its_limit(stored):
    _, repo, made = stored
    run, records = next((r, rs) for r, rs in made if len(rs) > 3)
    data = LocalStoreData(repo, clock=lambda: NOW)
    assert data.waste(run.run_id, max_records=len(records) - 1) is None
    assert data.waste(run.run_id, max_records=len(records)) is not None


def test_the_records_download_equals_the_read_apis_records(stored):
    client, repo, made = stored
    for run, _ in made:
        expected = expected_download(repo.records(run.run_id, limit=None))
        base = f"/export/runs/{run.run_id}/records"
        assert client.get(f"{base}.json").json() == expected
        if expected:
            assert client.get(f"{base}.csv").text == expected_csv(expected)
        else:
            assert client.get(f"{base}.csv").text.count("\r\n") == 1  # the header alone


def test_raw_rows_page_in_seq_order_and_check_their_columns(stored):
    _, repo, made = stored
    run, records = max(made, key=lambda m: len(m[1]))
    seqs = [r.seq for r in records]
    got = repo.record_rows(run.run_id, ("seq", "energy_j"), since_seq=seqs[2], limit=5)
    assert got == [(r.seq, r.energy_j) for r in records[3:8]]
    assert repo.record_rows(run.run_id, ("seq",), limit=None) == [(s,) for s in seqs]
    assert repo.record_rows("nobody", ("seq",)) == []
    for bad in [(), ("energy_j", "seq"), ("seq", "energy_j; DROP TABLE runs")]:
        with pytest.raises(ValueError, match="must start with 'seq'"):
            repo.record_rows(run.run_id, bad)
    full = repo.record_rows(run.run_id, tuple(c for c in RECORD_COLUMNS if c != "run_id"))
    assert len(full) == len(records)


def test_the_records_tables_whole_row_writers_equal_its_columns(stored):
    """csv_row/json_row (one call a row) write what the columns' getters give cell by cell."""
    from wattprint._struct import replace
    from wattprint.server.dashboard.exports import run_tables

    _, repo, made = stored
    data = LocalStoreData(repo, clock=lambda: NOW)
    for run, _ in made:
        table = run_tables(data, data.run(run.run_id))["records"]
        assert table.csv_row is not None and table.json_row is not None
        by_cell = replace(table, csv_row=None, json_row=None)
        assert table.to_csv() == by_cell.to_csv()
        assert table.to_json() == by_cell.to_json()


def test_the_scan_leaves_the_garbage_collector_as_it_found_it(stored):
    import gc

    _, _, made = stored
    run, records = made[1]
    rows = [row_of(r, WASTE_COLUMNS) for r in records]
    assert gc.isenabled()
    waste_report_rows(run, rows)
    assert gc.isenabled()
    gc.disable()
    try:
        waste_report_rows(run, rows)
        assert not gc.isenabled()
    finally:
        gc.enable()
