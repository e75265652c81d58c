"""start -> stop of an empty tracked block, in fresh processes, with the default SQLite store.

Goal: <= 50 ms, with no network access at all (every socket connect is counted and refused).
Construction (config and location) is timed separately, as is a warm second run in-process.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import emit, fresh_env, median, run_python

SNIPPET = r"""
import json, socket, time
attempts = []
def refuse(self, address, *a, **k):
    attempts.append(repr(address))
    raise OSError("network disabled by the benchmark")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
t0 = time.perf_counter()
import wattprint
t1 = time.perf_counter()
tracker = wattprint.Tracker()
t2 = time.perf_counter()
tracker.start()
tracker.stop()
t3 = time.perf_counter()
again = wattprint.Tracker()
t4 = time.perf_counter()
again.start(); again.stop()
t5 = time.perf_counter()
print(json.dumps({"construct_ms": (t2 - t1) * 1e3, "start_stop_ms": (t3 - t2) * 1e3,
                  "warm_start_stop_ms": (t5 - t4) * 1e3, "connects": attempts,
                  "records": tracker.summary.records}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(Path(tmp))
        run_python(SNIPPET, env, Path(tmp))  # warm .pyc files
        for _ in range(args.runs):
            rows.append(json.loads(run_python(SNIPPET, env, Path(tmp))))
    emit("start_stop", {
        "runs": args.runs,
        "construct_ms": round(median([r["construct_ms"] for r in rows]), 2),
        "start_stop_ms": round(median([r["start_stop_ms"] for r in rows]), 2),
        "warm_start_stop_ms": round(median([r["warm_start_stop_ms"] for r in rows]), 2),
        "network_connects": sum(len(r["connects"]) for r in rows),
        "goal_start_stop_ms": 50,
    })


if __name__ == "__main__":
    main()
