"""The comparison in a real headless Chromium: two runs picked by checkbox on the runs table,
the comparison's charts painted with one series per run, the figures shown equal the read
API's, a download parses with the same numbers; no console errors, axe-core clean in light and
dark at desktop and phone width. Screenshots: tests/dashboard/artifacts/compare-*.png."""

from __future__ import annotations

import csv
import io
import json

import browser
import dashkit
import pytest
from dashkit import DAY, T0

from wattprint.server.dashboard import fmt

pytestmark = pytest.mark.slow
NOW = T0 + 10 * DAY


@pytest.fixture
def served():
    runs = {
        "vit": dashkit.finished_run(project="vision", experiment="vit", wall_s=NOW - 2 * DAY,
                                    records=30, gpu_w=250.0, gap_after=12).run_id,
        "bert": dashkit.finished_run(project="nlp", experiment="bert", wall_s=NOW - DAY,
                                     records=20, cpu_w=20.0).run_id,
        "gpt": dashkit.finished_run(project="nlp", experiment="gpt", wall_s=NOW - 3600,
                                    records=8, cpu_w=60.0).run_id,
    }
    app, repo = dashkit.app(now_s=NOW, allowed_hosts=("127.0.0.1",))
    with browser.ServedApp(app) as server:
        yield server, repo, runs
    repo.close()


def charts_ready(driver):
    browser.wait_for(lambda: driver.execute_script(
        "return document.documentElement.dataset.chartsDrawn") == "2", what="the charts")


def test_pick_two_runs_by_checkbox_compare_and_download(driver, served):
    from selenium.webdriver.common.by import By

    server, repo, runs = served
    browser.emulate(driver, dark=False, metrics=browser.DESKTOP)
    driver.get(server.url + "/runs")
    for name in ("vit", "bert"):
        driver.find_element(By.CSS_SELECTOR, f'input[type=checkbox][value="{runs[name]}"]').click()
    driver.find_element(By.CSS_SELECTOR, '[data-testid="compare"]').click()
    browser.wait_for(lambda: "/compare?" in driver.current_url, what="the comparison")
    charts_ready(driver)
    # one series per run on each chart (uPlot's series 0 is the x axis), both painted
    assert driver.execute_script("return document.documentElement.dataset.compareSeries") == "2"
    assert browser.canvas_painted(driver, "#chart-power") and browser.canvas_painted(driver, "#chart-energy")
    legend = [e.text for e in driver.find_elements(By.CSS_SELECTOR,
                                                   "#chart-power .u-legend .u-series th")]
    assert [text.split(". ")[0] for text in legend[1:]] == ["1", "2"]
    # the runs in the order of the runs table (newest first), figures as the read API has them
    order = [runs["bert"], runs["vit"]]
    listed = [e.get_attribute("data-run") for e in driver.find_elements(
        By.CSS_SELECTOR, '[data-testid="compared-runs"] li')]
    assert listed == order
    cells = driver.find_elements(By.CSS_SELECTOR, 'tr[data-key="energy_j"] td')
    for td, run_id in zip(cells, order, strict=True):
        total = repo.summary(run_id).energy_j["total"]
        assert td.text.splitlines()[0] == fmt.energy(total)
        assert float(td.get_attribute("data-value")) == total
    assert browser.console_errors(driver) == []

    for old in driver.downloads.glob("comparison.*"):
        old.unlink()
    driver.find_element(By.CSS_SELECTOR, '[data-testid="export-comparison-csv"]').click()
    target = driver.downloads / "comparison.csv"
    browser.wait_for(target.exists, what="the CSV download")
    rows = list(csv.DictReader(io.StringIO(target.read_text(), newline="")))
    assert [r["run_id"] for r in rows] == order
    for row, run_id in zip(rows, order, strict=True):
        summary = repo.summary(run_id)
        assert float(row["energy_j"]) == summary.energy_j["total"]
        assert float(row["emissions_g"]) == summary.emissions_g
    driver.find_element(By.CSS_SELECTOR, '[data-testid="export-curves-json"]').click()
    browser.wait_for((driver.downloads / "curves.json").exists, what="the JSON download")
    curves = json.loads((driver.downloads / "curves.json").read_text())
    assert {r["run_id"] for r in curves} == set(order)
    assert browser.console_errors(driver) == []


def test_compare_with_from_a_run_page(driver, served):
    from selenium.webdriver.common.by import By

    server, repo, runs = served
    browser.emulate(driver, dark=False, metrics=browser.DESKTOP)
    driver.get(f"{server.url}/runs/{runs['gpt']}")
    driver.find_element(By.CSS_SELECTOR, '[data-testid="compare-with"]').click()
    browser.wait_for(lambda: "/runs?" in driver.current_url, what="the runs table")
    mine = driver.find_element(By.CSS_SELECTOR, f'input[type=checkbox][value="{runs["gpt"]}"]')
    assert mine.is_selected()
    driver.find_element(By.CSS_SELECTOR, f'input[type=checkbox][value="{runs["bert"]}"]').click()
    driver.find_element(By.CSS_SELECTOR, '[data-testid="compare"]').click()
    browser.wait_for(lambda: "/compare?" in driver.current_url, what="the comparison")
    charts_ready(driver)
    assert driver.find_element(By.TAG_NAME, "h1").text == "Comparing 2 runs"
    assert browser.console_errors(driver) == []


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_comparison_is_clean_accessible_and_fits_a_phone(driver, served, dark):
    server, repo, runs = served
    theme = "dark" if dark else "light"
    url = f"{server.url}/compare?run={runs['vit']}&run={runs['bert']}&run={runs['gpt']}"
    for size, metrics in (("desktop", browser.DESKTOP), ("phone", browser.PHONE)):
        browser.emulate(driver, dark=dark, metrics=metrics)
        driver.get(url)
        charts_ready(driver)
        assert driver.execute_script(
            "return document.documentElement.dataset.compareSeries") == "3"
        browser.screenshot(driver, f"compare-{theme}-{size}")
        assert browser.console_errors(driver) == [], (theme, size)
        assert browser.axe_violations(driver) == [], (theme, size)
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"), (theme, size)
    # the runs table with its checkboxes, too
    browser.emulate(driver, dark=dark, metrics=browser.PHONE)
    driver.get(f"{server.url}/runs?run={runs['vit']}")
    browser.screenshot(driver, f"runs-picked-{theme}-phone")
    assert browser.console_errors(driver) == []
    assert browser.axe_violations(driver) == []
