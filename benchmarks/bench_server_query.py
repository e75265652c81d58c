"""Team server query latency with 10 million interval records in PostgreSQL, and server RSS.

Loads ``--runs`` runs x ``--records-per-run`` records (default 1,000 x 10,000: 10 s records,
runs spread over 30 days, 4 projects, 50 hosts, 5 regions, a heartbeat a minute, a summary for
nine runs in ten) into a fresh database of the PostgreSQL test server, generated inside
PostgreSQL (INSERT ... SELECT over generate_series: no client round trips) day by day in time
order, as a live ingest lays them out (the runs active at one moment share pages), then
``rollups.rebuild`` and ANALYZE. A sample run then goes through the real ingest endpoint and its
rollup must equal its records' sums, and one ranged overview is checked against the answer
computed from the raw records (timed too: the scan the rollups replace).

Then, through the real app under uvicorn (one worker) over HTTP, ``--requests`` requests each:
the organisation overview (totals by project without a range; by project, host, region,
component and day over a 7-day range whose edges cut hours), the runs list's first page and a
deep cursor page (page 9 of 100 runs), and one run's series. Prints p50/p95/p99 in ms, load
and rebuild times, database and table sizes, and the server's RSS (now and peak).

    python benchmarks/bench_server_query.py                 # load, measure, drop
    python benchmarks/bench_server_query.py --keep          # keep the loaded database
    python benchmarks/bench_server_query.py --reuse --keep  # measure again without loading
    python benchmarks/bench_server_query.py --runs 50 --records-per-run 2000   # a quick look
    python benchmarks/bench_server_query.py --long-run-records 1000000 --keep  # + one long run

``--long-run-records N`` adds one run, ``bench-long`` (project vision, node-0, FR), of N records
of 1 s each from day 2, with a one-hour gap at its middle record: the run page's downsampling
(benchmarks/bench_dashboard_server.py) needs a run far longer than the rest.

Needs the ``server`` extra and the PostgreSQL test server (tools/pg_test_server.sh, started
if needed). 10 M records take about 4 GB of disk (``df -h``); the default drops them after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from _common import emit, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
PEPPER = "bench-pepper"
T0_S = 1_767_225_600.0  # 2026-01-01 00:00 UTC
DAY_S = 86_400.0
RECORD_S = 10.0
LONG_RUN_ID = "bench-long"
LONG_RECORD_S = 1.0
LONG_GAP_S = 3600.0
PROJECTS = ("vision", "language", "speech", "recsys")
REGIONS = ("FR", "DE", "US", "GB", "SE")
HOSTS = 50

SERVE_MODULE = """
import os
from wattprint.server.app import create_app
from wattprint.server.settings import Settings

def make():
    return create_app(Settings(db_url=os.environ["BENCH_DB_URL"], pepper=os.environ["BENCH_PEPPER"]))
