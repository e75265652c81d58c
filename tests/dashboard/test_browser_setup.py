"""Without Debian's chromium the browser tests fail saying how to install it, never skip."""

from __future__ import annotations

import browser
import pytest


def test_missing_chromium_fails_with_the_install_instruction(monkeypatch):
    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium chromium-driver"):
        browser.binaries()
