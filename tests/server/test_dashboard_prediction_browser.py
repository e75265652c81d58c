"""The team server's run page in a real headless Chromium: "How much will it cost?" shows the
prediction a running run sent, and the newer one a later batch brings, from the page's own
poll without a reload; axe-core clean. Screenshot: tests/dashboard/artifacts/server-run-
prediction.png."""

from __future__ import annotations

import pytest
from dashboard_browser_kit import browser, local_site, sign_in, wait_for
from server_constants import PEPPER  # tests/server is on sys.path (see conftest)
from test_dashboard_prediction import Run

from wattprint.server.app import create_app
from wattprint.server.dashboard import fmt
from wattprint.server.settings import Settings

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the pages are the same on both
def test_a_running_runs_prediction_updates_on_the_team_run_page(driver, db_url, org, clock):
    from fastapi.testclient import TestClient
    from selenium.webdriver.common.by import By

    now = {"s": clock.wall}
    app = create_app(Settings(db_url=db_url, pepper=PEPPER), wall_clock=lambda: now["s"])
    run = Run(clock)

    def send() -> None:
        now["s"] = clock.wall
        with TestClient(app) as client:
            answer = client.post("/api/v1/ingest", json={"items": run.items()},
                                 headers={"Authorization": f"Bearer {org.api_key}"})
            assert answer.status_code == 200, answer.text

    def work_done() -> str | None:
        return driver.execute_script(
            "const e = document.querySelector('[data-testid=prediction-work]');"
            "return e && e.offsetParent !== null ? e.textContent : null;")

    run.work(4)
    send()
    base = f"/dashboard/orgs/{org.organisation_id}"
    browser.emulate(driver, dark=True, metrics=browser.DESKTOP)
    try:
        with browser.ServedApp(app) as server:
            sign_in(driver, local_site(server), f"{base}/runs/{run.tracker.run_id}")
            assert driver.find_element(By.ID, "run-status").text == "running"
            assert work_done() == "40 of 100 steps (40 %)"
            driver.execute_script("window.__same_page = true;")  # gone if the page reloads

            run.work(1)
            send()  # record 4 and the prediction made after it reach the server
            wait_for(lambda: work_done() == "50 of 100 steps (50 %)",
                     what="the newer prediction (polled every 2 s)")
            newer = run.tracker.prediction
            assert newer is not None and newer.seq == 4
            energy = driver.find_element(
                By.CSS_SELECTOR, "[data-testid=prediction-energy] [data-pred=energy]")
            assert energy.text == fmt.energy(newer.energy_j)
            assert driver.execute_script("return window.__same_page === true")
            driver.execute_script(
                "document.querySelector('[data-testid=prediction]').scrollIntoView()")
            browser.screenshot(driver, "server-run-prediction")
            assert browser.axe_violations(driver) == []
            assert browser.console_errors(driver) == []
            driver.get("about:blank")  # the page stops polling before its server goes
    finally:
        run.tracker.stop()
        app.state.engine.dispose()
