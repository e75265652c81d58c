"""The de-duplicated totals (``/api/v1/totals?dedup=true``) at 10 million records in PostgreSQL.

Reads the database bench_dashboard_server.py loads and keeps (``--database``, default
``wattprint_bench_dashboard``: 1,000 runs x 10,000 records of 10 s over 30 days on 50 hosts,
plus one run of 1,000,000 records of 1 s on node-0). For 1 day, 7 days and all time (the clock
at day 17, as that benchmark's): the candidate search (dedup_fast.candidate_runs: the runs that
overlap another measurer's on their host), how many records those hold, and query.totals with
and without ``dedup``; with ``--full``, also the old way for the 1-day period (dedup_energy
over every record of the period) and whether both agree.

    export WATTPRINT_TEST_PG_URL="$(tools/pg_test_server.sh start)"
    python benchmarks/bench_dedup_totals.py [--full]

Prints one JSON line. Note `uptime`: the figures read high when others run things.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

DAY_S = 86_400.0
T0_S = 1_767_225_600.0  # bench_server_query.T0_S


def main() -> None:
    from sqlalchemy import select, text

    from wattprint.server.db import make_engine
    from wattprint.server.dedup import clip_to_range, dedup_energy, interval_row
    from wattprint.server.dedup_fast import candidate_records, candidate_runs
    from wattprint.server.models import IntervalRecord, Project, Run
    from wattprint.server.query import RunQuery, totals

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="wattprint_bench_dashboard")
    parser.add_argument("--full", action="store_true",
                        help="also time dedup_energy over every record of the 1-day period")
    args = parser.parse_args()
    base = os.environ["WATTPRINT_TEST_PG_URL"]
    engine = make_engine(base.replace("/postgres?", f"/{args.database}?"))
    now_s = T0_S + 17 * DAY_S
    out: dict[str, object] = {"database": args.database, "load_before": os.getloadavg()}
    with engine.connect() as connection:
        connection.execute(text("SET jit = off"))  # as the dashboard's statements
        org = connection.execute(text("SELECT min(id) FROM organisations")).scalar_one()
        runs = (select(Run.run_id).join(Project, Project.id == Run.project_id)
                .where(Project.organisation_id == org).subquery())
        for label, since_s, until_s in (("1d", now_s - DAY_S, now_s),
                                        ("7d", now_s - 7 * DAY_S, now_s),
                                        ("all", None, None)):
            began = time.perf_counter()
            candidates = candidate_runs(connection, runs, since_s, until_s)
            searched = time.perf_counter()
            records = candidate_records(connection, candidates, since_s, until_s)
            counted = time.perf_counter()
            answer = totals(connection, org, "organisation",
                            RunQuery(since_s=since_s, until_s=until_s), dedup=True)
            deduplicated = time.perf_counter()
            totals(connection, org, "organisation", RunQuery(since_s=since_s, until_s=until_s))
            plain = time.perf_counter()
            out[label] = {"candidate_runs": len(candidates), "candidate_records": records,
                          "search_s": round(searched - began, 4),
                          "count_s": round(counted - searched, 4),
                          "totals_dedup_s": round(deduplicated - counted, 3),
                          "totals_plain_s": round(plain - deduplicated, 3),
                          "removed_energy_j": answer["dedup"]["removed_energy_j"],
                          "energy_j": answer["dedup"]["energy_j"]}
            print(label, out[label], flush=True)
            if args.full and label == "1d":
                assert since_s is not None and until_s is not None
                r = IntervalRecord
                began = time.perf_counter()
                rows = [row for row in (
                    clip_to_range(interval_row(x), since_s, until_s) for x in connection.execute(
                        select(r.run_id, r.start_s, r.duration_s, r.cpu_energy_j,
                               r.gpu_energy_j, r.ram_energy_j, r.other_energy_j,
                               r.emissions_g, Run.host_id, Run.scope, Run.job_id, Run.node,
                               Run.rank)
                        .join(Run, Run.run_id == r.run_id)
                        .where(r.run_id.in_(select(runs.c.run_id)), r.start_s < until_s,
                               r.start_s + r.duration_s >= since_s))) if row is not None]
                full = dedup_energy(rows)
                out["1d_full"] = {
                    "records": len(rows), "s": round(time.perf_counter() - began, 2),
                    "energy_j": full.total.energy_j,
                    "agrees": math.isclose(full.total.energy_j, answer["dedup"]["energy_j"],
                                           rel_tol=1e-9)}
                print("1d_full", out["1d_full"], flush=True)
    out["load_after"] = os.getloadavg()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