"""


def _pg_base_url() -> str:
    return os.environ.get("WATTPRINT_TEST_PG_URL") or subprocess.run(
        [str(ROOT / "tools" / "pg_test_server.sh"), "start"], check=True, capture_output=True,
        text=True).stdout.strip().splitlines()[-1]


def _admin(base: str, sql: str) -> bool:
    """Run one statement on the maintenance database; False when it refers to nothing."""
    from sqlalchemy import create_engine, text

    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            return bool(connection.execute(text(sql)).first()) if sql.startswith("SELECT") \
                else (connection.execute(text(sql)) is not None)
    finally:
        engine.dispose()


def _timed(label: str, timings: dict[str, float], work: object) -> object:
    start = time.perf_counter()
    result = work()  # type: ignore[operator]
    timings[label] = round(time.perf_counter() - start, 1)
    print(f"  {label}: {timings[label]} s", file=sys.stderr, flush=True)
    return result


def _load(db_url: str, runs: int, per_run: int, long_run: int = 0) -> dict[str, float]:
    """A migrated database with the organisation, keys and the generated runs; load timings."""
    from sqlalchemy import insert, text

    from wattprint.server import rollups
    from wattprint.server.accounts import bootstrap, create_api_key
    from wattprint.server.db import make_engine
    from wattprint.server.migrate import upgrade
    from wattprint.server.models import Project

    timings: dict[str, float] = {}
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as connection:
        made = bootstrap(connection, organisation="Bench", email="owner@bench.test",
                         password="correct horse battery", pepper=PEPPER.encode(), now_s=T0_S,
                         project=PROJECTS[0])
        project_ids = [made.project_id] + [connection.execute(insert(Project).values(
            organisation_id=made.organisation_id, name=name, created_s=T0_S)
            .returning(Project.id)).scalar_one() for name in PROJECTS[1:]]
        keys = {"ingest": made.api_key, "read": create_api_key(
            connection, project_id=made.project_id, pepper=PEPPER.encode(), now_s=T0_S,
            scopes=("read",))}
        connection.execute(text("""
            INSERT INTO runs (run_id, project_id, info_received, started_s, scope, interval_s,
                              pue, host_id, hostname, country, first_seen_s)
            SELECT 'bench-' || lpad(n::text, 6, '0'), (CAST(:projects AS integer[]))[1 + n % 4], true,
                   :t0 + n * (30 * 86400.0 / :runs) + (n * 7919 % 600), 'machine', :record_s,
                   1.0, md5('host' || (n % :hosts))::text, 'node-' || (n % :hosts),
                   (CAST(:regions AS text[]))[1 + n % 5], :t0
            FROM generate_series(0, :runs - 1) AS n"""),
            {"projects": project_ids, "runs": runs, "t0": T0_S, "record_s": RECORD_S,
             "hosts": HOSTS, "regions": list(REGIONS)})
        if long_run:
            connection.execute(text("""
                INSERT INTO runs (run_id, project_id, info_received, started_s, scope,
                                  interval_s, pue, host_id, hostname, country, first_seen_s)
                VALUES (:run_id, :project, true, :started, 'machine', :record_s, 1.0,
                        md5('host0')::text, 'node-0', 'FR', :t0)"""),
                {"run_id": LONG_RUN_ID, "project": project_ids[0], "started": T0_S + 2 * DAY_S,
                 "record_s": LONG_RECORD_S, "t0": T0_S})

    def records() -> None:
        # a bulk load's usual order: rows first, then the indexes built once (not row by row)
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE records DROP CONSTRAINT records_pkey"))
            connection.execute(text("DROP INDEX ix_records_start"))
        # day by day, each day's records in time order: the order a live ingest writes them
        # (the runs active at one moment share pages), one transaction a day
        last_s = max(T0_S + 31 * DAY_S + per_run * RECORD_S,
                     T0_S + 2 * DAY_S + long_run * LONG_RECORD_S + LONG_GAP_S)
        day_s = T0_S
        while day_s < last_s:
            with engine.begin() as connection:
                connection.execute(text("""
                    INSERT INTO records (run_id, seq, start_s, duration_s, cpu_energy_j,
                        gpu_energy_j, ram_energy_j, other_energy_j, energy_j, pue, emissions_g,
                        intensity_g_per_kwh, intensity_zone, intensity_source, intensity_year,
                        intensity_kind, intensity_live, components, gaps, work)
                    SELECT r.run_id, s.seq, s.start_s, r.interval_s,
                           cpu, gpu, 3.0 * r.interval_s, 0.0, cpu + gpu + 3.0 * r.interval_s,
                           1.0, (cpu + gpu + 3.0 * r.interval_s) * 360.0 / 3.6e6, 360.0,
                           r.country, 'bench', 2024,
                           CASE WHEN r.run_id LIKE '%7' THEN 'marginal' ELSE 'average' END,
                           false, '[]', '[]', '[]'
                    FROM runs AS r
                    CROSS JOIN LATERAL (
                        SELECT CASE WHEN r.run_id = :long_id THEN :long_run ELSE :per_run END
                                   AS n,
                               CASE WHEN r.run_id = :long_id THEN :gap_s ELSE 0.0 END AS gap_s
                    ) AS k
                    CROSS JOIN LATERAL (
                        SELECT seq, r.started_s + seq * r.interval_s
                                    + CASE WHEN seq >= k.n / 2 THEN k.gap_s ELSE 0.0 END
                                    AS start_s,
                               (50.0 + (seq % 17) * 0.3) * r.interval_s AS cpu,
                               CASE WHEN r.run_id LIKE '%3' THEN 0.0
                                    ELSE (250.0 + (seq % 29) * 1.1) * r.interval_s END AS gpu
                        FROM generate_series(
                            greatest(0, ceil((:low - r.started_s - k.gap_s) / r.interval_s))::int,
                            least(k.n, ceil((:high - r.started_s) / r.interval_s))::int - 1
                        ) AS seq) AS s
                    WHERE s.start_s >= :low AND s.start_s < :high
                    ORDER BY s.start_s"""),
                    {"per_run": per_run, "low": day_s, "high": day_s + DAY_S,
                     "long_id": LONG_RUN_ID, "long_run": long_run, "gap_s": LONG_GAP_S})
            day_s += DAY_S
            print(f"    records up to day {round((day_s - T0_S) / DAY_S)}", file=sys.stderr,
                  flush=True)

    def indexes() -> None:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE records ADD PRIMARY KEY (run_id, seq)"))
            connection.execute(text("CREATE INDEX ix_records_start ON records (start_s)"))

    def heartbeats() -> None:
        with engine.begin() as connection:
            connection.execute(text("""
                INSERT INTO heartbeats (run_id, at_s, every_s)
                SELECT run_id, started_s + k * 60.0, 60.0
                FROM runs CROSS JOIN LATERAL generate_series(0, (CASE WHEN run_id = :long_id
                    THEN :long_span ELSE :span END / 60)::int) AS k"""),
                {"span": per_run * RECORD_S, "long_id": LONG_RUN_ID,
                 "long_span": long_run * LONG_RECORD_S + LONG_GAP_S})

    def rebuild() -> None:
        with engine.begin() as connection:
            rollups.rebuild(connection)

    def summaries() -> None:
        with engine.begin() as connection:
            connection.execute(text("""
                INSERT INTO summaries (run_id, status, exit_code, duration_s, energy_j,
                                       emissions_g, records, wire)
                SELECT run_id, 'finished', 0, sum(duration_s), sum(energy_j), sum(emissions_g),
                       sum(records), '{}'
                FROM rollup_runs WHERE run_id NOT LIKE '%0' GROUP BY run_id"""))

    def analyze() -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))

    _timed("load_records_s", timings, records)
    _timed("records_indexes_s", timings, indexes)
    _timed("load_heartbeats_s", timings, heartbeats)
    _timed("rollups_rebuild_s", timings, rebuild)
    _timed("load_summaries_s", timings, summaries)
    _timed("wire_objects_s", timings, lambda: _add_wires(db_url))
    _timed("vacuum_analyze_s", timings, analyze)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS bench_keys (name text, key text)"))
        connection.execute(text("INSERT INTO bench_keys VALUES ('ingest', :i), ('read', :r)"),
                           {"i": keys["ingest"], "r": keys["read"]})
    engine.dispose()
    return timings


def _wire_templates() -> tuple[str, str]:
    """A run's start and summary as wire objects with placeholders the SQL below replaces per
    run (names as "__NAME__", numbers as sentinels), so the dashboard can show every run."""
    import json

    from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
    from wattprint.wire import to_wire

    info = RunInfo(run_id="__RUN__", project="__PROJECT__", experiment="bench",
                   started_s=T0_S, scope="machine", interval_s=RECORD_S, pue=1.0,
                   location={"country": "FR", "subdivision": None, "resolved_by": "config",
                             "detail": "bench", "zone": "FR"},
                   host={"hostname": "__HOST__", "pid": 1},
                   devices=({"device": "rapl:package-0", "component": "cpu",
                             "method": "measured", "detail": "RAPL"},
                            {"device": "nvml:0", "component": "gpu", "method": "measured",
                             "detail": "NVML"}), skipped=())
    record = Record(run_id="__RUN__", seq=0, start_s=T0_S, duration_s=11111.5,
                    cpu_energy_j=1111.5, gpu_energy_j=2222.5, ram_energy_j=3333.5,
                    other_energy_j=0.0, energy_j=6667.5, pue=1.0, emissions_g=4444.5,
                    intensity_g_per_kwh=360.0, intensity_zone="FR", intensity_source="bench",
                    intensity_year=2024, intensity_kind="average", intensity_live=False,
                    components=(ComponentEnergy("cpu", "rapl:package-0", "measured", 1111.5),
                                ComponentEnergy("gpu", "nvml:0", "measured", 2222.5)))
    summary = json.dumps(to_wire(summarize(info, [record], exit_code=0)))
    mean = json.dumps(to_wire(summarize(info, [record], exit_code=0))["intensity"]["g_per_kwh"])
    return json.dumps(to_wire(info)), summary.replace(mean, "360.0")


def _add_wires(db_url: str) -> None:
    """Runs and summaries loaded without their wire objects get them (idempotent): the
    dashboard's run page reads the run's start and summary from there."""
    from sqlalchemy import create_engine, text

    info, summary = _wire_templates()
    names = ("'\"__RUN__\"'", "to_json(r.run_id)::text"), \
        ("'\"__PROJECT__\"'", "to_json(p.name)::text"), \
        ("'\"__HOST__\"'", "to_json(r.hostname)::text"), \
        ("'\"started_s\": 1767225600.0'", "'\"started_s\": ' || r.started_s::text"), \
        ("'\"interval_s\": 10.0'", "'\"interval_s\": ' || r.interval_s::text")

    def replaced(template: str, more: tuple[tuple[str, str], ...] = ()) -> str:
        sql = template
        for old, new in names + more:
            sql = f"replace({sql}, {old}, {new})"
        return sql

    sums = (("'11111.5'", "s.duration_s::text"), ("'1111.5'", "s.cpu::text"),
            ("'2222.5'", "s.gpu::text"), ("'3333.5'", "s.ram::text"),
            ("'6667.5'", "s.energy::text"), ("'4444.5'", "s.emissions::text"),
            ("'\"records\": 1'", "'\"records\": ' || s.records::text"))
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"""
                UPDATE runs AS r SET wire = CAST({replaced("CAST(:info AS text)")} AS json)
                FROM projects AS p WHERE p.id = r.project_id AND r.wire IS NULL"""),
                {"info": info})
            connection.execute(text(f"""
                UPDATE summaries AS m
                SET wire = CAST({replaced("CAST(:summary AS text)", sums)} AS json)
                FROM runs AS r JOIN projects AS p ON p.id = r.project_id,
                     (SELECT run_id, sum(duration_s) AS duration_s, sum(cpu_energy_j) AS cpu,
                             sum(gpu_energy_j) AS gpu, sum(ram_energy_j) AS ram,
                             sum(energy_j) AS energy, sum(emissions_g) AS emissions,
                             sum(records) AS records
                      FROM rollup_runs GROUP BY run_id) AS s
                WHERE r.run_id = m.run_id AND s.run_id = m.run_id
                  AND CAST(m.wire AS text) = '{{}}'"""), {"summary": summary})
    finally:
        engine.dispose()


def _keys(db_url: str) -> dict[str, str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(text("SELECT name, key FROM bench_keys")).all())
    finally:
        engine.dispose()


def _sizes(db_url: str) -> dict[str, object]:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            def size(sql: str) -> float:
                return round(int(connection.execute(text(sql)).scalar_one()) / 2**20, 1)

            return {
                "records": int(connection.execute(text("SELECT count(*) FROM records"))
                               .scalar_one()),
                "rollup_hour_rows": int(connection.execute(
                    text("SELECT count(*) FROM rollup_run_hours")).scalar_one()),
                "db_mb": size("SELECT pg_database_size(current_database())"),
                "records_mb": size("SELECT pg_total_relation_size('records')"),
                "rollups_mb": size("SELECT pg_total_relation_size('rollup_run_hours') + "
                                   "pg_total_relation_size('rollup_runs')"),
            }
    finally:
        engine.dispose()


def _raw_answer(db_url: str, since_s: float, until_s: float) -> tuple[dict[str, float], float]:
    """Energy per project over [since, until) from the raw records (clipped pro rata), and the
    seconds that took: the scan the rollups replace."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            start = time.perf_counter()
            rows = connection.execute(text("""
                SELECT p.name, sum(r.energy_j * (least(r.start_s + r.duration_s, :u)
                                                 - greatest(r.start_s, :s)) / r.duration_s)
                FROM records r JOIN runs ON runs.run_id = r.run_id
                JOIN projects p ON p.id = runs.project_id
                WHERE r.start_s < :u AND r.start_s + r.duration_s > :s
                GROUP BY p.name"""), {"s": since_s, "u": until_s}).all()
            return {name: float(value) for name, value in rows}, time.perf_counter() - start
    finally:
        engine.dispose()


