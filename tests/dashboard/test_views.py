"""The dashboard's pages through the ASGI app, over a real store written by a real Tracker:
the figures shown are the read API's, written by the one formatting module."""

from __future__ import annotations

import csv
import io
import json
from html import unescape

import dashkit
import pytest
from dashkit import DAY, T0
from starlette.testclient import TestClient

from wattprint.server.dashboard import fmt
from wattprint.server.dashboard.data import DashboardData
from wattprint.server.dashboard.local import LocalStoreData
from wattprint.store import RunFilter

NOW = T0 + 10 * DAY


@pytest.fixture
def runs():
    """Three finished runs this week, one two weeks before (the previous period of 7d)."""
    made = {
        "old": dashkit.finished_run(project="vision", experiment="resnet", wall_s=NOW - 9 * DAY,
                                    records=3),
        "big": dashkit.finished_run(project="vision", experiment="vit", wall_s=NOW - 2 * DAY,
                                    records=5, gpu_w=250.0, gap_after=2),
        "small": dashkit.finished_run(project="nlp", experiment="bert", wall_s=NOW - DAY,
                                      records=3, cpu_w=20.0),
        "mid": dashkit.finished_run(project="nlp", experiment="gpt", wall_s=NOW - 3600,
                                    records=4, cpu_w=60.0),
    }
    return {name: summary.run_id for name, summary in made.items()}


@pytest.fixture
def served(runs):
    with dashkit.client(now_s=NOW) as (client, repo):
        yield client, repo


def test_the_local_adapter_is_the_dashboard_data_seam(served):
    _, repo = served
    assert isinstance(LocalStoreData(repo), DashboardData)


def test_overview_totals_breakdowns_and_trend_equal_the_read_api(served, runs):
    client, repo = served
    html = client.get("/?period=7d").text
    week = RunFilter(since_s=NOW - 7 * DAY, until_s=NOW)
    before = RunFilter(since_s=NOW - 14 * DAY, until_s=NOW - 7 * DAY)
    by_project = repo.aggregate("project", week)
    energy_j = sum(a.energy_j for a in by_project)
    emissions_g = sum(a.emissions_g for a in by_project)
    previous = repo.aggregate("project", before)
    assert [a.key for a in by_project] == ["nlp", "vision"] and sum(a.runs for a in previous) == 1
    assert f'data-value="{energy_j}">{fmt.energy(energy_j)}<' in html
    assert f'data-value="{emissions_g}">{fmt.emissions(emissions_g)}<' in html
    trend = fmt.trend(energy_j, previous[0].energy_j)
    assert trend.startswith("+") and f"{trend} vs the previous period" in html
    for by in ("project", "experiment", "component", "region", "host"):
        for group in repo.aggregate(by, week):
            assert f"{fmt.energy(group.energy_j)}<" in html, (by, group.key)
            assert fmt.percent(group.energy_j, energy_j) in html, (by, group.key)
    # the old run is outside the week: its experiment is not listed
    assert ">resnet<" not in html and 'href="/runs?project=nlp"' in html
    components = html.split('data-testid="by-component"')[1].split("</table>")[0]
    assert ">gpu<" in components and ">cpu<" in components and ">ram<" in components


def test_all_time_has_no_trend_and_an_unknown_period_says_which_exist(served):
    client, _ = served
    assert "vs the previous period" not in client.get("/?period=all").text
    bad = client.get("/?period=fortnight")
    assert bad.status_code == 400 and "choose one of 24h, 7d, 30d, 90d, 365d, all" in bad.text


