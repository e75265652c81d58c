"""`wattprint dashboard` over a local store of 1,000 runs: page load times over real HTTP.

A store is filled with ``--runs`` finished runs of ``--records`` records each (two projects,
five experiments, two hosts, a CPU and a GPU per run) plus one long run of ``--long`` records;
then ``wattprint dashboard --port 0 --store FILE`` serves it in its own process and each page
is fetched once (``first_ms``: the overview sums every run's records, the long run's page sums
its records per time bucket; both are then kept) and ``--repeat`` more times over one
keep-alive connection. Reported per page: median and p95 of the full response time (server
render + transfer), and the HTML size. Then in headless Chromium (Debian's, through
tests/dashboard/browser.py; ``--browser-loads`` loads after a warm one, 0 to skip): the
overview's and the long run's page's response start, load end, first contentful paint, and
the ``charts-drawn`` mark run.js sets once its charts are drawn.

    python benchmarks/bench_dashboard_local.py              # 1,000 runs x 100 records
    python benchmarks/bench_dashboard_local.py --runs 200 --records 50 --long 20000

Needs the ``server`` extra (``make test`` installs it). Writes the JSON line to stdout and
benchmarks/results/dashboard_local.json, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit, time_pages


def fill(path: Path, runs: int, records: int, long: int) -> tuple[str, str]:
    from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
    from wattprint.store import Store

    store = Store(path)

    def run(i: int, n: int, started: float) -> str:
        run_id = f"bench-{i:05d}"
        info = RunInfo(run_id=run_id, project=f"project-{i % 2}", experiment=f"exp-{i % 5}",
                       started_s=started, scope="machine", interval_s=10.0, pue=1.0,
                       location={"country": "FR", "subdivision": None, "resolved_by": "config"},
                       host={"hostname": f"node-{i % 2}", "pid": 1000 + i},
                       devices=({"device": "rapl:package-0", "component": "cpu",
                                 "method": "measured", "detail": "RAPL"},),
                       skipped=())
        items: list[object] = [info]
        recs = []
        for seq in range(1, n + 1):
            cpu, gpu = 400.0 + seq % 7, 2500.0 + seq % 11
            recs.append(Record(
                run_id=run_id, seq=seq, start_s=started + 10 * (seq - 1), duration_s=10.0,
                cpu_energy_j=cpu, gpu_energy_j=gpu, ram_energy_j=40.0, other_energy_j=0.0,
                energy_j=cpu + gpu + 40.0, pue=1.0, emissions_g=(cpu + gpu + 40.0) / 3.6e6 * 36,
                intensity_g_per_kwh=36.0, intensity_zone="FR", intensity_source="Ember",
                intensity_year=2024, intensity_kind="average", intensity_live=False,
                components=(ComponentEnergy("cpu", "rapl:package-0", "measured", cpu),
                            ComponentEnergy("gpu", "nvml:0", "measured", gpu))))
        for start in range(0, n, 5000):
            store.export(recs[start:start + 5000] if start else items + recs[:5000])
        store.export([summarize(info, recs, exit_code=0)])
        return run_id

    # one run an hour up to now: "last 30 days" holds 720 of them
    now = time.time()
    ids = [run(i, records, now - 3600 * (runs - i) - 10 * long) for i in range(runs)]
    long_id = run(runs, long, now - 10 * long)
    store.close()
    return ids[0], long_id


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--long", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--browser-loads", type=int, default=5)
    args = parser.parse_args()
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wattprint.db"
        start = time.perf_counter()
        short_id, long_id = fill(path, args.runs, args.records, args.long)
        fill_s = time.perf_counter() - start
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_")}
        env["WATTPRINT_HOME"] = tmp
        proc = subprocess.Popen([sys.executable, "-m", "wattprint", "dashboard", "--port", "0",
                                 "--store", str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            pages = {"overview_30d": "/?period=30d", "overview_all": "/?period=all",
                     "runs": "/runs", "runs_by_energy": "/runs?sort=-energy_j",
                     "runs_csv_all": "/runs.csv", "run_short": f"/runs/{short_id}",
                     "run_long": f"/runs/{long_id}",
                     "live_poll": f"/runs/{long_id}/records.json?since_seq={args.long}"}
            result: dict[str, object] = {"stored_runs": args.runs + 1,
                                         "stored_records": args.runs * args.records + args.long,
                                         "fill_s": round(fill_s, 1)}
            load_before = os.getloadavg()
            with httpx.Client(base_url=url, timeout=120) as client:
                result.update(time_pages(client, pages, args.repeat))
            if args.browser_loads:
                result["browser"] = browser_times(url.rstrip("/"), long_id, args.browser_loads)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    result["uptime_before"] = [round(x, 2) for x in load_before]
    result["uptime_after"] = [round(x, 2) for x in os.getloadavg()]
    emit("dashboard_local", result)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "dashboard_local.json").write_text(
        json.dumps({"benchmark": "dashboard_local", **result}, indent=2) + "\n")
    return 0


_TIMING = """
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    const drawn = performance.getEntriesByName('charts-drawn')[0];
    return {response_start_ms: nav.responseStart, response_end_ms: nav.responseEnd,
            dom_content_loaded_ms: nav.domContentLoadedEventEnd, load_end_ms: nav.loadEventEnd,
            first_contentful_paint_ms: fcp ? fcp.startTime : null,
            charts_drawn_ms: drawn ? drawn.startTime : null};"""


def page_timings(driver: object, url: str, loads: int, charts: bool) -> dict[str, object]:
    """Navigation and paint timings of ``loads`` loads of ``url`` after a warm one: median and
    worst per mark, ms from the navigation's start."""
    rows = []
    for attempt in range(loads + 1):
        driver.get(url)  # type: ignore[attr-defined]  # returns after the load event
        deadline = time.monotonic() + 60
        while True:
            timing = driver.execute_script(_TIMING)  # type: ignore[attr-defined]
            if timing["first_contentful_paint_ms"] is not None and timing["load_end_ms"] and \
                    (not charts or timing["charts_drawn_ms"] is not None):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url}: no paint within 60 s: {timing}")
            time.sleep(0.05)
        if attempt:
            rows.append(timing)
    return {key: {"p50_ms": round(statistics.median(r[key] for r in rows), 1),
                  "max_ms": round(max(r[key] for r in rows), 1)}
            for key in rows[0] if rows[0][key] is not None}


def browser_times(url: str, long_id: str, loads: int) -> dict[str, object]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "dashboard"))
    import browser  # the tests' Selenium harness: Debian's chromium, headless

    with tempfile.TemporaryDirectory() as folder:
        driver = browser.start_driver(Path(folder))
        try:
            return {"overview_all": page_timings(driver, f"{url}/?period=all", loads, False),
                    "run_long": page_timings(driver, f"{url}/runs/{long_id}", loads, True)}
        finally:
            driver.quit()


if __name__ == "__main__":
    sys.exit(main())
