"""Fixtures for the exporter stage: items, fake sinks and a spool in a temp dir."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The item builders and fake sinks are imported by the tests and by the real subprocesses the
# spool tests start, so they live in a plain module beside this file.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from exporter_helpers import make_info  # noqa: E402


@pytest.fixture
def info():
    return make_info()


@pytest.fixture
def spool_root(tmp_path: Path) -> Path:
    return tmp_path / "spool"
