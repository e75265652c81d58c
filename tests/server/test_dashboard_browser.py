"""The team server's dashboard in a real headless Chromium (tests/dashboard's harness): sign in
through the sign-in page, see the overview with the API's totals, drill down to a run, sign
out; no console errors, no serious axe-core violations. Screenshots go to
tests/dashboard/artifacts/server-*.png."""

from __future__ import annotations

import pytest
from dashboard_browser_kit import browser, local_site, wait_for
from server_constants import OWNER, PEPPER  # tests/server is on sys.path (see conftest)

from wattprint.server.app import create_app
from wattprint.server.dashboard import fmt
from wattprint.server.settings import Settings

pytestmark = pytest.mark.slow


def checked(driver, name: str) -> None:
    """The page as it is: screenshot, no console error, axe-core clean."""
    browser.loaded(driver)
    browser.screenshot(driver, f"server-{name}")
    assert browser.console_errors(driver) == [], name
    assert browser.axe_violations(driver) == [], name


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the pages are the same on both
def test_sign_in_see_the_overview_drill_down_to_a_run_and_sign_out(driver, db_url, org,
                                                                   run_objects):
    from fastapi.testclient import TestClient
    from selenium.webdriver.common.by import By

    items, summary = run_objects
    now_s = items[0]["started_s"] + 3600.0
    app = create_app(Settings(db_url=db_url, pepper=PEPPER), wall_clock=lambda: now_s)
    with TestClient(app) as client:
        assert client.post("/api/v1/ingest", json={"items": items}, headers={
            "Authorization": f"Bearer {org.api_key}"}).status_code == 200
    base = f"/dashboard/orgs/{org.organisation_id}"
    browser.emulate(driver, dark=False, metrics=browser.DESKTOP)
    with browser.ServedApp(app) as server:
        site = local_site(server)
        driver.get(f"{site}{base}/?period=all")
        wait_for(lambda: "/dashboard/login" in driver.current_url, what="the sign-in page")
        checked(driver, "login")

        driver.find_element(By.ID, "email").send_keys(OWNER["email"])
        driver.find_element(By.ID, "password").send_keys("wrong password")
        driver.find_element(By.CSS_SELECTOR, "form[data-login] button").click()
        # the form posts (no script): the answer is the form again, with the message
        wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, "[data-testid=login-error]"),
                 what="the refusal")
        error = driver.find_element(By.CSS_SELECTOR, "[data-testid=login-error]")
        assert error.text == "wrong e-mail or password"
        # the browser logs the refused request itself, and nothing else
        assert [e for e in browser.console_errors(driver) if "/dashboard/login" not in e
                or "401" not in e] == []
        driver.find_element(By.ID, "password").clear()
        driver.find_element(By.ID, "password").send_keys(OWNER["password"])
        driver.find_element(By.CSS_SELECTOR, "form[data-login] button").click()
        wait_for(lambda: driver.current_url == f"{site}{base}/?period=all", what="the overview")
        energy = driver.find_element(By.CSS_SELECTOR, "[data-testid=kpi-energy] .value")
        assert energy.text == fmt.energy(summary.energy_j["total"])
        assert driver.find_element(By.CSS_SELECTOR, "[data-testid=dedup]").is_displayed()
        checked(driver, "overview")

        driver.find_element(By.LINK_TEXT, "Runs").click()
        wait_for(lambda: driver.current_url.endswith(f"{base}/runs"), what="the runs table")
        checked(driver, "runs")
        driver.find_element(By.CSS_SELECTOR, f"tr[data-run='{summary.run_id}'] a").click()
        wait_for(lambda: driver.current_url.endswith(f"{base}/runs/{summary.run_id}"),
                 what="the run page")
        wait_for(lambda: driver.execute_script(
            "const c = document.querySelector('canvas'); return !!c && c.width > 0;"),
            what="the chart")
        assert summary.run_id[:12] in driver.find_element(By.TAG_NAME, "main").text
        checked(driver, "run")

        driver.find_element(By.CSS_SELECTOR, "form[data-logout] button").click()
        wait_for(lambda: "/dashboard/login" in driver.current_url, what="signed out")
        driver.get(f"{site}{base}/")  # the session is over: back to the sign-in page
        wait_for(lambda: "/dashboard/login?next=" in driver.current_url, what="refused")
        assert browser.console_errors(driver) == []
    app.state.engine.dispose()
