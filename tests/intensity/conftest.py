"""Fixtures for the intensity tests.

``tests/`` is not a package (pytest runs with ``--import-mode=importlib``), so, as in
``tests/sensors/conftest.py``, the shared fakes are made importable by putting ``tests/`` itself
on ``sys.path``; ``fakes`` then resolves as a namespace package from the test modules.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS_DIR = str(Path(__file__).resolve().parent.parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)
