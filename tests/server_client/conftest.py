"""The tracker's side of the team server: the http sink, login and push."""

from __future__ import annotations

import sys
from pathlib import Path

# Helpers beside this file (run_items) and the exporter tests' helpers, importable by name.
_HERE = Path(__file__).resolve().parent
for _folder in (_HERE, _HERE.parent / "exporter"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
