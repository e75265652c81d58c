"""The run page's "How much will it cost?" block in a real headless Chromium: a live run's
prediction appears and updates from the page's own poll, without a reload; the block is
axe-core clean, light and dark. Screenshots go to tests/dashboard/artifacts/."""

from __future__ import annotations

import browser
import dashkit
import pytest
from test_prediction import NOW, predicting, work

from wattprint.server.dashboard import fmt
from wattprint.store import open_repository

pytestmark = pytest.mark.slow


def shown(driver, selector: str) -> str:
    return str(driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "return e && e.offsetParent !== null ? e.textContent : null;", selector))


def test_a_live_runs_prediction_appears_and_updates_without_reload(driver):
    t, clock = predicting()
    try:
        work(t, clock, 2)  # two records of work: too few for a prediction yet
        app, repo = dashkit.app(now_s=clock.wall, allowed_hosts=("127.0.0.1",))
        reader = open_repository(dashkit.store_path())
        with browser.ServedApp(app) as server:
            driver.get(f"{server.url}/runs/{t.run_id}")
            assert "No prediction yet" in shown(driver, '[data-testid="prediction-none"]')
            assert shown(driver, '[data-testid="prediction-work"]') == "None"  # hidden
            driver.execute_script("window.__same_page = true;")  # gone if the page reloads

            work(t, clock, 1)  # the third record: the first prediction reaches the store
            browser.wait_for(lambda: shown(driver, '[data-testid="prediction-work"]')
                     == "30 of 100 steps (30 %)", what="the first prediction (polled)")
            assert shown(driver, '[data-testid="prediction-none"]') == "None"  # now hidden
            work(t, clock, 1)
            browser.wait_for(lambda: shown(driver, '[data-testid="prediction-work"]')
                     == "40 of 100 steps (40 %)", what="the newer prediction")
            p = reader.prediction(t.run_id)
            assert p is not None and p.seq == 3
            assert shown(driver, '[data-testid="prediction-energy"] [data-pred="energy"]') \
                == fmt.energy(p.energy_j)
            assert shown(driver, '[data-testid="prediction-computed"]') \
                == f"after record 3, at {fmt.timestamp(p.at_s)}"
            assert driver.execute_script("return window.__same_page === true")
            for dark in (False, True):
                browser.emulate(driver, dark=dark, metrics=browser.DESKTOP)
                driver.execute_script(
                    "document.querySelector('[data-testid=\"prediction\"]').scrollIntoView()")
                assert browser.axe_violations(driver) == []
                browser.screenshot(driver, f"run-prediction-live-{'dark' if dark else 'light'}")
            assert browser.console_errors(driver) == []
            driver.get("about:blank")  # the page stops polling before its server goes
        reader.close()
        repo.close()
    finally:
        t.stop()


def test_an_ended_runs_prediction_against_its_totals_is_clean(driver):
    t, clock = predicting(budget_kwh=0.0005)
    work(t, clock, 6)
    t.stop()
    app, repo = dashkit.app(now_s=NOW, allowed_hosts=("127.0.0.1",))
    with browser.ServedApp(app) as server:
        driver.get(f"{server.url}/runs/{t.run_id}")
        assert "reads high" in shown(driver, '[data-testid="prediction-note"]')
        for dark, metrics in ((False, browser.DESKTOP), (True, browser.PHONE)):
            browser.emulate(driver, dark=dark, metrics=metrics)
            assert browser.axe_violations(driver) == []
            # no sideways scroll at phone width: the table scrolls inside its wrapper
            assert driver.execute_script(
                "return document.documentElement.scrollWidth <= window.innerWidth + 1")
            browser.screenshot(driver, f"run-prediction-ended-{'dark' if dark else 'light'}"
                               f"-{'phone' if metrics is browser.PHONE else 'desktop'}")
        assert browser.console_errors(driver) == []
    repo.close()