def test_runs_filters_sort_and_pages(served, runs):
    client, repo = served

    def ids(url):
        html = client.get(url).text
        return [part.split('"')[0] for part in html.split('<tr data-run="')[1:]]

    newest_first = [r.run_id for r in repo.runs().items]
    assert ids("/runs") == newest_first
    assert ids("/runs?project=nlp") == [runs["mid"], runs["small"]]
    assert ids("/runs?project=nlp&experiment=gpt") == [runs["mid"]]
    by_energy = sorted(repo.runs().items, key=lambda r: r.energy_j)
    assert ids("/runs?sort=energy_j") == [r.run_id for r in by_energy]
    assert ids("/runs?sort=-energy_j") == [r.run_id for r in reversed(by_energy)]
    # pages: the store's cursor for newest first, positions for any other order
    for sort in ("-started_s", "-emissions_g"):
        seen, url = [], f"/runs?limit=3&sort={sort}"
        while url:
            html = client.get(url).text
            seen += [p.split('"')[0] for p in html.split('<tr data-run="')[1:]]
            nxt = html.split('rel="next" data-testid="next"')[0].rsplit('href="', 1)
            url = nxt[1].split('"')[0].replace("&amp;", "&") if 'rel="next"' in html else None
        assert sorted(seen) == sorted(runs.values()) and len(seen) == 4
    row = next(r for r in repo.runs().items if r.run_id == runs["big"])
    html = client.get("/runs").text
    assert f'data-value="{row.energy_j}">{fmt.energy(row.energy_j)}<' in html
    assert f'data-value="{row.emissions_g}">{fmt.emissions(row.emissions_g)}<' in html


@pytest.mark.parametrize("url, message", [
    ("/runs?sort=colour", "cannot sort by 'colour'"),
    ("/runs?status=asleep", "unknown status 'asleep'"),
    ("/runs?limit=0", "limit must be between 1 and 1000"),
    ("/runs?since_s=yesterday", "since_s must be a Unix time"),
    ("/runs?sort=energy_j&cursor=garbage", "invalid cursor"),
    ("/runs?cursor=garbage", "invalid cursor"),
])
def test_bad_table_parameters_are_a_clear_400(served, url, message):
    client, _ = served
    answer = client.get(url)
    assert answer.status_code == 400 and message in unescape(answer.text)


def test_csv_and_json_exports_hold_every_matching_run_at_full_precision(served, runs):
    client, repo = served
    expected = [r for r in repo.runs(RunFilter(project="nlp")).items]
    answer = client.get("/runs.csv?project=nlp&limit=1")  # the page size does not cut an export
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [r["run_id"] for r in rows] == [r.run_id for r in expected]
    assert [float(r["energy_j"]) for r in rows] == [r.energy_j for r in expected]
    assert [float(r["emissions_g"]) for r in rows] == [r.emissions_g for r in expected]
    as_json = client.get("/runs.json?project=nlp&sort=energy_j").json()
    assert as_json == sorted((r.to_dict() for r in expected), key=lambda r: r["energy_j"])
    assert client.get("/runs.xml").status_code == 404


def test_run_page_shows_the_read_api_figures_with_provenance(served, runs):
    client, repo = served
    run_id = runs["big"]
    html = client.get(f"/runs/{run_id}").text
    summary = repo.summary(run_id)
    assert fmt.energy(summary.energy_j["total"]) in html.split('data-testid="kpi-energy"')[1][:200]
    assert fmt.emissions(summary.emissions_g) in html.split('data-testid="kpi-emissions"')[1][:200]
    assert fmt.intensity(summary.intensity["g_per_kwh"]) in html
    components = html.split('data-testid="components-table"')[1].split("</table>")[0]
    for c in summary.components:
        assert fmt.energy(c["energy_j"]) in components
    assert 'class="badge m-sampled"' in components and 'class="badge m-measured"' in components
    assert 'class="badge bundled"' in html and f"year {summary.intensity['year']}" in html
    # spans nested: "step" inside "train", each with its own figures
    spans = html.split('data-testid="spans-table"')[1].split("</table>")[0]
    train, step = sorted(repo.spans(run_id), key=lambda s: s.parent_id is not None)
    assert spans.index(">train<") < spans.index("step") and "(inside " in spans
    assert fmt.energy(step.energy_j) in spans and fmt.energy(train.energy_j) in spans
    work = summary.work[0]
    assert f"{fmt.energy(work['energy_j_per_unit'])}<" in html and work["unit"] == "samples"
    # the paused interval is a visible gap
    assert "no record (tracker paused or stopped, or the machine slept)" in html
    data = json.loads(html.split('<script type="application/json" id="run-data">')[1]
                      .split("</script>")[0])
    records = repo.records(run_id, limit=None)
    assert data["columns"]["seq"] == [r.seq for r in records]
    assert data["columns"]["gpu_energy_j"] == [r.gpu_energy_j for r in records]
    assert sum(data["columns"]["energy_j"]) == pytest.approx(summary.energy_j["total"])
    assert data["components"] == ["cpu", "gpu", "ram"] and data["status"] == "finished"