def _serve(db_url: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    (folder / "bench_query_app.py").write_text(SERVE_MODULE)
    env = {**os.environ, "BENCH_DB_URL": db_url, "BENCH_PEPPER": PEPPER,
           "PYTHONPATH": f"{folder}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "bench_query_app:make", "--port",
         str(port), "--log-level", "warning", "--no-access-log"], env=env)


def _rss_peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _percentiles(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(cuts[94], 1),
            "p99_ms": round(cuts[98], 1), "n": len(ordered)}


def _cpu_s(server_pid: int, db_url: str) -> dict[str, float]:
    """CPU seconds so far of the server process and of the PostgreSQL backends serving it."""
    from sqlalchemy import create_engine, text

    def used(pid: int) -> float:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            return 0.0
        return float(times.user + times.system)

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            pids = connection.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).scalars().all()
    finally:
        engine.dispose()
    return {"server": used(server_pid), "postgres": sum(used(pid) for pid in pids)}


def _measure(base: str, read_key: str, ingest_key: str, db_url: str, runs: int,
             requests: int, raw: tuple[dict[str, float], float, float, float],
             server_pid: int) -> dict[str, object]:
    import httpx

    headers = {"Authorization": f"Bearer {read_key}"}
    out: dict[str, object] = {}
    with httpx.Client(base_url=base, headers=headers, timeout=120.0) as client:
        wait_healthy(client, timeout_s=30, poll_s=0.1)
        # a sample run through the real ingest path: its rollup equals its records' sums
        out["ingest_check"] = _ingest_sample(client, ingest_key, db_url)
        # the ranged overview against the raw records' answer
        want, raw_s, since_s, until_s = raw
        got = client.get("/api/v1/totals", params={"by": "project", "since": since_s,
                                                   "until": until_s}).json()["groups"]
        got_j = {g["key"]: g["energy_j"] for g in got}
        worst = max(abs(got_j[k] - v) / v for k, v in want.items())
        assert set(got_j) == set(want) and worst < 1e-9, (got_j, want)
        out["raw_records_scan_7d_ms"] = round(raw_s * 1000, 1)
        out["rollup_vs_raw_max_rel_diff"] = worst

        page, cursor = None, None
        for _ in range(9):  # walk to page 9 of 100 runs
            page = client.get("/api/v1/runs", params={"limit": 100,
                                                      **({"cursor": cursor} if cursor else {})})
            cursor = page.json()["next_cursor"]
        deep_cursor = cursor
        one_run = f"bench-{runs // 2:06d}"
        run_start = client.get(f"/api/v1/runs/{one_run}").json()["started_s"]
        ranged = {"since": since_s, "until": until_s}
        cases: dict[str, tuple[str, dict[str, object]]] = {
            "overview_by_project_all_time": ("/api/v1/totals", {"by": "project"}),
            "overview_by_project_7d": ("/api/v1/totals", {"by": "project", **ranged}),
            "overview_by_host_7d": ("/api/v1/totals", {"by": "host", **ranged}),
            "overview_by_region_7d": ("/api/v1/totals", {"by": "region", **ranged}),
            "overview_by_component_7d": ("/api/v1/totals", {"by": "component", **ranged}),
            "overview_by_day_7d": ("/api/v1/totals", {"by": "day", **ranged}),
            "runs_first_page": ("/api/v1/runs", {"limit": 100}),
            "runs_page_9": ("/api/v1/runs", {"limit": 100, "cursor": deep_cursor}),
            "run_series": ("/api/v1/series", {"run": one_run, "since": run_start,
                                              "until": run_start + 2 * DAY_S, "points": 200}),
        }
        for name, (path, params) in cases.items():
            client.get(path, params=params)  # warm: plans cached, pages in memory
            samples = []
            cpu_before = _cpu_s(server_pid, db_url)
            for _ in range(requests):
                start = time.perf_counter()
                response = client.get(path, params=params)
                samples.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, response.text
            cpu_after = _cpu_s(server_pid, db_url)
            # CPU per request, server process + its PostgreSQL backends: what a request costs
            # whatever else the machine runs (its wall time grows with the machine's load)
            out[name] = {**_percentiles(samples), **{
                f"{side}_cpu_ms_per_request": round(
                    (cpu_after[side] - cpu_before[side]) * 1000 / requests, 1)
                for side in ("server", "postgres")}}
            print(f"  {name}: {out[name]}", file=sys.stderr, flush=True)
    return out


