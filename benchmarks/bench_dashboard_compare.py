"""The dashboard's comparison and downloads over a local store: response times over real HTTP.

A store is filled with ``--runs`` finished runs of ``--records`` records each and one long run
of ``--long`` records; ``wattprint dashboard --port 0 --store FILE`` serves it in its own
process and each URL is fetched once (``first_ms``: the long run's chart points are summed
then kept) and ``--repeat`` more times. URLs: the comparison of two runs (a short one and the
long one) and of eight (every run), the comparison's CSV and its curves' CSV, the long run's
records as CSV and JSON (every record, streamed), the overview's by-project CSV.

    python benchmarks/bench_dashboard_compare.py                 # 7 runs x 100 + 100,000
    python benchmarks/bench_dashboard_compare.py --long 20000 --repeat 5

Needs the ``server`` extra. Writes the JSON line to stdout and
benchmarks/results/dashboard_compare.json, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import emit, time_pages


def fill(path: Path, runs: int, records: int, long: int) -> list[str]:
    """``runs`` runs of ``records`` 10 s records and one of ``long``; their ids, long last."""
    from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
    from wattprint.store import Store

    store = Store(path)
    now = time.time()

    def run(i: int, n: int) -> str:
        run_id = f"bench-compare-{i:02d}"
        info = RunInfo(run_id=run_id, project=f"project-{i % 2}", experiment=f"exp-{i}",
                       started_s=now - 10 * n - 3600 * (runs + 1 - i), scope="machine",
                       interval_s=10.0, pue=1.0,
                       location={"country": "FR", "subdivision": None, "resolved_by": "config"},
                       host={"hostname": "node-0", "pid": 1000 + i},
                       devices=({"device": "rapl:package-0", "component": "cpu",
                                 "method": "measured", "detail": "RAPL"},),
                       skipped=())
        recs = []
        for seq in range(1, n + 1):
            cpu, gpu = 400.0 + (seq + i) % 7, 2500.0 + (seq * i) % 11
            energy = cpu + gpu + 40.0
            recs.append(Record(
                run_id=run_id, seq=seq, start_s=info.started_s + 10 * (seq - 1), duration_s=10.0,
                cpu_energy_j=cpu, gpu_energy_j=gpu, ram_energy_j=40.0, other_energy_j=0.0,
                energy_j=energy, pue=1.0, emissions_g=energy / 3.6e6 * 36,
                intensity_g_per_kwh=36.0, intensity_zone="FR", intensity_source="Ember",
                intensity_year=2024, intensity_kind="average", intensity_live=False,
                components=(ComponentEnergy("cpu", "rapl:package-0", "measured", cpu),
                            ComponentEnergy("gpu", "nvml:0", "measured", gpu)),
                work=(("samples", 64.0),)))
        items: list[Any] = [info]
        for start in range(0, n, 5000):
            store.export(recs[start:start + 5000] if start else items + recs[:5000])
        store.export([summarize(info, recs, exit_code=0)])
        return run_id

    ids = [run(i, records) for i in range(runs)] + [run(runs, long)]
    store.close()
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--long", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wattprint.db"
        ids = fill(path, args.runs, args.records, args.long)
        env = {k: v for k, v in os.environ.items() if not k.startswith("WATTPRINT_")}
        env["WATTPRINT_HOME"] = tmp
        proc = subprocess.Popen([sys.executable, "-m", "wattprint", "dashboard", "--port", "0",
                                 "--store", str(path)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True, env=env)
        every = "&".join(f"run={i}" for i in ids[-8:])
        urls = {"compare_2": f"/compare?run={ids[0]}&run={ids[-1]}",
                f"compare_{min(8, len(ids))}": f"/compare?{every}",
                "comparison_csv": f"/export/compare/comparison.csv?{every}",
                "curves_csv": f"/export/compare/curves.csv?{every}",
                "records_csv_long": f"/export/runs/{ids[-1]}/records.csv",
                "records_json_long": f"/export/runs/{ids[-1]}/records.json",
                "by_project_csv": "/export/overview/by-project.csv?period=all"}
        result: dict[str, object] = {"runs": len(ids), "long_records": args.long}
        load_before = os.getloadavg()
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().strip()
            with httpx.Client(base_url=url, timeout=600) as client:
                result.update(time_pages(client, urls, args.repeat))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    result["uptime_before"] = [round(x, 2) for x in load_before]
    result["uptime_after"] = [round(x, 2) for x in os.getloadavg()]
    emit("dashboard_compare", result)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "dashboard_compare.json").write_text(
        json.dumps({"benchmark": "dashboard_compare", **result}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
