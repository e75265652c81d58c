"""The dashboard in a real headless Chromium: pages load without console errors and without
serious accessibility violations (axe-core), charts are drawn, drill-down by clicking,
export downloads, and a live run's page shows a new record without a reload.

Screenshots of each page (light and dark, desktop and phone) go to tests/dashboard/artifacts/."""

from __future__ import annotations

import browser
import dashkit
import pytest
from dashkit import DAY, T0

from wattprint.server.dashboard import fmt
from wattprint.store import RunFilter

pytestmark = pytest.mark.slow
NOW = T0 + 10 * DAY


@pytest.fixture
def runs():
    return {
        "vit": dashkit.finished_run(project="vision", experiment="vit", wall_s=NOW - 2 * DAY,
                                    records=40, gpu_w=250.0, gap_after=15).run_id,
        "bert": dashkit.finished_run(project="nlp", experiment="bert", wall_s=NOW - DAY,
                                     records=6, cpu_w=20.0).run_id,
        "gpt": dashkit.finished_run(project="nlp", experiment="gpt", wall_s=NOW - 3600,
                                    records=8, cpu_w=60.0).run_id,
    }


@pytest.fixture
def served(runs):
    app, repo = dashkit.app(now_s=NOW, allowed_hosts=("127.0.0.1",))
    with browser.ServedApp(app) as server:
        yield server, repo
    repo.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_every_page_loads_clean_accessible_and_drawn(driver, served, runs, dark):
    server, repo = served
    pages = {"overview": "/?period=7d", "runs": "/runs", "run": f"/runs/{runs['vit']}"}
    theme = "dark" if dark else "light"
    for size, metrics in (("desktop", browser.DESKTOP), ("phone", browser.PHONE)):
        browser.emulate(driver, dark=dark, metrics=metrics)
        for name, path in pages.items():
            driver.get(server.url + path)
            browser.wait_for(lambda: driver.execute_script("return document.readyState") == "complete")
            if name == "run":
                browser.wait_for(lambda: driver.execute_script(
                    "return document.documentElement.dataset.chartsDrawn") == "3", what="charts")
                for chart in ("#chart-power", "#chart-energy", "#chart-intensity"):
                    assert browser.canvas_painted(driver, chart), (chart, theme, size)
            browser.screenshot(driver, f"{name}-{theme}-{size}")
            assert browser.console_errors(driver) == [], (name, theme, size)
            assert browser.axe_violations(driver) == [], (name, theme, size)
            # no horizontal scrolling of the page itself at phone width (tables scroll inside)
            assert driver.execute_script(
                "return document.documentElement.scrollWidth <= window.innerWidth + 1"), \
                (name, theme, size)


def test_drill_down_from_the_overview_to_a_run_by_clicking(driver, served, runs):
    from selenium.webdriver.common.by import By

    server, repo = served
    browser.emulate(driver, dark=False, metrics=browser.DESKTOP)
    driver.get(server.url + "/?period=7d")
    table = driver.find_element(By.CSS_SELECTOR, '[data-testid="by-project"]')
    table.find_element(By.LINK_TEXT, "nlp").click()
    browser.wait_for(lambda: "/runs?project=nlp" in driver.current_url, what="the runs page")
    rows = driver.find_elements(By.CSS_SELECTOR, '[data-testid="runs-table"] tbody tr')
    assert [r.get_attribute("data-run") for r in rows] == [runs["gpt"], runs["bert"]]
    rows[0].find_element(By.CSS_SELECTOR, "td a").click()
    browser.wait_for(lambda: driver.current_url.endswith(f"/runs/{runs['gpt']}"), what="the run page")
    assert driver.find_element(By.TAG_NAME, "h1").text == "nlp / gpt"
    energy = driver.find_element(By.CSS_SELECTOR, '[data-testid="kpi-energy"] .value').text
    assert energy == fmt.energy(repo.summary(runs["gpt"]).energy_j["total"])
    # and back through the breadcrumb, by keyboard
    from selenium.webdriver.common.keys import Keys

    # the first Tab shows the skip link, with a visible focus ring
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = driver.switch_to.active_element
    assert focused.get_attribute("class") == "skip" and focused.is_displayed()
    assert focused.location["x"] >= 0
    assert focused.value_of_css_property("outline-style") == "solid"

    crumb = driver.find_element(By.CSS_SELECTOR, "nav.crumbs a")
    crumb.send_keys(Keys.ENTER)
    browser.wait_for(lambda: driver.current_url.rstrip("/") == server.url, what="the overview")
    assert browser.console_errors(driver) == []


def test_export_downloads_the_filtered_table(driver, served, runs):
    from selenium.webdriver.common.by import By

    server, repo = served
    driver.get(server.url + "/runs?project=nlp")
    for old in driver.downloads.glob("runs.*"):
        old.unlink()
    driver.find_element(By.CSS_SELECTOR, '[data-testid="export-csv"]').click()
    target = driver.downloads / "runs.csv"
    browser.wait_for(target.exists, what="the CSV download")
    lines = target.read_text().splitlines()
    expected = repo.runs(RunFilter(project="nlp")).items
    assert lines[0].startswith("run_id,project,experiment,")
    assert [line.split(",")[0] for line in lines[1:]] == [r.run_id for r in expected]
    driver.find_element(By.CSS_SELECTOR, '[data-testid="export-json"]').click()
    browser.wait_for((driver.downloads / "runs.json").exists, what="the JSON download")
    assert browser.console_errors(driver) == []


def test_a_live_run_page_shows_a_new_record_without_reload(driver, runs):
    from selenium.webdriver.common.by import By

    tracker, clock = dashkit.tracker(project="live", experiment="now", wall_s=NOW - 60)
    tracker.start()
    try:
        for _ in range(2):
            clock.advance(5.0)
            tracker.flush()
        app, repo = dashkit.app(now_s=NOW - 45, allowed_hosts=("127.0.0.1",))
        with browser.ServedApp(app) as server:
            driver.get(f"{server.url}/runs/{tracker.run_id}")
            assert driver.find_element(By.ID, "run-status").text == "running"
            driver.execute_script("window.__same_page = true;")  # gone if the page reloads

            def seqs():
                return [int(tr.get_attribute("data-seq")) for tr in
                        driver.find_elements(By.CSS_SELECTOR, "#records-body tr")]

            before = seqs()
            assert len(before) == 2
            clock.advance(5.0)
            tracker.flush()  # a record reaches the store while the page is open
            browser.wait_for(lambda: len(seqs()) == 3, what="the new record (polled every 2 s)")
            assert seqs() == before + [before[-1] + 1]
            assert driver.execute_script("return window.__same_page === true")
            new = repo.records(tracker.run_id, since_seq=before[-1])[0]
            cells = driver.find_elements(By.CSS_SELECTOR, "#records-body tr:last-child td")
            assert fmt.energy(new.energy_j) in [c.get_attribute("textContent") for c in cells]
            assert browser.console_errors(driver) == []
        repo.close()
    finally:
        tracker.stop()