def test_an_unknown_run_is_a_404_saying_where_to_look(served):
    client, _ = served
    answer = client.get("/runs/not-a-run")
    assert answer.status_code == 404 and "wattprint runs" in answer.text


def test_the_live_endpoint_returns_only_records_after_the_last_seq(runs):
    """A running run (this process's live tracker): the page polls; new records only."""
    tracker, clock = dashkit.tracker(project="live", experiment="now", wall_s=NOW - 60)
    tracker.start()
    try:
        for _ in range(2):
            clock.advance(5.0)
            tracker.flush()
        app, repo = dashkit.app(now_s=NOW - 45)
        with TestClient(app) as client:
            run_id = tracker.run_id
            page = client.get(f"/runs/{run_id}").text
            assert 'data-testid="run-status">running<' in page and "updating live" in page
            first = client.get(f"/runs/{run_id}/records.json").json()
            last = first["last_seq"]
            assert first["status"] == "running" and len(first["records"]) == 2
            assert client.get(f"/runs/{run_id}/records.json?since_seq={last}").json()["records"] == []
            clock.advance(5.0)
            tracker.flush()
            new = client.get(f"/runs/{run_id}/records.json?since_seq={last}").json()
            assert [r["seq"] for r in new["records"]] == [last + 1] and new["last_seq"] == last + 1
            record = repo.records(run_id, since_seq=last)[0]
            assert new["records"][0]["text"]["energy"] == fmt.energy(record.energy_j)
            assert client.get(f"/runs/{run_id}/records.json?since_seq=x").status_code == 400
        repo.close()
    finally:
        tracker.stop()


def test_security_headers_and_only_loopback_host_names(runs):
    from wattprint.server.dashboard.app import LOOPBACK_HOSTS

    app, repo = dashkit.app(now_s=NOW, allowed_hosts=LOOPBACK_HOSTS)
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        answer = client.get("/")
        assert answer.status_code == 200
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-frame-options"] == "DENY"
        # a page elsewhere reaching this port through DNS rebinding names its own host
        assert client.get("/", headers={"host": "evil.example:8765"}).status_code == 400
        for loopback in ("localhost:8765", "[::1]:8765", "127.0.0.1"):
            assert client.get("/", headers={"host": loopback}).status_code == 200, loopback
        assert client.post("/runs").status_code == 405  # read-only
    repo.close()


def test_the_vendored_chart_library_is_served_with_its_licence(served):
    client, _ = served
    from wattprint.server.dashboard import UPLOT_VERSION

    script = client.get(f"/static/uplot-{UPLOT_VERSION}.min.js")
    assert script.status_code == 200 and "uPlot" in script.text
    assert "MIT" in client.get(f"/static/uplot-{UPLOT_VERSION}.LICENSE").text


def test_a_long_run_is_drawn_from_merged_points_that_keep_energy_and_holes(served, runs,
                                                                          monkeypatch):
    from wattprint.server.dashboard import views

    client, repo = served
    monkeypatch.setattr(views, "MAX_CHART_POINTS", 3)
    html = client.get(f"/runs/{runs['big']}").text
    data = json.loads(html.split('<script type="application/json" id="run-data">')[1]
                      .split("</script>")[0])
    records = repo.records(runs["big"], limit=None)
    # three points asked for five records: summed per time bucket (buckets.py; the exact sums
    # are tests/server/test_dashboard_buckets.py's), the hole after the second record kept
    columns = data["columns"]
    assert data["downsampled"] and len(columns["seq"]) <= 3
    assert columns["seq"][-1] == records[-1].seq
    assert sum(columns["energy_j"]) == pytest.approx(sum(r.energy_j for r in records))
    assert columns["gap"].count(True) == 1 and "max_power_w" in columns
    assert f"{len(records)} records shown as {len(columns['seq'])} points of" in html
    assert "no record (tracker paused or stopped, or the machine slept)" in html