def _ingest_sample(client: object, ingest_key: str, db_url: str) -> str:
    import httpx
    from sqlalchemy import create_engine, text

    from wattprint.wire import WIRE_VERSION

    assert isinstance(client, httpx.Client)
    run_id = f"sample-{os.getpid()}"
    items = [{"run_id": run_id, "seq": seq, "start_s": T0_S + 1800.0 + seq * 25.0,
              "duration_s": 25.0, "cpu_energy_j": 1000.0 + seq, "gpu_energy_j": 0.0,
              "ram_energy_j": 0.0, "other_energy_j": 0.0, "energy_j": 1000.0 + seq, "pue": 1.0,
              "emissions_g": 0.1, "intensity_g_per_kwh": 360.0, "intensity_zone": "XX",
              "intensity_source": "bench", "intensity_year": 2024, "intensity_kind": "average",
              "intensity_live": False, "intensity_basis": "generation",
              "intensity_scope": "lifecycle", "intensity_gases": "CO2e", "gaps": [],
              "components": [], "work": [], "type": "record", "schema_version": WIRE_VERSION}
             for seq in range(1000)]
    for attempt in range(2):  # the second is a retry: nothing may count twice
        response = client.post("/api/v1/ingest", json={"items": items},
                               headers={"Authorization": f"Bearer {ingest_key}"})
        assert response.status_code == 200, (attempt, response.text)
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            rolled = connection.execute(text(
                "SELECT sum(energy_j), sum(records) FROM rollup_run_hours WHERE run_id = :r"),
                {"r": run_id}).one()
            raw = connection.execute(text(
                "SELECT sum(energy_j), count(*) FROM records WHERE run_id = :r"),
                {"r": run_id}).one()
            connection.execute(text("DELETE FROM runs WHERE run_id = :r"), {"r": run_id})
    finally:
        engine.dispose()
    assert abs(rolled[0] - raw[0]) < 1e-6 * raw[0] and rolled[1] == raw[1] == 1000, (rolled, raw)
    return f"ok: 1,000 records sent twice, rollup {rolled[0]:.1f} J = records {raw[0]:.1f} J"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--records-per-run", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--long-run-records", type=int, default=0,
                        help=f"add one run, {LONG_RUN_ID}, of this many 1 s records")
    parser.add_argument("--database", default="wattprint_bench_query")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database a --keep run left, without loading")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    base = _pg_base_url()
    db_url = base.replace("/postgres?", f"/{args.database}?")
    exists = _admin(base, f"SELECT 1 FROM pg_database WHERE datname = '{args.database}'")
    timings: dict[str, float] = {}
    if not (args.reuse and exists):
        _admin(base, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        _admin(base, f'CREATE DATABASE "{args.database}"')
        print(f"loading {args.runs} x {args.records_per_run} records"
              f" + {args.long_run_records} in {LONG_RUN_ID}", file=sys.stderr)
        start = time.perf_counter()
        timings = _load(db_url, args.runs, args.records_per_run, args.long_run_records)
        timings["load_total_s"] = round(time.perf_counter() - start, 1)
    try:
        keys = _keys(db_url)
        since_s = T0_S + 10 * DAY_S + 1234.5  # edges inside hours: the edge path is measured
        until_s = since_s + 7 * DAY_S
        want, raw_s = _raw_answer(db_url, since_s, until_s)
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        with tempfile.TemporaryDirectory() as folder:
            server = _serve(db_url, port, Path(folder))
            peak: list[float] = [0.0]
            stop = threading.Event()

            def sample() -> None:  # RSS now and then; VmHWM gives the true peak at the end
                while not stop.wait(0.2):
                    try:
                        peak[0] = max(peak[0], psutil.Process(server.pid).memory_info().rss)
                    except psutil.NoSuchProcess:
                        return

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                measured = _measure(f"http://127.0.0.1:{port}", keys["read"], keys["ingest"],
                                    db_url, args.runs, args.requests,
                                    (want, raw_s, since_s, until_s), server.pid)
                rss_mb = psutil.Process(server.pid).memory_info().rss / 2**20
                peak_mb = _rss_peak_mb(server.pid)
            finally:
                stop.set()
                server.terminate()
                server.wait(timeout=30)
        emit("server_query", {
            "runs": args.runs, "records_per_run": args.records_per_run, **timings,
            **_sizes(db_url), **measured, "server_rss_mb": round(rss_mb, 1),
            "server_rss_peak_mb": round(peak_mb, 1),
            "uptime": Path("/proc/loadavg").read_text().split()[:3]})
    finally:
        if not args.keep:
            _admin(base, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
