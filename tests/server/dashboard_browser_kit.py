"""The team server's dashboard in a real headless Chromium: tests/dashboard's Selenium harness
(browser.py) made importable from tests/server, and the sign-in through the sign-in form that
the server's browser tests share. The ``driver`` fixture is in conftest.py."""

from __future__ import annotations

import sys
from pathlib import Path

from server_constants import OWNER  # tests/server is on sys.path (see conftest)

_DASHBOARD_TESTS = str(Path(__file__).resolve().parents[1] / "dashboard")
if _DASHBOARD_TESTS not in sys.path:
    sys.path.insert(0, _DASHBOARD_TESTS)

import browser  # noqa: E402  (tests/dashboard/browser.py: the one Selenium harness)

wait_for = browser.wait_for
loaded = browser.loaded


def local_site(server: browser.ServedApp) -> str:
    """The served app's origin as ``localhost``: Chromium keeps the Secure session cookie on a
    loopback http:// origin by that name."""
    return f"http://localhost:{server.port}"


def submit(driver, css: str) -> None:
    """Click the button at ``css`` and wait for the page the form's answer replaces it with."""
    from selenium.webdriver.common.by import By

    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, css).click()
    wait_for(lambda: _stale(old), what=f"the answer to {css}")


def _stale(element) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        element.tag_name  # noqa: B018  (touching it tells whether the page was replaced)
    except StaleElementReferenceException:
        return True
    return False


def sign_in(driver, site: str, target: str) -> None:
    """Open ``target``, be sent to the sign-in form, sign in as the owner and land on it."""
    from selenium.webdriver.common.by import By

    driver.get(f"{site}{target}")
    assert "/dashboard/login" in driver.current_url
    driver.find_element(By.ID, "email").send_keys(OWNER["email"])
    driver.find_element(By.ID, "password").send_keys(OWNER["password"])
    submit(driver, "form[data-login] button")
    wait_for(lambda: driver.current_url == f"{site}{target}", what=target)
