"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium,
and the dashboard served by uvicorn in a thread, for the browser tests.

No browser is downloaded: the tests name Debian's binaries (Selenium Manager never runs).
If they are missing the tests fail saying how to install them; `make test` installs them
(tools/browser_test_deps.sh)."""

from __future__ import annotations

import base64
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

INSTALL = ("the dashboard's browser tests need Debian's chromium and chromium-driver: run "
           "`make test` (it runs tools/browser_test_deps.sh), or `sudo apt-get install -y "
           "chromium chromium-driver`")
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core-4.14.1.min.js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}


def binaries() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or (
        "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
    if not browser or not driver:
        pytest.fail(INSTALL, pytrace=False)
    return browser, driver


def start_driver(download_dir: Path) -> Any:
    import os

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = binaries()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,900", "--hide-scrollbars", "--no-first-run",
                 "--disable-extensions", "--lang=en-US"):
        options.add_argument(flag)
    if os.geteuid() == 0:
        options.add_argument("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(download_dir),
                                              "download.prompt_for_download": False})
    return webdriver.Chrome(options=options, service=Service(executable_path=driver))


def console_errors(driver: Any) -> list[str]:
    """The browser log's errors since the last call (reading the log empties it)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE"]


def emulate(driver: Any, *, dark: bool, metrics: dict[str, Any]) -> None:
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
        {"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]})
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)


def screenshot(driver: Any, name: str) -> Path:
    """The whole page (beyond the viewport) as ARTIFACTS/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000),
                 "scale": 1}})
    path = ARTIFACTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    driver.set_script_timeout(30)
    violations: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));")
    return [v for v in violations if v["impact"] in ("serious", "critical")]


class ServedApp:
    """An ASGI app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._sock = sock
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)

    def __enter__(self) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + 10  # real time: a real server is starting
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 10 s")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self._sock.close()


def wait_for(predicate: Any, timeout_s: float = 10.0, what: str = "the page") -> None:
    """Real time: a real browser renders and polls on its own clock."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def loaded(driver: Any) -> None:
    """Wait until the page in ``driver`` has finished loading."""
    wait_for(lambda: driver.execute_script("return document.readyState") == "complete")


def canvas_painted(driver: Any, selector: str) -> bool:
    """Whether the canvas under ``selector`` has any painted (non-transparent) pixel."""
    return bool(driver.execute_script(
        "const c = document.querySelector(arguments[0] + ' canvas'); if (!c) return false;"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) return true; } return false;",
        selector))
