"""Regenerate wattprint's bundled data tables (``make data``); the code is in ``build_data/``.

    python tools/build_data.py [--raw-dir ../shared/reference-data] [--out-root src/wattprint]
    python tools/build_data.py --check     # exit 1, with a diff summary, if the tables are stale
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, this folder is sys.path[0] and the build_data/ package beside this file
    # is what `import build_data` finds (a package wins over a module of the same name).
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from build_data.driver import main

    sys.exit(main())
