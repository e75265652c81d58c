"""The team server's dashboard pages with 10 million records in PostgreSQL: server time, p95
page load over HTTP, and time to first render in headless Chromium.

The database is bench_server_query.py's (1,000 runs x 10,000 records of 10 s over 30 days) plus
one very long run, ``bench-long``: 1,000,000 records of 1 s (``--long-run-records``), loaded
once with ``--keep`` and measured again with ``--reuse`` (a load takes ~10 min on 2 cores).
The real app runs under uvicorn (one worker) with its wall clock at day 17 of the data, so
"last 7 days" holds a week of records; the bench signs in as the organisation's owner.

Over HTTP, for each page: the first request (a run page's points are summed by the database,
then kept), then ``--requests`` more: p50/p95 in ms and the HTML size. Pages: the overview
(all time, 7 days), the runs list, the longest run's page, an ordinary run's page, and the live
poll of the longest run. In Chromium (Debian's, via tests/dashboard/browser.py), each of the
overview and the longest run's page is loaded ``--browser-loads`` times after one warm load:
Navigation Timing's response start and load end, the first contentful paint, and for the run
page the ``charts-drawn`` mark run.js sets once its three uPlot charts are drawn
(bench_dashboard_local.page_timings: the first load warms caches and is not counted).

    python benchmarks/bench_dashboard_server.py --keep          # load once and keep
    python benchmarks/bench_dashboard_server.py --reuse --keep  # measure again
    python benchmarks/bench_dashboard_server.py --runs 50 --records-per-run 2000 \\
        --long-run-records 100000 --database wattprint_bench_small --keep  # a quick look

Writes the JSON line to stdout and benchmarks/results/dashboard_server.json. Note `uptime`.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_server_query as query_bench
from _common import emit, wait_healthy
from bench_dashboard_local import page_timings

HERE = Path(__file__).resolve().parent
OWNER = {"email": "owner@bench.test", "password": "correct horse battery"}
NOW_S = query_bench.T0_S + 17 * query_bench.DAY_S + 1234.5  # the server's clock

SERVE_MODULE = """
import os
from wattprint.server.app import create_app
from wattprint.server.settings import Settings

def make():
    now_s = float(os.environ["BENCH_NOW_S"])
    return create_app(Settings(db_url=os.environ["BENCH_DB_URL"], pepper=os.environ["BENCH_PEPPER"]),
                      wall_clock=lambda: now_s)
