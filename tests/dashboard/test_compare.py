"""The comparison page and the CSV/JSON download of every table, through the ASGI app over a
real store written by a real Tracker: the figures are the read API's, the downloads hold the
same numbers at full precision, CSV is RFC 4180 and never runs a formula."""

from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

import dashkit
import pytest
from dashkit import DAY, T0
from starlette.testclient import TestClient

from wattprint.server.dashboard import fmt
from wattprint.server.dashboard.tables import Column, Table, csv_cell
from wattprint.store import RunFilter

NOW = T0 + 10 * DAY


@pytest.fixture
def runs():
    made = {
        "gpu": dashkit.finished_run(project="vision", experiment="vit", wall_s=NOW - 2 * DAY,
                                    records=6, gpu_w=250.0, gap_after=2),
        "cpu": dashkit.finished_run(project="=HYPERLINK(\"x\")", experiment="bert, small",
                                    wall_s=NOW - DAY, records=4, cpu_w=20.0),
        "mid": dashkit.finished_run(project="nlp", experiment="gpt", wall_s=NOW - 3600,
                                    records=5, cpu_w=60.0),
    }
    return {name: summary.run_id for name, summary in made.items()}


@pytest.fixture
def served(runs):
    with dashkit.client(now_s=NOW) as (client, repo):
        yield client, repo


def compare_url(*ids: str, path: str = "/compare") -> str:
    return path + "?" + "&".join(f"run={i}" for i in ids)


