"""A long run's records download and waste scan, raw rows against the record path.

Local: a store holds one run of ``--records`` 10 s records (a CPU split by process scope, a GPU
idle a third of the time, an intensity on most intervals). Timed in process, ``--repeat``
times each (median): the ``records`` table's CSV and JSON as the dashboard streams them
(exports.run_tables over LocalStoreData: SqliteRepository.record_rows), the waste scan
(LocalStoreData.waste: record_rows + waste_report_rows), and the same two the old way, a
Record built per row (repository.records + waste_report; the download's cells from the
Records) for comparison; the two waste reports are checked equal.

Team server (``--server-run RUN_ID``, optional): the same download and scan by ServerData over
bench_dashboard_server.py's kept PostgreSQL database (``--keep`` once; bench-000001..: 10,000
records, bench-long: 10^6).

    python benchmarks/bench_long_run_reads.py [--records 100000] [--repeat 3]
    python benchmarks/bench_long_run_reads.py --records 0 --server-run bench-000001

Writes one JSON line (ms); note `uptime` (printed with it).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from _common import emit

RUN_ID = "bench-long-reads"


def fill(path: Path, n: int) -> None:
    from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
    from wattprint.store import Store

    info = RunInfo(run_id=RUN_ID, project="bench", experiment="long", started_s=1.7e9,
                   scope="process", interval_s=10.0, pue=1.2,
                   location={"country": "FR", "resolved_by": "config"},
                   host={"hostname": "node-0", "pid": 1},
                   devices=({"device": "nvml:0", "component": "gpu", "method": "measured",
                             "detail": "GPU", "max_power_w": 400.0},
                            {"device": "rapl:package-0", "component": "cpu",
                             "method": "measured", "detail": "RAPL"}),
                   skipped=())
    records = []
    for seq in range(1, n + 1):
        gpu_w = 50.0 if seq % 3 == 0 else 280.0 + seq % 11
        cpu_w = 150.0 if seq % 7 == 0 else 30.0 + seq % 5
        gpu, cpu = gpu_w * 10.0, cpu_w * 10.0 * 0.5
        energy = gpu + cpu
        scored = seq % 13 != 0
        records.append(Record(
            run_id=RUN_ID, seq=seq, start_s=info.started_s + 10.0 * (seq - 1), duration_s=10.0,
            cpu_energy_j=cpu, gpu_energy_j=gpu, ram_energy_j=0.0, other_energy_j=0.0,
            energy_j=energy, pue=1.2, emissions_g=energy * 1.2 * 56.0 / 3.6e6 if scored else 0.0,
            intensity_g_per_kwh=56.0, intensity_zone="FR", intensity_source="Ember",
            intensity_year=2024, intensity_kind="average" if scored else None,
            intensity_live=False,
            components=(ComponentEnergy("gpu", "nvml:0", "measured", gpu, 1.0, "whole"),
                        ComponentEnergy("cpu", "rapl:package-0", "measured", cpu, 0.5,
                                        "measured")),
            work=(("samples", 64.0),)))
    store = Store(path)
    for start in range(0, n, 5000):
        store.export(([info] if start == 0 else []) + records[start:start + 5000])
    store.export([summarize(info, records, exit_code=0)])
    store.close()


CPU_MS: dict[str, float] = {}  # the same medians in this process's CPU time: less load-bound


def median_ms(fn: Callable[[], Any], repeat: int, name: str = "") -> tuple[float, Any]:
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    if name:
        CPU_MS[name] = round(1000 * statistics.median(cpu), 1)
    return round(1000 * statistics.median(times), 1), out


def record_path_csv(records: list[Any]) -> str:
    """The download's CSV cells from Records, as before raw rows (for the comparison)."""
    from wattprint.server.dashboard.tables import csv_cell

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for r in records:
        writer.writerow([csv_cell(v) for v in (
            r.seq, r.start_s, r.duration_s, r.cpu_energy_j, r.gpu_energy_j, r.ram_energy_j,
            r.other_energy_j, r.energy_j, r.pue, r.emissions_g, r.intensity_g_per_kwh,
            r.intensity_zone, r.intensity_source, r.intensity_year, r.intensity_kind,
            r.intensity_live, "; ".join(r.gaps), "; ".join(f"{c:g} {u}" for u, c in r.work))])
    return out.getvalue()


def downloads_and_scan(data: Any, run_id: str, repeat: int) -> dict[str, Any]:
    from wattprint.server.dashboard.exports import run_tables

    detail = data.run(run_id)
    table = run_tables(data, detail)["records"]
    csv_ms, text = median_ms(lambda: "".join(table.csv_chunks()), repeat, "records_csv")
    json_ms, body = median_ms(lambda: "".join(table.json_chunks()), repeat, "records_json")
    waste_ms, report = median_ms(lambda: data.waste(run_id, max_records=10**7), repeat,
                                 "waste")
    return {"records": detail.summary.records, "records_csv_ms": csv_ms,
            "csv_mb": round(len(text) / 2**20, 1), "records_json_ms": json_ms,
            "json_mb": round(len(body) / 2**20, 1), "waste_ms": waste_ms,
            "findings": len(report.findings), "cpu_ms": dict(CPU_MS)}


def local(n: int, repeat: int, record_path: bool) -> dict[str, Any]:
    from wattprint.advice.waste import waste_report
    from wattprint.server.dashboard.local import LocalStoreData
    from wattprint.store import open_repository

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wattprint.db"
        fill(path, n)
        repo = open_repository(path)
        data = LocalStoreData(repo)
        out = downloads_and_scan(data, RUN_ID, repeat)
        if record_path:
            info = repo.info(RUN_ID)
            out["record_path_read_ms"], records = median_ms(
                lambda: repo.records(RUN_ID, limit=None), 1, "record_path_read")
            out["record_path_csv_ms"], _ = median_ms(lambda: record_path_csv(
                repo.records(RUN_ID, limit=None)), 1, "record_path_csv")
            out["record_path_waste_ms"], slow = median_ms(
                lambda: waste_report(info, repo.records(RUN_ID, limit=None)), 1,
                "record_path_waste")
            out["cpu_ms"] = dict(CPU_MS)
            fast = data.waste(RUN_ID, max_records=10**7)
            assert fast is not None and fast.to_dict() == slow.to_dict(), "reports differ"
            out["reports_equal"] = True
        repo.close()
    return out


def server(run_id: str, database: str, repeat: int) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    import bench_server_query as query_bench
    from wattprint.server.dashboard.server_data import ServerData

    engine = create_engine(query_bench._pg_base_url().replace("/postgres?", f"/{database}?"))
    with engine.connect() as connection:
        org_id = int(connection.execute(text(
            "SELECT p.organisation_id FROM runs r JOIN projects p ON p.id = r.project_id "
            "WHERE r.run_id = :r"), {"r": run_id}).scalar_one())
    out = downloads_and_scan(ServerData(engine, org_id), run_id, repeat)
    engine.dispose()
    return {"run": run_id, **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-record-path", action="store_true",
                        help="skip the old way (a Record per row)")
    parser.add_argument("--server-run", help="also time ServerData on this run")
    parser.add_argument("--database", default="wattprint_bench_dashboard")
    args = parser.parse_args()
    result: dict[str, Any] = {"uptime_before": [round(x, 2) for x in os.getloadavg()]}
    if args.records:
        result["local"] = local(args.records, args.repeat, not args.no_record_path)
    if args.server_run:
        result["server"] = server(args.server_run, args.database, args.repeat)
    result["uptime_after"] = [round(x, 2) for x in os.getloadavg()]
    emit("long_run_reads", result)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "long_run_reads.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
