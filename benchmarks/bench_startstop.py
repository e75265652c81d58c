"""Construct + start + stop of an empty tracked block, in fresh processes, with the default
SQLite store (which exists after the warm-up run, as it does for every run but a machine's first).

Goal: construct + start + stop <= 50 ms, with no network access at all (every socket connect is
counted and refused). ``from wattprint import Tracker`` is timed before it (its own goal is in
bench_import), and a warm second run in-process after it.
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
from wattprint import Tracker
t1 = time.perf_counter()
tracker = Tracker()
t2 = time.perf_counter()
tracker.start()
tracker.stop()
t3 = time.perf_counter()
again = Tracker()
t4 = time.perf_counter()
again.start(); again.stop()
t5 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "construct_ms": (t2 - t1) * 1e3,
                  "start_stop_ms": (t3 - t2) * 1e3,
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
        "import_ms": round(median([r["import_ms"] for r in rows]), 2),
        "construct_ms": round(median([r["construct_ms"] for r in rows]), 2),
        "start_stop_ms": round(median([r["start_stop_ms"] for r in rows]), 2),
        "warm_start_stop_ms": round(median([r["warm_start_stop_ms"] for r in rows]), 2),
        "network_connects": sum(len(r["connects"]) for r in rows),
        "construct_start_stop_ms": round(median(
            [r["construct_ms"] + r["start_stop_ms"] for r in rows]), 2),
        "goal_construct_start_stop_ms": 50,
    })


if __name__ == "__main__":
    main()
