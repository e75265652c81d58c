"""The run page's advice sections in a real headless Chromium: "Where could it have run?" and
"What was wasted" render with the library's figures, a region added through the form joins the
ranking, no console errors, axe-core clean in light and dark at desktop and phone width.
Screenshots: tests/dashboard/artifacts/advice-*.png."""

from __future__ import annotations

import sys
from pathlib import Path

import browser
import pytest

from wattprint.advice.where import where_advice
from wattprint.config import load_config
from wattprint.server.dashboard import fmt
from wattprint.server.dashboard.app import create_dashboard_app
from wattprint.server.dashboard.local import LocalStoreData
from wattprint.store import open_repository

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "advice"))
import advicekit  # noqa: E402  (tests/advice's run builders: a crafted training run)

pytestmark = pytest.mark.slow
RUN = "gpu00001"


@pytest.fixture
def served():
    advicekit.store_run(*advicekit.training_run(RUN))
    repo = open_repository(load_config().store_path)
    app = create_dashboard_app(LocalStoreData(repo), allowed_hosts=("127.0.0.1",))
    with browser.ServedApp(app) as server:
        yield server, repo
    repo.close()


def test_the_sections_render_and_a_region_is_added_through_the_form(driver, served):
    from selenium.webdriver.common.by import By

    server, repo = served
    browser.emulate(driver, dark=False, metrics=browser.DESKTOP)
    driver.get(f"{server.url}/runs/{RUN}")
    browser.loaded(driver)
    where = driver.find_element(By.CSS_SELECTOR, '[data-testid="where"]')
    assert where.find_element(By.TAG_NAME, "h2").text == "Where could it have run?"
    advice = where_advice(run=repo.summary(RUN), cloud="aws")
    rows = where.find_elements(By.CSS_SELECTOR, '[data-testid="where-row"]')
    assert [r.get_attribute("data-region") for r in rows] == [o.label for o in advice.options]
    first = rows[0].find_elements(By.TAG_NAME, "td")
    assert first[3].text == fmt.emissions(advice.options[0].emissions_g)
    waste = driver.find_element(By.CSS_SELECTOR, '[data-testid="waste"]')
    kinds = [f.get_attribute("data-kind") for f in
             waste.find_elements(By.CSS_SELECTOR, '[data-testid="waste-finding"]')]
    assert kinds == ["idle_accelerator", "gpu_waiting_on_cpu", "other_processes"]
    # add a region by typing it, as a reader would
    box = driver.find_element(By.ID, "where-regions")
    box.send_keys("gcp/europe-west9")
    driver.find_element(By.CSS_SELECTOR, '[data-testid="where"] button[type="submit"]').click()
    browser.wait_for(lambda: "regions=" in driver.current_url, what="the re-priced page")
    browser.loaded(driver)
    added = driver.find_element(By.CSS_SELECTOR, '[data-region="gcp europe-west9"]')
    assert "added" in added.text and "96%" in added.text  # Google's carbon-free share
    browser.screenshot(driver, "advice-added-light-desktop")
    assert browser.console_errors(driver) == []


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_the_advice_sections_are_clean_and_accessible(driver, served, dark):
    from selenium.webdriver.common.by import By

    server, _ = served
    theme = "dark" if dark else "light"
    for size, metrics in (("desktop", browser.DESKTOP), ("phone", browser.PHONE)):
        browser.emulate(driver, dark=dark, metrics=metrics)
        driver.get(f"{server.url}/runs/{RUN}?regions=atlantis")
        browser.loaded(driver)
        alert = driver.find_element(By.CSS_SELECTOR, '[data-testid="where-problems"]')
        assert "unknown region 'atlantis'" in alert.text
        driver.execute_script("document.getElementById('h-where').scrollIntoView()")
        browser.screenshot(driver, f"advice-{theme}-{size}")
        assert browser.console_errors(driver) == [], (theme, size)
        assert browser.axe_violations(driver) == [], (theme, size)
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1"), (theme, size)
