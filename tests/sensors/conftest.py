"""Fixtures for sensor tests.

``tests/`` is deliberately not a package (pytest runs with ``--import-mode=importlib`` because test
basenames repeat across folders), so the shared fakes are made importable by putting ``tests/``
itself on ``sys.path``; ``fakes`` then resolves as a namespace package, from here and from the
test modules (this conftest is imported before them).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS_DIR = str(Path(__file__).resolve().parent.parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from fakes.powercap import FakePowercap  # needs the sys.path entry above


@pytest.fixture
def fake_powercap(tmp_path: Path) -> FakePowercap:
    """An empty powercap tree under ``tmp_path/sys``; add zones with ``.package()`` / ``.zone()``."""
    return FakePowercap(tmp_path / "sys")