def cell(html: str, key: str, index: int) -> str:
    """The text of run ``index``'s cell in the comparison's row ``key``."""
    row = re.search(rf'<tr data-key="{re.escape(key)}">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return unescape(re.sub(r"(<[^>]+>)+", "|", cells[index])).strip("|")


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_the_comparison_shows_each_runs_read_api_figures_and_the_differences(served, runs):
    client, repo = served
    a, b = runs["gpu"], runs["cpu"]
    page = client.get(compare_url(a, b))
    assert page.status_code == 200
    html = page.text
    sa, sb = repo.summary(a), repo.summary(b)
    for i, s in enumerate((sa, sb)):
        assert cell(html, "energy_j", i).startswith(fmt.energy(s.energy_j["total"]))
        assert cell(html, "emissions_g", i).startswith(fmt.emissions(s.emissions_g))
        assert cell(html, "duration_s", i).startswith(fmt.duration(s.duration_s))
        assert cell(html, "intensity_g_per_kwh", i).startswith(
            fmt.intensity(s.intensity["g_per_kwh"]))
        assert cell(html, "cpu_energy_j", i).startswith(fmt.energy(s.energy_j["cpu"]))
        assert cell(html, "cpu_share_pct", i) == fmt.percent(s.energy_j["cpu"],
                                                              s.energy_j["total"])
        [work] = s.work
        assert cell(html, "energy_per_samples_j", i).startswith(
            fmt.energy(work["energy_j_per_unit"]))
        assert cell(html, "intensity_source", i) == s.intensity["source"]
        assert cell(html, "intensity_year", i) == str(s.intensity["year"])
    # the difference against the first run, absolute and %, under the second run's figure
    diff_j = sb.energy_j["total"] - sa.energy_j["total"]
    pct = 100 * diff_j / sa.energy_j["total"]
    assert cell(html, "energy_j", 1).endswith(
        f"|−{fmt.energy(-diff_j)} (−{fmt.number(-pct, 3)} %)")
    assert "|" not in cell(html, "energy_j", 0)  # the reference has none
    # the same bundled intensity, whatever order its mean was summed in: no difference
    assert cell(html, "intensity_g_per_kwh", 1).endswith("|±0 gCO₂e/kWh (±0 %)")
    # provenance per component: the GPU sampled, the CPU measured; a run without a GPU: none
    assert cell(html, "gpu_method", 0) == "sampled" and cell(html, "gpu_method", 1) == "–"
    assert cell(html, "cpu_method", 1) == "measured"
    assert 'data-key="other_energy_j"' not in html  # no run used it
    # the user's text is escaped, never markup
    assert "=HYPERLINK(&#34;x&#34;)" in html or "=HYPERLINK(&quot;x&quot;)" in html


def test_the_curves_are_aligned_by_elapsed_time_with_one_series_per_run(served, runs):
    client, repo = served
    ids = [runs["gpu"], runs["cpu"], runs["mid"]]
    html = client.get(compare_url(*ids)).text
    chart = json.loads(re.search(r'<script type="application/json" id="compare-data">(.*?)'
                                 r"</script>", html, re.S).group(1))
    assert [r["run_id"] for r in chart["runs"]] == ids
    assert [r["dash"] for r in chart["runs"]][:2] == [[], [10, 5]]  # not colour alone
    for run in chart["runs"]:
        records = repo.records(run["run_id"], limit=None)
        started_s = repo.info(run["run_id"]).started_s
        ends = [r.start_s + r.duration_s - started_s for r in records]
        xs = [x for x, y in zip(run["x"], run["power_w"], strict=True) if y is not None]
        assert xs == pytest.approx(ends)
        assert [y for y in run["power_w"] if y is not None] == pytest.approx(
            [r.energy_j / r.duration_s for r in records])
        assert [y for y in run["cumulative_energy_j"] if y is not None][-1] == pytest.approx(
            sum(r.energy_j for r in records))
    # the paused tracker of the first run breaks its line: one null, right after record 3
    first = chart["runs"][0]
    assert first["power_w"].count(None) == 1 and first["power_w"].index(None) == 3
    assert chart["runs"][1]["power_w"].count(None) == 0
    # the table alternative holds the same points
    assert 'data-testid="curves-table"' in html
    assert html.count("After a gap") == 1


@pytest.mark.parametrize("query, status, message", [
    ("", 400, "pick at least 2 runs to compare (got 0)"),
    ("run={a}", 400, "pick at least 2 runs to compare (got 1)"),
    ("run={a}&run={a}", 400, "pick at least 2 runs to compare (got 1)"),
    ("run={a}&run=not-a-run", 404, "not-a-run"),
    ("&".join(f"run=r{i}" for i in range(9)), 400, "at most 8 runs can be compared"),
])
def test_bad_comparisons_are_a_clear_page(served, runs, query, status, message):
    client, _ = served
    answer = client.get("/compare?" + query.format(a=runs["gpu"]))
    assert answer.status_code == status and message in unescape(answer.text)
    assert "<h1>Cannot show this</h1>" in answer.text


def test_the_comparison_downloads_with_the_pages_numbers(served, runs):
    client, repo = served
    ids = [runs["gpu"], runs["cpu"], runs["mid"]]
    html = client.get(compare_url(*ids)).text
    answer = client.get(compare_url(*ids, path="/export/compare/comparison.csv"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert 'filename="comparison.csv"' in answer.headers["content-disposition"]
    rows = csv_rows(answer.text)
    assert [r["run_id"] for r in rows] == ids
    for i, (row, run_id) in enumerate(zip(rows, ids, strict=True)):
        summary = repo.summary(run_id)
        assert float(row["energy_j"]) == summary.energy_j["total"]
        assert float(row["emissions_g"]) == summary.emissions_g
        assert float(row["duration_s"]) == summary.duration_s
        assert float(row["pue"]) == summary.pue
        # the page's data-value is the download's figure
        values = re.findall(r'data-value="([^"]*)"', re.search(
            r'<tr data-key="energy_j">(.*?)</tr>', html, re.S).group(1))
        assert float(values[i]) == float(row["energy_j"])
    first = repo.summary(ids[0]).energy_j["total"]
    assert rows[0]["energy_diff_j"] == "" and rows[0]["energy_diff_pct"] == ""
    assert float(rows[2]["energy_diff_j"]) == pytest.approx(float(rows[2]["energy_j"]) - first)
    assert float(rows[2]["energy_diff_pct"]) == pytest.approx(
        100 * (float(rows[2]["energy_j"]) - first) / first)
    # units in the column names
    assert {"energy_j", "emissions_g", "intensity_g_per_kwh", "mean_power_w",
            "energy_per_samples_j", "emissions_per_samples_diff_pct",
            "cpu_share_pct"} <= set(rows[0])
    header = answer.text.split("\r\n")[0].split(",")
    assert len(header) == len(set(header))  # every column once
    as_json = client.get(compare_url(*ids, path="/export/compare/comparison.json")).json()
    assert [r["energy_j"] for r in as_json] == [repo.summary(i).energy_j["total"] for i in ids]
    assert as_json[1]["project"] == '=HYPERLINK("x")'  # JSON is data: never prefixed
    curves = client.get(compare_url(*ids, path="/export/compare/curves.json")).json()
    for run_id in ids:
        mine = [r for r in curves if r["run_id"] == run_id]
        assert [r["energy_j"] for r in mine] == [r.energy_j for r in repo.records(run_id,
                                                                                    limit=None)]


def test_csv_is_rfc4180_and_a_users_formula_is_never_run(served, runs):
    client, repo = served
    raw = client.get("/runs.csv").content
    assert raw.count(b"\r\n") == len(repo.runs().items) + 1  # CRLF after every row
    text = raw.decode()
    assert "'=HYPERLINK(\"\"x\"\")" in text  # quotes doubled in a quoted field, then prefixed
    assert '"bert, small"' in text  # a comma inside a field: quoted
    row = next(r for r in csv_rows(text) if r["run_id"] == runs["cpu"])
    assert row["project"] == "'=HYPERLINK(\"x\")" and row["experiment"] == "bert, small"


def test_csv_cells():
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@x", "\tx", "\rx", "plain", "a=b")] == [
        "'=1+1", "'+1", "'-1", "'@x", "'\tx", "'\rx", "plain", "a=b"]
    assert [csv_cell(v) for v in (-1.5, 0, None, True, False)] == [-1.5, 0, "", "true", "false"]
    table = Table("t", "T", (Column("name", "Name", lambda r: r[0]),
                             Column("energy_j", "Energy", lambda r: r[1], fmt.energy, True)),
                  [("line\nbreak", 0.1 + 0.2), ('say "hi"', None)])
    assert table.to_csv() == ('name,energy_j\r\n"line\nbreak",0.30000000000000004\r\n'
                              '"say ""hi""",\r\n')
    assert json.loads(table.to_json()) == [{"name": "line\nbreak", "energy_j": 0.1 + 0.2},
                                           {"name": 'say "hi"', "energy_j": None}]
    assert [text for _, _, text in table.cells(("x", 7200.0))] == ["x", "2 Wh"]
    # a long table streams in chunks of 1,000 rows (each a trip through the server's threads)
    long = Table("t", "T", table.columns, [(str(i), float(i)) for i in range(2500)])
    assert len(list(long.csv_chunks())) == len(list(long.json_chunks())) == 3
    assert [r["name"] for r in json.loads(long.to_json())] == [str(i) for i in range(2500)]
    assert len(csv_rows(long.to_csv())) == 2500


@pytest.mark.parametrize("by", ["project", "experiment", "component", "region", "host"])
def test_every_overview_table_downloads_with_the_read_apis_figures(served, runs, by):
    client, repo = served
    page = client.get("/?period=7d").text
    link = f"/export/overview/by-{by}.csv?period=7d"
    assert f'href="{link}"' in page and f'href="{link.replace(".csv", ".json")}"' in page
    week = RunFilter(since_s=NOW - 7 * DAY, until_s=NOW)
    expected = {a.key: a for a in repo.aggregate(by, week)}
    total = sum(a.energy_j for a in repo.aggregate("project", week))
    rows = csv_rows(client.get(link).text)
    keys = [r[by].removeprefix("'") for r in rows]
    assert sorted(keys) == sorted(expected)
    for row, key in zip(rows, keys, strict=True):
        assert float(row["energy_j"]) == expected[key].energy_j
        assert float(row["emissions_g"]) == expected[key].emissions_g
        assert int(row["runs"]) == expected[key].runs
        assert float(row["share_pct"]) == pytest.approx(100 * expected[key].energy_j / total)
        # what the page shows for that row
        assert fmt.percent(expected[key].energy_j, total) in page
    as_json = client.get(link.replace(".csv", ".json")).json()
    assert {r[by]: r["energy_j"] for r in as_json} == {k: a.energy_j for k, a in expected.items()}


def test_every_run_table_downloads_with_the_read_apis_figures(served, runs):
    client, repo = served
    run_id = runs["gpu"]
    page = client.get(f"/runs/{run_id}").text
    base = f"/export/runs/{run_id}"
    for name in ("records", "components", "work", "spans"):
        assert f'href="{base}/{name}.csv"' in page and f'href="{base}/{name}.json"' in page
    records = repo.records(run_id, limit=None)
    rows = csv_rows(client.get(f"{base}/records.csv").text)
    assert [int(r["seq"]) for r in rows] == [r.seq for r in records]
    for field in ("start_s", "duration_s", "cpu_energy_j", "gpu_energy_j", "energy_j",
                  "emissions_g", "intensity_g_per_kwh"):
        assert [float(r[field]) for r in rows] == [getattr(r, field) for r in records], field
    assert client.get(f"{base}/records.json").json()[0]["gpu_energy_j"] == records[0].gpu_energy_j
    summary = repo.summary(run_id)
    components = client.get(f"{base}/components.json").json()
    assert [(c["device"], c["method"], c["energy_j"]) for c in components] == [
        (c["device"], c["method"], c["energy_j"]) for c in summary.components]
    assert sum(c["share_pct"] for c in components) == pytest.approx(100.0)
    work = client.get(f"{base}/work.json").json()
    assert work == [{k: w[k] for k in ("unit", "count", "energy_j_per_unit",
                                       "emissions_g_per_unit")} for w in summary.work]
    spans = {s["span_id"]: s for s in client.get(f"{base}/spans.json").json()}
    for span in repo.spans(run_id):
        assert spans[span.span_id]["energy_j"] == span.energy_j
        assert spans[span.span_id]["count"] == span.count
        assert fmt.energy(span.energy_j) in page
    assert client.get(f"{base}/rescores.json").json() == []


def test_a_long_runs_records_download_is_streamed_in_pages(served, runs, monkeypatch):
    from wattprint.server.dashboard import exports

    client, repo = served
    monkeypatch.setattr(exports, "_RECORD_PAGE", 2)  # 6 records: three reads and one empty
    calls = []
    original = exports.all_records

    def counted(data, run_id):
        calls.append(run_id)
        return original(data, run_id)

    monkeypatch.setattr(exports, "all_records", counted)
    rows = csv_rows(client.get(f"/export/runs/{runs['gpu']}/records.csv").text)
    assert [int(r["seq"]) for r in rows] == [r.seq for r in repo.records(runs["gpu"],
                                                                          limit=None)]
    assert len(calls) == 1


@pytest.mark.parametrize("url, status, message", [
    ("/export/runs/{a}/bogus.csv", 404, "no table 'bogus' here; choose one of records"),
    ("/export/runs/{a}/records.xml", 404, "no export as 'xml'"),
    ("/export/runs/not-a-run/records.csv", 404, "not-a-run"),
    ("/export/overview/by-project.csv?period=fortnight", 404, "unknown period"),
    ("/export/overview/by-colour.csv", 404, "choose one of by-project"),
    ("/export/compare/comparison.csv?run={a}", 404, "pick at least 2 runs"),
])
def test_bad_downloads_say_what_to_do(served, runs, url, status, message):
    client, _ = served
    answer = client.get(url.format(a=runs["gpu"]))
    assert answer.status_code == status and message in unescape(answer.text)


def test_runs_are_picked_by_checkbox_without_javascript_and_from_a_run_page(served, runs):
    client, _ = served
    html = client.get("/runs").text
    form = re.search(r'<form id="compare-form" method="get" action="/compare"', html)
    assert form is not None
    boxes = re.findall(r'<input type="checkbox" name="run" value="([0-9a-f]+)" '
                       r'form="compare-form"', html)
    assert sorted(boxes) == sorted(runs.values())
    # the run page's "Compare with…" opens its project's runs with that run ticked
    page = client.get(f"/runs/{runs['mid']}").text
    link = unescape(re.search(r'<a href="([^"]+)" data-testid="compare-with">', page).group(1))
    assert link == f"/runs?project=nlp&run={runs['mid']}"
    picked = client.get(link).text
    assert re.search(rf'value="{runs["mid"]}" form="compare-form" aria-label="[^"]*" checked',
                     picked)
    # a ticked run outside this page's filter stays in the form
    other = client.get(f"/runs?project=vision&run={runs['mid']}").text
    assert re.search(rf'<input type="checkbox" name="run" value="{runs["mid"]}" checked>', other)
    # what the form sends is a comparison; from there "Add runs…" keeps both ticked, and
    # "remove" drops one of three
    page = client.get(compare_url(runs["mid"], runs["gpu"])).text
    add = unescape(re.search(r'<a href="([^"]+)" data-testid="add-runs">', page).group(1))
    assert add == f"/runs?run={runs['mid']}&run={runs['gpu']}"
    ticked = re.findall(r'value="([0-9a-f]+)" form="compare-form" aria-label="[^"]*" checked',
                        client.get(add).text)
    assert sorted(ticked) == sorted([runs["mid"], runs["gpu"]])
    three = client.get(compare_url(runs["mid"], runs["gpu"], runs["cpu"])).text
    removes = [unescape(h) for h in re.findall(r'<a class="remove" href="([^"]+)"', three)]
    assert removes[1] == f"/compare?run={runs['mid']}&run={runs['cpu']}"
    assert "remove" not in page.split('data-testid="compared-runs"')[1].split("</ol>")[0]


def test_a_running_run_is_compared_as_of_loading_and_says_so(runs):
    tracker, clock = dashkit.tracker(project="live", experiment="now", wall_s=NOW - 60)
    tracker.start()
    try:
        for _ in range(2):
            clock.advance(5.0)
            tracker.flush()
        app, repo = dashkit.app(now_s=NOW - 45)
        with TestClient(app) as client:
            html = client.get(compare_url(runs["mid"], tracker.run_id)).text
            assert cell(html, "status", 1) == "running"
            note = re.search(r'data-testid="running-note">(.*?)</p>', html).group(1)
            assert unescape(note).startswith("Run 2 is still running: its figures are as of")
            so_far = sum(r.energy_j for r in repo.records(tracker.run_id, limit=None))
            assert cell(html, "energy_j", 1).startswith(fmt.energy(so_far))
            assert 'data-testid="running-note"' not in client.get(
                compare_url(runs["mid"], runs["gpu"])).text
        repo.close()
    finally:
        tracker.stop()
