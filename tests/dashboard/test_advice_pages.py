"""The run page's "Where could it have run?" and "What was wasted" on the local dashboard: the
figures shown are the advice library's own (formatted by fmt), regions can be added by
``regions=``, a name that is no region is said on the page, a run too long to scan says so."""

from __future__ import annotations

import re
import sys
from html import unescape
from pathlib import Path

import dashkit
import pytest
from starlette.testclient import TestClient

from wattprint.advice.waste import waste_report
from wattprint.advice.where import where_advice
from wattprint.config import load_config
from wattprint.server.dashboard import advice_view, fmt
from wattprint.server.dashboard.app import create_dashboard_app
from wattprint.server.dashboard.local import LocalStoreData
from wattprint.store import open_repository

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "advice"))
import advicekit  # noqa: E402  (tests/advice's run builders: a crafted training run)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def where_rows(html: str) -> list[tuple[str, list[str]]]:
    """(region, [cell texts]) of each row of the where table."""
    rows = re.findall(r'<tr data-testid="where-row" data-region="([^"]+)">(.*?)</tr>', html,
                      re.S)
    return [(region, [text(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", body, re.S)])
            for region, body in rows]


def findings(html: str) -> dict[tuple[str, str], dict[str, str]]:
    out = {}
    for kind, device, body in re.findall(
            r'data-testid="waste-finding" data-kind="([^"]+)" data-device="([^"]+)">(.*?)</div>',
            html, re.S):
        out[(kind, device)] = {name: text(value) for name, value in re.findall(
            r'<dd data-testid="waste-(\w+)">(.*?)</dd>', body, re.S)}
    return out


@pytest.fixture
def served():
    run, records = advicekit.training_run("gpu00001")
    advicekit.store_run(run, records)
    repo = open_repository(load_config().store_path)
    client = TestClient(create_dashboard_app(LocalStoreData(repo),
                                             allowed_hosts=("testserver",)))
    yield client, repo
    repo.close()


def test_where_shows_the_librarys_ranking_of_the_runs_provider(served):
    client, repo = served
    page = client.get("/runs/gpu00001")
    assert page.status_code == 200
    advice = where_advice(run=repo.summary("gpu00001"), cloud="aws")
    rows = where_rows(page.text)
    assert [r for r, _ in rows] == [o.label for o in advice.options]
    assert len(rows) == len(advice.options) > 30
    shown, _, folded = page.text.partition('data-testid="where-more"')
    assert [r for r, _ in where_rows(shown)] == [o.label for o in advice.options[:10]]
    assert [r for r, _ in where_rows(folded)] == [o.label for o in advice.options[10:]]
    assert f"The other {len(advice.options) - 10} regions, ranked</summary>" in folded
    for (_, cells), option in zip(rows, advice.options, strict=True):
        assert cells[2] == fmt.intensity(option.figure.comparable_g_per_kwh)
        assert cells[3].rstrip("*") == fmt.number(option.pue.pue)
        assert cells[4] == fmt.emissions(option.emissions_g)
        assert cells[5] == ("−" if option.saving_g < 0 else "") + fmt.emissions(
            abs(option.saving_g))
        assert cells[6] == f"{option.saving_pct:.0f}%"
    section = text(page.text)
    assert "every aws region (the run ran on aws)" in section
    assert advice.reference is not None
    assert ("Savings against aws eu-west-1 (where it ran): "
            f"{fmt.emissions(advice.reference.emissions_g)}") in section
    assert "Basis: lifecycle-comparable gCO2e/kWh" in section
    assert "Caveats: latency" in section and "data residency" in section


def test_regions_can_be_added_and_a_wrong_name_is_said_on_the_page(served):
    client, repo = served
    page = client.get("/runs/gpu00001", params={"regions": "gcp/europe-west9, atlantis"})
    assert page.status_code == 200
    rows = dict(where_rows(page.text))
    paris = rows["gcp europe-west9"]
    advice = where_advice(run=repo.summary("gpu00001"), cloud="aws", extra=["gcp/europe-west9"])
    option = next(o for o in advice.options if o.label == "gcp europe-west9")
    assert paris[4] == fmt.emissions(option.emissions_g) and paris[7] == "96%"  # Google CFE
    assert "added" in paris[1]
    assert 'role="alert"' in page.text and "unknown region 'atlantis'" in text(page.text)
    assert 'value="gcp/europe-west9, atlantis"' in page.text  # the form keeps what was typed


def test_an_added_region_below_the_ten_cleanest_stays_in_view(served):
    client, repo = served
    page = client.get("/runs/gpu00001", params={"regions": "gcp/asia-south1"})
    advice = where_advice(run=repo.summary("gpu00001"), cloud="aws", extra=["gcp/asia-south1"])
    labels = [o.label for o in advice.options]
    assert labels.index("gcp asia-south1") >= 10  # a coal-heavy grid: far down the ranking
    shown, _, folded = page.text.partition('data-testid="where-more"')
    assert [r for r, _ in where_rows(shown)] == labels[:10] + ["gcp asia-south1"]
    assert "gcp asia-south1" not in dict(where_rows(folded))


def test_what_was_wasted_shows_the_librarys_findings(served):
    client, repo = served
    page = client.get("/runs/gpu00001")
    report = waste_report(repo.info("gpu00001"), repo.records("gpu00001"))
    shown = findings(page.text)
    assert set(shown) == {(f.kind, f.device) for f in report.findings} == {
        ("idle_accelerator", "nvml:0"), ("gpu_waiting_on_cpu", "nvml:0"),
        ("other_processes", "cpu:model")}
    for f in report.findings:
        cells = shown[(f.kind, f.device)]
        assert cells["time"] == f"{fmt.duration(f.seconds)} ({100 * f.share_of_time:.0f}% of " \
                                "the run)"
        assert cells["saving"] == f"{fmt.energy(f.saving_j)}, {fmt.emissions(f.saving_g)} CO₂e"
        assert cells["energy"].startswith(fmt.energy(f.energy_j))
    idle = shown[("idle_accelerator", "nvml:0")]
    assert idle["time"] == f"{fmt.duration(100.0)} (50% of the run)"
    assert "inferred from power" in text(page.text)
    assert f"Total saving at most {fmt.energy(report.saving_j)}" in text(page.text)


def test_a_long_run_is_scanned_on_request_and_a_very_long_one_not_at_all(served, monkeypatch):
    client, _ = served
    monkeypatch.setattr(advice_view, "AUTO_WASTE_RECORDS", 5)  # the run holds 20
    page = client.get("/runs/gpu00001", params={"regions": "gcp/europe-west9"})
    section = text(page.text)
    assert "Not computed: this run holds 20 records; the page scans up to 5" in section
    assert findings(page.text) == {}
    assert 'name="waste" value="scan"' in page.text
    assert '<input type="hidden" name="regions" value="gcp/europe-west9">' in page.text
    scanned = client.get("/runs/gpu00001", params={"regions": "gcp/europe-west9",
                                                    "waste": "scan"})
    assert len(findings(scanned.text)) == 3
    assert "gcp europe-west9" in dict(where_rows(scanned.text))  # the regions kept
    monkeypatch.setattr(advice_view, "MAX_WASTE_RECORDS", 10)
    for params in ({}, {"waste": "scan"}):
        page = client.get("/runs/gpu00001", params=params)
        assert "Not computed: this run holds more than 10 records" in text(page.text)
        assert "wattprint advise gpu00001" in text(page.text)
        assert 'value="scan"' not in page.text and findings(page.text) == {}


def test_a_run_without_cloud_is_re_priced_in_every_region_and_no_gpu_is_said(served):
    client, _ = served
    run = dashkit.finished_run(records=3)  # a tracker run in FR, CPU and RAM only
    page = client.get(f"/runs/{run.run_id}")
    assert page.status_code == 200
    section = text(page.text)
    assert "every bundled cloud region (the run's cloud is not known)" in section
    assert "Savings against zone FR (where it ran)" in section
    assert "no GPU in the records" in section


def test_both_sections_download_as_csv_and_json_with_the_librarys_figures(served):
    import csv
    import io

    client, repo = served
    page = client.get("/runs/gpu00001", params={"regions": "gcp/europe-west9"})
    assert 'href="/export/runs/gpu00001/where.csv?regions=gcp%2Feurope-west9"' in page.text
    assert 'href="/export/runs/gpu00001/waste.json"' in page.text
    where = client.get("/export/runs/gpu00001/where.json", params={"regions": "gcp/europe-west9"})
    assert where.status_code == 200
    advice = where_advice(run=repo.summary("gpu00001"), cloud="aws", extra=["gcp/europe-west9"])
    rows = where.json()
    assert [(r["cloud"], r["region"]) for r in rows] == [(o.cloud, o.region)
                                                          for o in advice.options]
    assert [r["emissions_g"] for r in rows] == [o.emissions_g for o in advice.options]
    assert [r["saving_g"] for r in rows] == [o.saving_g for o in advice.options]
    paris = next(r for r in rows if r["region"] == "europe-west9")
    assert paris["cfe_share_pct"] == pytest.approx(96.0) and paris["pue"] == 1.12
    report = waste_report(repo.info("gpu00001"), repo.records("gpu00001"))
    waste = list(csv.DictReader(io.StringIO(client.get(
        "/export/runs/gpu00001/waste.csv").text)))
    assert [(r["kind"], r["device"]) for r in waste] == [(f.kind, f.device)
                                                         for f in report.findings]
    assert [float(r["saving_g"]) for r in waste] == [f.saving_g for f in report.findings]
    assert float(waste[0]["threshold_w"]) == 80.0


def test_a_waste_download_of_a_run_too_long_is_refused_saying_why(served, monkeypatch):
    client, _ = served
    monkeypatch.setattr(advice_view, "MAX_WASTE_RECORDS", 10)
    answer = client.get("/export/runs/gpu00001/waste.csv")
    assert answer.status_code == 404
    assert "more than 10 records" in answer.json()["detail"]
    assert client.get("/export/runs/nope/where.csv").status_code == 404
