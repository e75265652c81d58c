"""Peak RSS of a tracked process (default SQLite store, 0.1 s interval) vs bare Python.

Goal: <= bare + 12 MB.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from _common import emit, fresh_env, run_python

BARE = "import resource, json; print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))"
TRACKED = r"""
import json, resource, time, wattprint
with wattprint.Tracker(interval_s=0.1) as tracker:
    with tracker.span("work"):
        time.sleep(3)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(Path(tmp))
        bare_kb = json.loads(run_python(BARE, env, Path(tmp)))
        tracked_kb = json.loads(run_python(TRACKED, env, Path(tmp)))
    emit("rss", {
        "bare_mb": round(bare_kb / 1024, 1),
        "tracked_mb": round(tracked_kb / 1024, 1),
        "added_mb": round((tracked_kb - bare_kb) / 1024, 1),
        "goal_added_mb": 12,
    })


if __name__ == "__main__":
    main()
