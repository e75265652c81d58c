"""The local dashboard's run page offers the run's paper-ready report (``wattprint report``) in
its four formats, as downloads; the team server's pages neither link nor route them."""

from __future__ import annotations

import json

import dashkit
import pytest
from dashkit import T0

from wattprint.server.dashboard.report_download import available

NOW = T0 + 3600


@pytest.fixture
def served():
    summary = dashkit.finished_run(project="paper_x", experiment="a&b", records=4, gpu_w=250.0)
    with dashkit.client(now_s=NOW) as (client, _repo):
        yield client, summary


def test_the_run_page_links_the_four_formats(served):
    client, summary = served
    page = client.get(f"/runs/{summary.run_id}").text
    for ext in ("md", "html", "tex", "json"):
        assert f'href="/runs/{summary.run_id}/report.{ext}" download' in page


@pytest.mark.parametrize("ext,media,start", [
    ("md", "text/markdown; charset=utf-8", "# Energy and emissions of run "),
    ("html", "text/html; charset=utf-8", "<!DOCTYPE html>"),
    ("tex", "application/x-tex; charset=utf-8", "\\documentclass"),
])
def test_each_format_downloads_as_the_command_writes_it(served, ext, media, start):
    client, summary = served
    answer = client.get(f"/runs/{summary.run_id}/report.{ext}")
    assert answer.status_code == 200 and answer.headers["content-type"] == media
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="wattprint-report-{summary.run_id[:8]}.{ext}"')
    assert answer.text.startswith(start)


def test_the_json_report_holds_the_runs_figures(served):
    client, summary = served
    data = client.get(f"/runs/{summary.run_id}/report.json").json()
    assert data["energy"]["total"]["value"] == summary.energy_j["total"]
    assert data["emissions"]["operational"]["value"] == summary.emissions_g
    assert data["reproduce"]["command"] == f"wattprint report {summary.run_id} --format json"
    assert data["reproduce"]["store"].endswith("wattprint.db")


def test_unknown_run_or_format_is_a_404_saying_what_to_do(served):
    client, summary = served
    answer = client.get("/runs/ffffffff/report.md")
    assert answer.status_code == 404 and "no run matches 'ffffffff'" in answer.json()["detail"]
    answer = client.get(f"/runs/{summary.run_id}/report.pdf")
    assert answer.status_code == 404
    assert json.loads(answer.text)["detail"] == "no report as .pdf: use one of .md, .html, .tex, .json"


def test_pages_without_a_local_store_offer_no_report():
    class TeamData:  # the team server's data seam has no read-API repository
        pass

    assert available(TeamData()) is False
