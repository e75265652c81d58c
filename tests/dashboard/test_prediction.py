"""The run page's "How much will it cost?" block on the local dashboard, over a real store
written by a real Tracker that expects its work: the figures are the read API's prediction,
written by the one formatting module; the live poll carries the latest one; an ended run's
prediction is set against its measured totals and budgets."""

from __future__ import annotations

import re
from html import unescape

import dashkit
import pytest
from dashkit import DAY, T0
from starlette.testclient import TestClient

import wattprint
from fakes.clock import FakeClock
from wattprint.sensors.fake import FakeDevice, FakeSensor
from wattprint.server.dashboard import fmt
from wattprint.server.dashboard.local import LocalStoreData
from wattprint.server.dashboard.prediction_view import prediction_block
from wattprint.store import open_repository

NOW = T0 + 10 * DAY


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def block_html(html: str) -> str:
    found = re.search(r'<section[^>]*data-testid="prediction".*?</section>', html, re.S)
    assert found is not None, "no prediction block on the page"
    return found.group(0)


def predicting(*, budget_kwh: float | None = None, expect: bool = True):
    """A running tracker (44 W; 10 steps of 1 s per record) that expects 100 steps."""
    clock = FakeClock(wall_start_s=NOW - 600)
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 40.0), FakeDevice("fake:ram", "ram", 4.0)],
                        clock=clock)
    t = wattprint.Tracker(sensors=[sensor], clock=clock, wall_clock=clock.wall_clock,
                          country="FR", interval_s=3600, project="llm", experiment="pretrain",
                          store_flush_s=0, budget_kwh=budget_kwh)
    t.start()
    if expect:
        t.expect(total=100, unit="steps")
    return t, clock


def work(t, clock, records: int) -> None:
    for _ in range(records):
        for _ in range(10):
            clock.advance(1.0)
            t.step(1, unit="steps")
        t.flush()


@pytest.fixture
def served():
    def make(now_s: float):
        """The app and a read API at ``now_s`` (a running run's heartbeat is recent then)."""
        repo = open_repository(dashkit.store_path(), clock=lambda: now_s)
        return TestClient(dashkit.app(now_s=now_s)[0]), repo
    return make


def test_a_running_runs_page_shows_the_read_apis_latest_prediction(served):
    t, clock = predicting()
    try:
        work(t, clock, 4)
        client, repo = served(clock.wall)
        p = repo.prediction(t.run_id)
        assert p is not None and p == t.prediction and p.seq == 3  # after 3 records of work
        assert LocalStoreData(repo).prediction(t.run_id) == p
        page = client.get(f"/runs/{t.run_id}")
        assert page.status_code == 200, page.text
        shown = text(block_html(page.text))
        assert "How much will it cost?" in shown
        assert f"Energy (IT, before PUE) {fmt.energy(p.energy_j)} " \
               f"{fmt.energy(p.energy_low_j)} – {fmt.energy(p.energy_high_j)}" in shown
        assert f"Emissions {fmt.emissions(p.emissions_g)}" in shown
        assert f"Duration {fmt.duration(p.duration_s)}" in shown
        assert "Work done 40 of 100 steps (40 %)" in shown
        assert f"Computed after record 3, at {fmt.timestamp(p.at_s)}" in shown
        assert f"Predicted end {fmt.timestamp(p.end_s)}" in shown
        assert "a 90 % band" in shown
        # 440 J a record, 4.4 J a step: 100 steps are 4,400 J, 100 s
        assert p.energy_j == pytest.approx(4400.0) and p.duration_s == pytest.approx(100.0)
        assert "Measured" not in shown  # still running: nothing to compare with yet

        # the live poll carries the latest prediction, written as the page writes it
        live = client.get(f"/runs/{t.run_id}/records.json", params={"since_seq": 3}).json()
        assert live["records"] == [] and live["prediction"] == prediction_block(p)
        work(t, clock, 1)
        live = client.get(f"/runs/{t.run_id}/records.json", params={"since_seq": 3}).json()
        newer = repo.prediction(t.run_id)
        assert newer is not None and newer.seq == 4
        assert [r["seq"] for r in live["records"]] == [4]
        assert live["prediction"]["seq"] == 4
        assert live["prediction"]["text"]["work"] == "50 of 100 steps (50 %)"
        assert live["prediction"]["text"]["energy"] == fmt.energy(newer.energy_j)
        assert live["prediction"]["figures"]["energy"] == {
            "predicted": newer.energy_j, "low": newer.energy_low_j, "high": newer.energy_high_j}
        repo.close()
    finally:
        t.stop()


def test_a_running_run_without_prediction_says_how_to_get_one(served):
    t, clock = predicting(expect=False)
    try:
        work(t, clock, 4)
        client, repo = served(clock.wall)
        assert LocalStoreData(repo).prediction(t.run_id) is None
        shown = block_html(client.get(f"/runs/{t.run_id}").text)
        assert re.search(r'data-testid="prediction-none">', shown)  # shown, not hidden
        assert "tracker.expect(total, unit)" in text(shown)
        assert client.get(f"/runs/{t.run_id}/records.json").json()["prediction"] is None
        repo.close()
    finally:
        t.stop()


