"""Dashboard tests share the run builders in dashkit.py and the Selenium harness in browser.py
(tests/ is not a package); the ``driver`` fixture is the browser tests' one Chromium."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """One headless Chromium per test module (browser.py); ``driver.downloads`` is where its
    downloads land."""
    import browser

    downloads = tmp_path_factory.mktemp("downloads")
    d = browser.start_driver(downloads)
    d.downloads = downloads
    yield d
    d.quit()
