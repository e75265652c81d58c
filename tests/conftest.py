"""Shared fixtures: an isolated environment for every test and an injectable clock."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# tests/ is not a package (importlib mode: basenames repeat across folders); putting it on
# sys.path makes the shared hardware and HTTP fakes importable as `fakes.<name>` everywhere.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from fakes.clock import FakeClock  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test sees the developer's config, store or WATTPRINT_* variables."""
    for name in list(os.environ):
        if name.startswith("WATTPRINT_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("WATTPRINT_HOME", str(tmp_path / "wattprint-home"))
    monkeypatch.setenv("TZ", "Europe/Paris")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path
