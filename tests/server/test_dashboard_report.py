"""The team server's run page offers no "Paper-ready report" download: reports are built from a
local store's read API (``wattprint report`` where the run is stored), which the team server's
data seam does not offer; the address the local dashboard serves is not routed here."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from dashboard_kit import HTTPS, app_at, ingest
from fastapi.testclient import TestClient
from server_constants import OWNER  # tests/server is on sys.path (see conftest)

from wattprint.records import summarize
from wattprint.server.dashboard.report_download import available
from wattprint.server.dashboard.server_data import ServerData
from wattprint.wire import to_wire

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "advice"))
import advicekit  # noqa: E402  (tests/advice's run builders)


@pytest.fixture
def signed_in(engine, org):
    run, records = advicekit.training_run("rep00001")
    summary = summarize(run, records, exit_code=0)
    now_s = run.started_s + 3600.0
    app = app_at(engine, now_s)
    with TestClient(app, base_url=HTTPS) as client:
        ingest(client, [to_wire(i) for i in (run, *records, summary)], org.api_key)
        assert client.post("/api/v1/login", json={"email": OWNER["email"],
                                                  "password": OWNER["password"]}).status_code == 200
        yield app, client, run
    app.state.engine.dispose()


def test_the_team_run_page_has_no_report_links(signed_in, org):
    app, client, run = signed_in
    base = f"/dashboard/orgs/{org.organisation_id}/runs/{run.run_id}"
    page = client.get(base)
    assert page.status_code == 200, page.text
    assert 'data-testid="run-status"' in page.text  # the run page itself
    assert "report-links" not in page.text and "/report.md" not in page.text
    assert client.get(f"{base}/report.md").status_code == 404
    assert available(ServerData(app.state.engine, org.organisation_id)) is False
