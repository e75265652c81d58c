"""The team server's run page shows "How much will it cost?" from the query API's latest
prediction (SQLite and PostgreSQL): a running run sent through the real ingest, its live poll
carrying the newer prediction a later batch brings, and a finished run's prediction against its
measured totals and budget."""

from __future__ import annotations

import re
from html import unescape

import pytest
from dashboard_kit import HTTPS, ingest, signed_in
from fastapi.testclient import TestClient
from server_constants import PEPPER  # tests/server is on sys.path (see conftest)

import wattprint
from wattprint.records import Heartbeat, Prediction
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.server.app import create_app
from wattprint.server.dashboard import fmt
from wattprint.server.dashboard.data import DataError
from wattprint.server.dashboard.prediction_view import prediction_block
from wattprint.server.dashboard.server_data import ServerData
from wattprint.server.query import run_prediction
from wattprint.server.settings import Settings
from wattprint.sinks.memory import MemorySink
from wattprint.wire import to_wire


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def block_text(html: str) -> str:
    found = re.search(r'<section[^>]*data-testid="prediction".*?</section>', html, re.S)
    assert found is not None, "no prediction block on the page"
    return text(found.group(0))


class Run:
    """A tracker (250 W GPU; 10 steps of 1 s a record) that expects 100 steps, and what its
    sink received; ``send`` ingests what arrived since the last send."""

    def __init__(self, clock, *, budget_kwh: float | None = None) -> None:
        self.sink, self.clock = MemorySink(), clock
        sensor = FakeSensor([FakeDevice("fake:gpu", "gpu", 250.0)], clock=clock)
        self.tracker = wattprint.Tracker(
            sensors=[sensor], sinks=[self.sink], clock=clock, wall_clock=clock.wall_clock,
            country="FR", interval_s=3600, project="vision", experiment="resnet",
            budget_kwh=budget_kwh)
        self.tracker.start()
        self.tracker.expect(total=100, unit="steps")
        self.sent = {"records": 0, "predictions": 0}

    def work(self, records: int) -> None:
        for _ in range(records):
            for _ in range(10):
                self.clock.advance(1.0)
                self.tracker.step(1, unit="steps")
            self.tracker.flush()

    def items(self) -> list[dict]:
        out = [] if self.sent["records"] else [to_wire(self.sink.run)]
        records = self.sink.records[self.sent["records"]:]
        predictions = self.sink.predictions[self.sent["predictions"]:]
        self.sent = {"records": len(self.sink.records),
                     "predictions": len(self.sink.predictions)}
        out += [to_wire(r) for r in records] + [to_wire(p) for p in predictions]
        beat = Heartbeat(run_id=self.tracker.run_id, at_s=self.clock.wall, every_s=30.0)
        return out + [to_wire(beat)]


@pytest.fixture
def server(engine, org, clock):
    now = {"s": clock.wall}
    app = create_app(Settings(db_url=engine.url.render_as_string(hide_password=False),
                              pepper=PEPPER), wall_clock=lambda: now["s"])  # moves with clock
    client = TestClient(app, base_url=HTTPS)

    def send(items: list[dict]) -> None:
        now["s"] = clock.wall
        ingest(client, items, org.api_key)

    yield app, send
    app.state.engine.dispose()


def test_a_running_runs_page_and_live_poll_show_the_query_apis_latest_prediction(
        server, engine, org, clock):
    app, send = server
    run = Run(clock)
    run.work(4)
    send(run.items())
    run_id = run.tracker.run_id
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: clock.wall)
    with engine.connect() as connection:
        wire = run_prediction(connection, org.organisation_id, run_id)
    assert isinstance(wire, dict)
    found = data.prediction(run_id)
    assert found == Prediction.from_dict(wire) == run.tracker.prediction  # exact floats back
    assert found is not None and found.seq == 3
    client = signed_in(app)
    base = f"/dashboard/orgs/{org.organisation_id}"
    page = client.get(f"{base}/runs/{run_id}")
    assert page.status_code == 200, page.text
    shown = block_text(page.text)
    assert (f"Energy (IT, before PUE) {fmt.energy(found.energy_j)} "
            f"{fmt.energy(found.energy_low_j)} – {fmt.energy(found.energy_high_j)}") in shown
    assert f"Emissions {fmt.emissions(found.emissions_g)}" in shown
    assert "Work done 40 of 100 steps (40 %)" in shown
    assert f"Computed after record 3, at {fmt.timestamp(found.at_s)}" in shown
    assert found.energy_j == pytest.approx(25_000.0)  # 250 J a step, 100 steps

    live = client.get(f"{base}/runs/{run_id}/records.json", params={"since_seq": 3})
    assert live.status_code == 200 and live.json()["prediction"] == prediction_block(found)
    run.work(1)
    send(run.items())  # a later batch: record 4 and the prediction made after it
    live = client.get(f"{base}/runs/{run_id}/records.json", params={"since_seq": 3}).json()
    newer = run.tracker.prediction
    assert newer is not None and newer.seq == 4
    assert [r["seq"] for r in live["records"]] == [4]
    assert live["prediction"] == prediction_block(newer)
    assert live["prediction"]["text"]["work"] == "50 of 100 steps (50 %)"
    run.tracker.stop()


def test_a_finished_run_sets_its_prediction_against_the_measured_totals(server, org, clock):
    app, send = server
    run = Run(clock, budget_kwh=0.005)  # 18,000 J: predicted (25,000 J), then measured
    run.work(8)
    summary = run.tracker.stop()
    send(run.items() + [to_wire(summary)])
    last = run.sink.predictions[-1]
    data = ServerData(app.state.engine, org.organisation_id, clock=lambda: clock.wall)
    assert data.prediction(summary.run_id) == last
    block = prediction_block(last, data.run(summary.run_id).summary, ended=True)
    assert block is not None
    measured_j = summary.energy_j["total"]
    assert measured_j == pytest.approx(20_000.0)
    energy = block["measured"]["rows"]["energy"]
    assert energy["measured"] == measured_j
    assert energy["off_percent"] == pytest.approx(100 * (25_000 - 20_000) / 20_000)
    client = signed_in(app)
    shown = block_text(client.get(
        f"/dashboard/orgs/{org.organisation_id}/runs/{summary.run_id}").text)
    download = client.get(f"/dashboard/orgs/{org.organisation_id}/export/runs/"
                          f"{summary.run_id}/prediction.json")
    assert download.status_code == 200, download.text
    rows = {row["figure"]: row for row in download.json()}
    assert (rows["energy"]["predicted"], rows["energy"]["measured"],
            rows["energy"]["off_percent"]) == (last.energy_j, measured_j, energy["off_percent"])
    assert (f"{fmt.energy(measured_j)} +{fmt.number(energy['off_percent'], 3)} % no") in shown
    assert "The run ended after 80 of the 100 steps it expected" in shown
    assert (f"Energy budget {fmt.energy(18_000.0)}: crossed: {fmt.energy(measured_j)} used, "
            f"{fmt.percent(measured_j, 18_000.0)} of it") in shown


def test_another_organisations_run_has_no_prediction_here(server, org, clock):
    app, send = server
    run = Run(clock)
    run.work(4)
    send(run.items())
    other = ServerData(app.state.engine, org.organisation_id + 1000)
    with pytest.raises(DataError, match="no run"):
        other.prediction(run.tracker.run_id)
    with pytest.raises(DataError, match="no run"):
        ServerData(app.state.engine, org.organisation_id).prediction("no-such-run")
    run.tracker.stop()
