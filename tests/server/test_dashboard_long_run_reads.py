"""Long runs on the team server's dashboard (SQLite and PostgreSQL): the records download and
the waste scan read raw rows (query.run_record_rows), never a Record per row. Random crafted
runs sent through the real ingest: the fast paths equal the record paths, the waste report
field for field, the download cell for cell against the query API's records."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_constants import OWNER, PEPPER  # tests/server is on sys.path (see conftest)

from wattprint.advice.waste import waste_report
from wattprint.records import summarize
from wattprint.server.app import create_app
from wattprint.server.dashboard.data import DataError
from wattprint.server.dashboard.server_data import ServerData
from wattprint.server.query import QueryError, run_record_rows
from wattprint.server.settings import Settings
from wattprint.wire import to_wire

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "advice"))
import advicekit  # noqa: E402  (tests/advice's run builders)
from crafted_runs import SCENARIOS, crafted_run, expected_csv, expected_download  # noqa: E402

HTTPS = "https://testserver"  # the session cookie is Secure
NOW = advicekit.T0 + 86_400.0


@pytest.fixture
def sent(engine, org):
    """Every crafted run ingested; (app, [(run info, records)])."""
    made = [crafted_run(seed) for seed in range(SCENARIOS)]
    app = create_app(Settings(db_url=engine.url.render_as_string(hide_password=False),
                              pepper=PEPPER), wall_clock=lambda: NOW)
    with TestClient(app, base_url=HTTPS) as client:
        for run, records in made:
            items = [to_wire(i) for i in (run, *records, summarize(run, records, exit_code=0))]
            answer = client.post("/api/v1/ingest", json={"items": items},
                                 headers={"Authorization": f"Bearer {org.api_key}"})
            assert answer.status_code == 200, answer.text
    yield app, made
    app.state.engine.dispose()


def test_the_waste_scan_over_raw_rows_equals_the_record_path(sent, org):
    app, made = sent
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: NOW)
    kinds = set()
    for run, records in made:
        fast = data.waste(run.run_id, max_records=1000)
        assert fast is not None
        slow = waste_report(run, data.records_since(run.run_id, None, limit=10**6))
        assert fast.to_dict() == slow.to_dict()  # every float back from the database
        assert fast.to_dict() == waste_report(run, records).to_dict()
        kinds |= {f.kind for f in fast.findings}
    assert kinds == {"idle_accelerator", "gpu_waiting_on_cpu", "other_processes"}
    run, records = next((r, rs) for r, rs in made if len(rs) > 3)
    assert data.waste(run.run_id, max_records=len(records) - 1) is None


def test_the_records_download_equals_the_query_apis_records(sent, org):
    app, made = sent
    base = f"/dashboard/orgs/{org.organisation_id}/export/runs"
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: NOW)
    with TestClient(app, base_url=HTTPS) as client:
        answer = client.post("/api/v1/login", json={"email": OWNER["email"],
                                                    "password": OWNER["password"]})
        assert answer.status_code == 200, answer.text
        for run, records in made:
            expected = expected_download(data.records_since(run.run_id, None, limit=10**6))
            assert expected == expected_download(records)  # what was sent, to the bit
            assert client.get(f"{base}/{run.run_id}/records.json").json() == expected
            if expected:
                assert client.get(f"{base}/{run.run_id}/records.csv").text == \
                    expected_csv(expected)


def test_raw_rows_page_in_seq_order_within_the_organisation(sent, org):
    app, made = sent
    run, records = max(made, key=lambda m: len(m[1]))
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: NOW)
    got = data.record_rows(run.run_id, ("seq", "energy_j"), since_seq=records[2].seq, limit=5)
    assert got == [(r.seq, r.energy_j) for r in records[3:8]]
    with app.state.engine.connect() as connection:
        assert run_record_rows(connection, org.organisation_id + 1, run.run_id, ("seq",),
                               since_seq=0, limit=5) is None  # another organisation's
        with pytest.raises(QueryError, match="must start with 'seq'"):
            run_record_rows(connection, org.organisation_id, run.run_id, ("energy_j",),
                            since_seq=0, limit=5)
    with pytest.raises(DataError, match="no run 'nobody'"):
        data.record_rows("nobody", ("seq",), since_seq=None, limit=5)
