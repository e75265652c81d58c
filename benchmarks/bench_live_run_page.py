"""A running run's page data on the team server at 10^6 records: ServerData.run for
``bench-long`` of bench_dashboard_server.py's database (``--keep`` once), seen as still running.

bench-long is finished there, so its stored summary is hidden from the page (the query API's
one_run answers ``summary: None`` in this process only; the database is not changed) and the
page builds the summary so far (dashboard/live_summary.py): from the rollups alone (the
database needs migration 0007's detail rollups). ``--record-path`` also times the old way,
every record summed in Python (tens of seconds), and checks the two agree on the totals.

    python benchmarks/bench_live_run_page.py [--run RUN_ID] [--repeat 5] [--record-path]

Writes one JSON line (p50/max in ms); note `uptime` (printed with it).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from typing import Any

import bench_server_query as query_bench
from _common import emit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="wattprint_bench_dashboard")
    parser.add_argument("--run", default=query_bench.LONG_RUN_ID,
                        help="the run to open (bench-000001: one of 10,000 records)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--record-path", action="store_true",
                        help="also time the summary summed record by record (slow)")
    args = parser.parse_args()

    from sqlalchemy import create_engine, text

    from wattprint.server import query
    from wattprint.server.dashboard import live_summary
    from wattprint.server.dashboard.server_data import ServerData

    db_url = query_bench._pg_base_url().replace("/postgres?", f"/{args.database}?")
    engine = create_engine(db_url)
    with engine.connect() as connection:
        org_id = int(connection.execute(text("SELECT min(id) FROM organisations")).scalar_one())
        records = int(connection.execute(text(
            "SELECT coalesce(sum(records), 0) FROM rollup_runs WHERE run_id = :r"),
            {"r": args.run}).scalar_one())
    if records == 0:
        raise SystemExit(f"no {args.run} in {args.database}: run "
                         "benchmarks/bench_dashboard_server.py --keep first")
    real_one_run = query.one_run

    def running(*a: Any, **k: Any) -> dict[str, Any] | None:
        view = real_one_run(*a, **k)
        return None if view is None else {**view, "summary": None, "status": "running"}

    query.one_run = running
    data = ServerData(engine, org_id)

    def timed() -> tuple[list[float], Any]:
        samples, summary = [], None
        for _ in range(args.repeat):
            start = time.perf_counter()
            summary = data.run(args.run).summary
            samples.append((time.perf_counter() - start) * 1000)
        return samples, summary

    load_before = os.getloadavg()
    fast_ms, fast = timed()
    assert live_summary.LIVE_WARNING in fast.warnings and fast.records == records
    result: dict[str, Any] = {
        "database": args.database, "run": args.run, "records": records,
        "rollup_path_ms": {"p50": round(statistics.median(fast_ms), 1),
                           "max": round(max(fast_ms), 1)}}
    if args.record_path:
        live_summary.RECORD_PATH_MAX_RECORDS = 10**12
        args.repeat = 1
        slow_ms, slow = timed()
        assert live_summary.LIVE_WARNING not in slow.warnings
        for name in ("duration_s", "emissions_g"):
            assert math.isclose(getattr(fast, name), getattr(slow, name), rel_tol=1e-9), name
        assert math.isclose(fast.energy_j["total"], slow.energy_j["total"], rel_tol=1e-9)
        result["record_path_ms"] = round(slow_ms[0], 1)
    result["uptime_before"] = [round(x, 2) for x in load_before]
    result["uptime_after"] = [round(x, 2) for x in os.getloadavg()]
    engine.dispose()
    emit("live_run_page", result)


if __name__ == "__main__":
    main()
