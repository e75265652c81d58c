"""The team server's run page shows "Where could it have run?" and "What was wasted" for a run
sent through the real ingest, with the advice library's figures; ServerData.waste answers what
the library answers over the same records (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import sys
from html import unescape
from pathlib import Path

import pytest
from dashboard_kit import HTTPS, app_at, ingest
from fastapi.testclient import TestClient
from server_constants import OWNER  # tests/server is on sys.path (see conftest)

from wattprint.advice.waste import waste_report
from wattprint.advice.where import where_advice
from wattprint.records import summarize
from wattprint.server.dashboard import fmt
from wattprint.server.dashboard.server_data import ServerData
from wattprint.wire import to_wire

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "advice"))
import advicekit  # noqa: E402  (tests/advice's run builders: a crafted training run)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


@pytest.fixture
def sent(engine, org):
    """The crafted training run (idle GPU half the time, a CPU-bound phase, a shared CPU)
    ingested; (app, run info, records, summary)."""
    run, records = advicekit.training_run("gpu00001")
    summary = summarize(run, records, exit_code=0)
    now_s = run.started_s + 3600.0
    app = app_at(engine, now_s)
    with TestClient(app, base_url=HTTPS) as client:
        ingest(client, [to_wire(i) for i in (run, *records, summary)], org.api_key)
    yield app, run, records, summary
    app.state.engine.dispose()


def test_server_data_waste_equals_the_library_over_the_same_records(sent, org):
    app, run, records, _ = sent
    data = ServerData(app.state.engine, org.organisation_id)
    report = data.waste(run.run_id, max_records=1000)
    expected = waste_report(run, records)
    assert report is not None
    assert report.to_dict() == expected.to_dict()  # the same floats back from the database
    kinds = {f.kind: f for f in report.findings}
    assert kinds["idle_accelerator"].energy_j == 5000.0
    assert kinds["gpu_waiting_on_cpu"].energy_j == 1200.0
    assert kinds["other_processes"].energy_j == 4500.0
    assert data.waste(run.run_id, max_records=10) is None  # 20 records: too many for 10


def test_the_team_run_page_shows_both_sections_with_the_librarys_figures(sent, org):
    app, run, records, summary = sent
    client = TestClient(app, base_url=HTTPS)
    login = client.post("/api/v1/login", json={"email": OWNER["email"],
                                               "password": OWNER["password"]})
    assert login.status_code == 200, login.text
    page = client.get(f"/dashboard/orgs/{org.organisation_id}/runs/{run.run_id}",
                      params={"regions": "gcp/europe-west9"})
    assert page.status_code == 200, page.text
    section = text(page.text)
    advice = where_advice(run=summary, cloud="aws", extra=["gcp/europe-west9"])
    assert advice.reference is not None
    assert ("Savings against aws eu-west-1 (where it ran): "
            f"{fmt.emissions(advice.reference.emissions_g)}") in section
    shown = re.findall(r'<tr data-testid="where-row" data-region="([^"]+)">', page.text)
    assert shown == [o.label for o in advice.options] and "gcp europe-west9" in shown
    report = waste_report(run, records)
    assert f"Total saving at most {fmt.energy(report.saving_j)}" in section
    assert "Accelerator allocated but idle: nvml:0" in section
    # the form posts back to this organisation's run page
    assert f'action="/dashboard/orgs/{org.organisation_id}/runs/{run.run_id}"' in page.text


def test_the_team_servers_advice_downloads(sent, org):
    app, run, records, summary = sent
    client = TestClient(app, base_url=HTTPS)
    assert client.post("/api/v1/login", json={"email": OWNER["email"],
                                              "password": OWNER["password"]}).status_code == 200
    base = f"/dashboard/orgs/{org.organisation_id}/export/runs/{run.run_id}"
    where = client.get(f"{base}/where.json")
    assert where.status_code == 200, where.text
    advice = where_advice(run=summary, cloud="aws")
    assert [r["emissions_g"] for r in where.json()] == [o.emissions_g for o in advice.options]
    waste = client.get(f"{base}/waste.json").json()
    assert [r["saving_j"] for r in waste] == [f.saving_j for f in waste_report(run, records).findings]
