"""The data build's modules for tests: ``tools/build_data/<module>.py``.

tools/ is not on sys.path, so the package is loaded by path, once per test session.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def build_module(module: str) -> ModuleType:
    if "build_data" not in sys.modules:
        folder = REPO / "tools" / "build_data"
        spec = importlib.util.spec_from_file_location(
            "build_data", folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec and spec.loader
        package = importlib.util.module_from_spec(spec)
        sys.modules["build_data"] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"build_data.{module}")
