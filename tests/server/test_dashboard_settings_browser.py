"""The settings pages and the sign-in form in a real headless Chromium (tests/dashboard's
harness): with JavaScript switched off (DevTools' Emulation.setScriptExecutionDisabled) a
user signs in, creates a key and sees it once, revokes it after the confirmation, changes a
member's role and signs out; with JavaScript on, every settings page is axe-core clean in light
and dark, on a desktop and at phone width. Screenshots: tests/dashboard/artifacts/settings-*.png.
"""

from __future__ import annotations

import re

import pytest
from dashboard_browser_kit import browser, loaded, local_site, sign_in, submit, wait_for
from server_constants import OWNER, PEPPER  # tests/server is on sys.path (see conftest)
from sqlalchemy import select

from wattprint.server.accounts import add_member
from wattprint.server.app import create_app
from wattprint.server.models import ApiKey, Membership
from wattprint.server.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def served(db_url, engine, org):
    """The app under uvicorn, with a second member to manage; (site, org id, member id)."""
    with engine.begin() as c:
        member = add_member(c, org_id=org.organisation_id, actor_role="owner",
                            email="member@acme.test", role="member",
                            password="member password 1", now_s=1.0)["user_id"]
    app = create_app(Settings(db_url=db_url, pepper=PEPPER), wall_clock=lambda: 1.8e9)
    with browser.ServedApp(app) as server:
        yield local_site(server), org.organisation_id, member
    app.state.engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the pages are the same on both
def test_with_javascript_off_sign_in_create_see_once_revoke_change_a_role_sign_out(
        driver, served, engine):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    site, org_id, member = served
    settings = f"/dashboard/orgs/{org_id}/settings"
    # JavaScript off for this tab, every page it opens from now on
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    browser.emulate(driver, dark=False, metrics=browser.DESKTOP)

    driver.get(f"{site}/dashboard/login")
    driver.find_element(By.ID, "email").send_keys(OWNER["email"])
    driver.find_element(By.ID, "password").send_keys("a wrong password")
    submit(driver, "form[data-login] button")
    error = driver.find_element(By.CSS_SELECTOR, "[data-testid=login-error]")
    assert error.text == "wrong e-mail or password"
    assert driver.find_element(By.ID, "email").get_attribute("value") == OWNER["email"]
    browser.screenshot(driver, "settings-nojs-login-refused")

    sign_in(driver, site, f"{settings}/keys")
    browser.screenshot(driver, "settings-nojs-keys")
    driver.find_element(By.ID, "key-name").send_keys("nightly ci")
    driver.find_element(By.CSS_SELECTOR, "input[name=scope][value=read]").click()
    submit(driver, "form[data-testid=create-key] button")
    key = driver.find_element(By.CSS_SELECTOR, "[data-testid=new-key]").get_attribute("value")
    assert re.fullmatch(r"wp_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    # the proof that scripts are off: settings.js would have shown the Copy button
    assert not driver.find_element(By.CSS_SELECTOR, "button[data-copy]").is_displayed()
    browser.screenshot(driver, "settings-nojs-key-created")
    prefix, secret = key.split("_")[1], key.split("_", 2)[2]

    driver.get(f"{site}{settings}/keys")  # shown once: never again
    assert secret not in driver.page_source
    row = driver.find_element(By.CSS_SELECTOR, f"tr[data-key='{prefix}']")
    assert "nightly ci" in row.text and "ingest read" in row.text and "active" in row.text
    row.find_element(By.CSS_SELECTOR, "a[href$='/revoke']").click()
    loaded(driver)
    assert f"wp_{prefix}_..." in driver.find_element(By.TAG_NAME, "main").text
    browser.screenshot(driver, "settings-nojs-revoke-confirm")
    submit(driver, "form[data-testid=confirm] button")
    assert "revoked" in driver.find_element(By.CSS_SELECTOR, "[data-testid=settings-notice]").text
    state = driver.find_element(By.CSS_SELECTOR, f"tr[data-key='{prefix}'] [data-testid=state]")
    assert state.text.startswith("revoked")
    with engine.connect() as c:
        assert c.execute(select(ApiKey.revoked_s).where(ApiKey.prefix == prefix)).scalar()

    driver.get(f"{site}{settings}/members")
    Select(driver.find_element(By.ID, f"role-{member}")).select_by_value("viewer")
    submit(driver, f"tr[data-member='{member}'] form button")
    assert driver.find_element(By.CSS_SELECTOR, "[data-testid=settings-notice]").text == \
        "member@acme.test is now viewer."
    assert driver.find_element(By.CSS_SELECTOR,
                               f"tr[data-member='{member}'] [data-testid=role]").text == "viewer"
    with engine.connect() as c:
        assert c.execute(select(Membership.role).where(Membership.user_id == member)).scalar() \
            == "viewer"
    browser.screenshot(driver, "settings-nojs-members")

    submit(driver, "form[data-logout] button")
    assert driver.current_url == f"{site}/dashboard/login"
    driver.get(f"{site}{settings}/members")
    assert "/dashboard/login?next=" in driver.current_url  # the session is over


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_settings_page_is_axe_clean_light_and_dark_desktop_and_phone(driver, served):
    from selenium.webdriver.common.by import By

    site, org_id, member = served
    settings = f"/dashboard/orgs/{org_id}/settings"
    browser.emulate(driver, dark=False, metrics=browser.DESKTOP)
    sign_in(driver, site, f"{settings}/keys")
    driver.find_element(By.ID, "key-name").send_keys("laptop")
    submit(driver, "form[data-testid=create-key] button")
    created = driver.current_url  # the key page answers the POST: reloading would post again
    copy = driver.find_element(By.CSS_SELECTOR, "button[data-copy]")
    assert copy.is_displayed()  # scripts on: the Copy button is offered
    key = driver.find_element(By.CSS_SELECTOR, "[data-testid=new-key]").get_attribute("value")
    driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": site, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    copy.click()
    status = driver.find_element(By.CSS_SELECTOR, "[data-copied]")
    wait_for(lambda: status.text == "Copied.", what="the copy")
    pasted = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "navigator.clipboard.readText().then(done, e => done('refused: ' + e));")
    assert pasted == key
    prefix = key.split("_")[1]
    pages = {"members": f"{settings}/members", "projects": f"{settings}/projects",
             "keys": f"{settings}/keys", "revoke": f"{settings}/keys/{prefix}/revoke",
             "remove": f"{settings}/members/{member}/remove"}
    for dark in (False, True):
        for size, metrics in (("desktop", browser.DESKTOP), ("phone", browser.PHONE)):
            browser.emulate(driver, dark=dark, metrics=metrics)
            shots = {}
            if created:  # the new-key page once (as it was answered), in light, desktop
                shots["key-created"] = None
                created = None
            for name, path in pages.items():
                shots[name] = path
            for name, path in shots.items():
                if path is not None:
                    driver.get(f"{site}{path}")
                loaded(driver)
                label = f"settings-{name}-{'dark' if dark else 'light'}-{size}"
                browser.screenshot(driver, label)
                assert browser.console_errors(driver) == [], label
                assert browser.axe_violations(driver) == [], label
                width = driver.execute_script(
                    "return document.documentElement.scrollWidth")
                assert width <= metrics["width"], (label, width)  # no sideways page scroll
    driver.get(f"{site}/dashboard/login")
    loaded(driver)
    assert browser.axe_violations(driver) == []
