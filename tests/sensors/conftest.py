"""Fixtures for sensor tests.

``tests/`` is deliberately not a package (pytest runs with ``--import-mode=importlib`` because test
basenames repeat across folders), so the shared fakes are made importable by putting ``tests/``
itself on ``sys.path``; ``fakes`` then resolves as a namespace package, from here and from the
test modules (this conftest is imported before them).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes.powercap import FakePowercap  # tests/ is on sys.path (root conftest)


@pytest.fixture
def fake_powercap(tmp_path: Path) -> FakePowercap:
    """An empty powercap tree under ``tmp_path/sys``; add zones with ``.package()`` / ``.zone()``."""
    return FakePowercap(tmp_path / "sys")
