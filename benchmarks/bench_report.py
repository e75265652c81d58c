"""``wattprint report`` on a long stored run: wall time and peak memory of building the report
from a real SQLite store, and of rendering each format.

A run of --records records of 10 s each (a week is about 60,000) with two sampled GPUs, a
measured CPU and modelled RAM is written once into a temporary store; the report is then built
--repeat times (read API: info, summary, the records' figure columns for the chart).

    python benchmarks/bench_report.py [--records 100000] [--repeat 3]

Note `uptime` beside the figures: the machine's other work slows them.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from _common import emit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "advice"))


def store_long_run(path: Path, n: int) -> str:
    import reportkit

    from wattprint.records import summarize
    from wattprint.store import Store

    base = reportkit.records()
    recs = [replace(base[i % len(base)], seq=i, start_s=reportkit.T0 + 10.0 * i,
                    duration_s=10.0) for i in range(n)]
    info = replace(reportkit.info(), interval_s=10.0)
    store = Store(path)
    try:
        store.export([info])
        for i in range(0, n, 5000):
            store.export(recs[i:i + 5000])
        store.export([summarize(info, recs, exit_code=0)])
    finally:
        store.close()
    return reportkit.RUN_ID


def main() -> None:
    from wattprint.advice.report import FORMATS, build_report, render
    from wattprint.store import open_repository

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wattprint.db"
        run_id = store_long_run(path, args.records)
        builds, report = [], None
        for _ in range(args.repeat):
            repo = open_repository(path)
            began = time.perf_counter()
            report = build_report(repo, run_id, store=str(path), version="bench")
            builds.append((time.perf_counter() - began) * 1000)
            repo.close()
        assert report is not None
        renders = {}
        for fmt in FORMATS:
            began = time.perf_counter()
            text = render(report, fmt)
            renders[f"render_{fmt}_ms"] = round((time.perf_counter() - began) * 1000, 2)
            renders[f"{fmt}_kb"] = round(len(text.encode()) / 1000, 1)
    emit(f"report_{args.records}_records", {
        "build_median_ms": round(statistics.median(builds), 1), "build_max_ms": round(max(builds), 1),
        **renders, "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


if __name__ == "__main__":
    main()