"""


def _serve(db_url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    (folder / "bench_dashboard_app.py").write_text(SERVE_MODULE)
    env = {**os.environ, "BENCH_DB_URL": db_url, "BENCH_PEPPER": query_bench.PEPPER,
           "BENCH_NOW_S": repr(NOW_S),
           "PYTHONPATH": f"{folder}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench_dashboard_app:make", "--port",
         str(port), "--log-level", "warning", "--no-access-log"], env=env)


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(cuts[94], 1),
            "n": len(ordered)}


def _organisation(db_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT min(id) FROM organisations")).scalar_one())
    finally:
        engine.dispose()


def _http(base: str, org_id: int, requests: int) -> tuple[dict[str, Any], dict[str, str]]:
    import httpx

    with httpx.Client(base_url=base, timeout=300.0) as client:
        wait_healthy(client, timeout_s=60, poll_s=0.2)
        login = client.post("/api/v1/login", json=OWNER)
        assert login.status_code == 200, login.text
        # the session cookie is Secure: sent by hand over this loopback http:// origin
        cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
        headers = {"Cookie": cookie}
        root = f"/dashboard/orgs/{org_id}"
        # the live poll as a page open at the run's end asks it: after the last record
        page = client.get(f"{root}/runs/{query_bench.LONG_RUN_ID}", headers=headers).text
        last_seq = json.loads(html.unescape(
            page.split('id="run-data">')[1].split("</script>")[0]))["last_seq"]
        pages = {
            "overview_all_time": f"{root}/?period=all",
            "overview_7d": f"{root}/?period=7d",
            "runs_list": f"{root}/runs",
            "run_page_longest": f"{root}/runs/{query_bench.LONG_RUN_ID}",
            "run_page_ordinary": f"{root}/runs/bench-000001",
            "live_poll_longest": f"{root}/runs/{query_bench.LONG_RUN_ID}/records.json"
                                 f"?since_seq={last_seq}",
        }
        out: dict[str, Any] = {}
        for name, path in pages.items():
            start = time.perf_counter()
            first = client.get(path, headers=headers)
            first_ms = (time.perf_counter() - start) * 1000
            assert first.status_code == 200, (path, first.status_code, first.text[:300])
            samples = []
            for _ in range(requests):
                start = time.perf_counter()
                answer = client.get(path, headers=headers)
                samples.append((time.perf_counter() - start) * 1000)
                assert answer.status_code == 200, (path, answer.status_code)
            out[name] = {"first_ms": round(first_ms, 1), **_percentiles(samples),
                         "kb": round(len(answer.content) / 1024)}
            if name == "run_page_longest":
                text = answer.text
                shown = html.unescape(text.split('data-testid="shown-as">')[1].split("<")[0]) \
                    if 'data-testid="shown-as"' in text else None
                out[name]["shown_as"] = shown
            print(f"  {name}: {out[name]}", file=sys.stderr, flush=True)
    return out, headers


def _browser(base: str, org_id: int, loads: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parent / "tests" / "dashboard"))
    import browser  # the tests' Selenium harness: Debian's chromium, headless
    from selenium.webdriver.common.by import By

    # localhost: Chromium keeps the Secure session cookie on a loopback http:// origin
    site = base.replace("127.0.0.1", "localhost")
    root = f"{site}/dashboard/orgs/{org_id}"
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        driver = browser.start_driver(Path(folder))
        try:
            driver.get(f"{site}/dashboard/login")
            driver.find_element(By.ID, "email").send_keys(OWNER["email"])
            driver.find_element(By.ID, "password").send_keys(OWNER["password"])
            driver.find_element(By.CSS_SELECTOR, "form[data-login] button").click()
            deadline = time.monotonic() + 60
            while "/dashboard/login" in driver.current_url:
                if time.monotonic() > deadline:
                    raise RuntimeError("the sign-in did not leave the sign-in page")
                time.sleep(0.1)
            for name, url, charts in (
                    ("overview_all_time", f"{root}/?period=all", False),
                    ("run_page_longest", f"{root}/runs/{query_bench.LONG_RUN_ID}", True)):
                out[name] = page_timings(driver, url, loads, charts)
                print(f"  browser {name}: {out[name]}", file=sys.stderr, flush=True)
            browser.screenshot(driver, "bench-server-run-longest")
        finally:
            driver.quit()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--records-per-run", type=int, default=10_000)
    parser.add_argument("--long-run-records", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--browser-loads", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--database", default="wattprint_bench_dashboard")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database a --keep run left, without loading")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    base = query_bench._pg_base_url()
    db_url = base.replace("/postgres?", f"/{args.database}?")
    exists = query_bench._admin(
        base, f"SELECT 1 FROM pg_database WHERE datname = '{args.database}'")
    timings: dict[str, float] = {}
    if not (args.reuse and exists):
        query_bench._admin(base, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        query_bench._admin(base, f'CREATE DATABASE "{args.database}"')
        print(f"loading {args.runs} x {args.records_per_run} records + "
              f"{args.long_run_records} in {query_bench.LONG_RUN_ID}", file=sys.stderr)
        start = time.perf_counter()
        timings = query_bench._load(db_url, args.runs, args.records_per_run,
                                    args.long_run_records)
        timings["load_total_s"] = round(time.perf_counter() - start, 1)
    else:
        query_bench._add_wires(db_url)  # a database loaded before the runs had wire objects
    try:
        org_id = _organisation(db_url)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        with tempfile.TemporaryDirectory() as folder:
            server = _serve(db_url, port, Path(folder))
            try:
                load_before = os.getloadavg()
                http, _ = _http(f"http://127.0.0.1:{port}", org_id, args.requests)
                shown = {} if args.no_browser else _browser(
                    f"http://127.0.0.1:{port}", org_id, args.browser_loads)
            finally:
                server.terminate()
                server.wait(timeout=30)
        loaded = {"runs": args.runs, "records_per_run": args.records_per_run,
                  "long_run_records": args.long_run_records} if timings else {"reused": True}
        result = {**loaded, "database": args.database,
                  **timings, **query_bench._sizes(db_url), "http": http, "browser": shown,
                  "uptime_before": [round(x, 2) for x in load_before],
                  "uptime_after": [round(x, 2) for x in os.getloadavg()]}
        emit("dashboard_server", result)
        out = HERE / "results"
        out.mkdir(exist_ok=True)
        (out / "dashboard_server.json").write_text(
            json.dumps({"benchmark": "dashboard_server", **result}, indent=2) + "\n")
    finally:
        if not args.keep:
            query_bench._admin(base, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