def test_an_ended_run_sets_its_last_prediction_against_the_measured_totals(served):
    # budget 1,800 J: the first prediction (4,400 J) crosses it, then the measured total does
    t, clock = predicting(budget_kwh=0.0005)
    work(t, clock, 6)
    summary = t.stop()
    client, repo = served(clock.wall)
    p = repo.prediction(t.run_id)
    assert p is not None and summary.prediction == p.to_dict() and p.done == 60
    page = client.get(f"/runs/{t.run_id}")
    shown = text(block_html(page.text))
    measured_j = summary.energy_j["total"]
    assert measured_j == pytest.approx(2640.0)  # 6 records of 440 J
    off = 100 * (p.energy_j - measured_j) / measured_j  # predicted 100 steps, 60 were done
    assert off == pytest.approx(100 * (4400 - 2640) / 2640)
    assert (f"Energy (IT, before PUE) {fmt.energy(p.energy_j)} "
            f"{fmt.energy(p.energy_low_j)} – {fmt.energy(p.energy_high_j)} "
            f"{fmt.energy(measured_j)} +{fmt.number(off, 3)} % no") in shown
    duration_off = 100 * (p.duration_s - summary.duration_s) / summary.duration_s
    assert f"{fmt.duration(summary.duration_s)} +{fmt.number(duration_off, 3)} %" in shown
    assert ("The run ended after 60 of the 100 steps it expected: the prediction was for all "
            "of them, so it reads high.") in shown
    assert (f"Energy budget {fmt.energy(1800.0)}: crossed: {fmt.energy(measured_j)} used, "
            f"{fmt.percent(measured_j, 1800.0)} of it") in shown
    (alert,) = summary.budget["alerts"]
    assert alert["predicted"] and alert["message"] in shown  # said once, when predicted
    repo.close()


def test_a_finished_run_whose_work_was_all_done_was_predicted_exactly(served):
    t, clock = predicting()
    work(t, clock, 10)
    summary = t.stop()
    client, repo = served(clock.wall)
    block = prediction_block(repo.prediction(t.run_id), repo.summary(t.run_id), ended=True)
    assert block is not None and block["done"] == 100
    rows = block["measured"]["rows"]
    assert rows["energy"]["measured"] == summary.energy_j["total"]
    assert rows["energy"]["off_percent"] == pytest.approx(0.0, abs=1e-9)
    assert rows["energy"]["inside"] and block["measured"]["note"] is None
    assert block["budget"] is None
    shown = text(block_html(client.get(f"/runs/{t.run_id}").text))
    assert (f"Energy (IT, before PUE) {fmt.energy(summary.energy_j['total'])} "
            f"{fmt.energy(summary.energy_j['total'])} – {fmt.energy(summary.energy_j['total'])} "
            f"{fmt.energy(summary.energy_j['total'])} ±0 % yes") in shown
    assert "it expected" not in shown and "Budgets" not in shown
    repo.close()


def test_a_finished_run_without_prediction_has_no_block():
    summary = dashkit.finished_run(wall_s=NOW - 3600)
    client = TestClient(dashkit.app(now_s=NOW)[0])
    page = client.get(f"/runs/{summary.run_id}")
    assert page.status_code == 200 and 'data-testid="prediction"' not in page.text


def test_the_prediction_downloads_as_csv_and_json_with_full_precision(served):
    t, clock = predicting()
    work(t, clock, 6)
    summary = t.stop()
    client, repo = served(clock.wall)
    p = repo.prediction(t.run_id)
    assert p is not None
    page = client.get(f"/runs/{t.run_id}").text
    assert f'href="/export/runs/{t.run_id}/prediction.csv"' in page
    got = client.get(f"/export/runs/{t.run_id}/prediction.json")
    assert got.status_code == 200, got.text
    rows = {row["figure"]: row for row in got.json()}
    assert list(rows) == ["duration", "energy", "emissions"]
    energy = rows["energy"]
    measured_j = summary.energy_j["total"]
    assert (energy["predicted"], energy["low"], energy["high"], energy["level"]) == (
        p.energy_j, p.energy_low_j, p.energy_high_j, p.level)
    assert energy["measured"] == measured_j and energy["inside_band"] is False
    assert energy["off_percent"] == 100 * (p.energy_j - measured_j) / measured_j
    assert (energy["unit"], energy["done"], energy["total"], energy["seq"], energy["at_s"]) == (
        "steps", 60.0, 100.0, p.seq, p.at_s)
    assert rows["emissions"]["predicted"] == p.emissions_g
    assert rows["duration"]["measured"] == summary.duration_s
    csv_text = client.get(f"/export/runs/{t.run_id}/prediction.csv").text
    assert csv_text.splitlines()[0].startswith("figure,predicted,low,high,level,measured,")
    assert len(csv_text.splitlines()) == 4
    none = dashkit.finished_run(wall_s=NOW - 7200)  # no prediction: the header alone
    assert client.get(f"/export/runs/{none.run_id}/prediction.json").json() == []
    repo.close()
