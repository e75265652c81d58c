"""`import wattprint` cost over bare `python -c pass`: median wall time of N fresh processes.

Goal: <= 15 ms added. Also reports `from wattprint import Tracker` (loads the tracker, meter,
records and config modules) so the lazy public API is not a way to hide cost.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import emit, fresh_env, median, wall_ms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(Path(tmp))
        cwd = Path(tmp)
        cases = {
            "bare": [sys.executable, "-c", "pass"],
            "import": [sys.executable, "-c", "import wattprint"],
            "tracker": [sys.executable, "-c", "from wattprint import Tracker"],
        }
        for argv in cases.values():  # warm the page cache and .pyc files
            wall_ms(argv, env, cwd)
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):  # interleave so background noise hits all cases alike
            for key, argv in cases.items():
                times[key].append(wall_ms(argv, env, cwd))
    bare = median(times["bare"])
    emit("import", {
        "runs": args.runs,
        "bare_ms": round(bare, 2),
        "import_added_ms": round(median(times["import"]) - bare, 2),
        "tracker_import_added_ms": round(median(times["tracker"]) - bare, 2),
        "goal_import_added_ms": 15,
    })


if __name__ == "__main__":
    main()
