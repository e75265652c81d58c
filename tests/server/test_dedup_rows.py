"""dedup.interval_rows (the columns found once per result) reads the same IntervalRows as
dedup.interval_row row by row, whatever the columns' order, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import insert, select

from wattprint.server.dedup import interval_row, interval_rows
from wattprint.server.models import IntervalRecord, Run

T0 = 1_767_225_600.0


def _insert(connection, project_id: int) -> None:
    for run_id, scope, host_id, job_id in (("a", "machine", "h1", None),
                                           ("b", "process", "h1", "j1"),
                                           ("c", None, None, None)):  # info not arrived yet
        connection.execute(insert(Run).values(
            run_id=run_id, project_id=project_id, info_received=scope is not None,
            started_s=T0, scope=scope, host_id=host_id, hostname=host_id, job_id=job_id,
            node="n0" if job_id else None, rank=1 if job_id else None, country="FR",
            first_seen_s=T0))
        connection.execute(insert(IntervalRecord), [
            {"run_id": run_id, "seq": seq, "start_s": T0 + 10.0 * seq, "duration_s": 10.0,
             "cpu_energy_j": 1.5 * seq, "gpu_energy_j": 2.0, "ram_energy_j": 0.25,
             "other_energy_j": 0.0, "energy_j": 1.5 * seq + 2.25, "pue": 1.0,
             "emissions_g": 0.125 * seq, "intensity_g_per_kwh": 50.0, "intensity_zone": "FR",
             "intensity_source": "test", "intensity_year": 2024, "intensity_kind": "average",
             "intensity_live": False, "components": [], "gaps": [], "work": []}
            for seq in (1, 2, 3)])


def test_interval_rows_equal_interval_row_in_any_column_order(engine, org):
    with engine.begin() as connection:
        _insert(connection, org.project_id)
    r = IntervalRecord
    columns = [r.run_id, r.start_s, r.duration_s, r.cpu_energy_j, r.gpu_energy_j, r.ram_energy_j,
               r.other_energy_j, r.emissions_g, Run.host_id, Run.scope, Run.job_id, Run.node,
               Run.rank]
    with engine.connect() as connection:
        for order in (columns, columns[::-1]):
            statement = (select(*order).join(Run, Run.run_id == r.run_id)
                         .order_by(r.run_id, r.seq))
            one_by_one = [interval_row(x) for x in connection.execute(statement)]
            assert list(interval_rows(connection.execute(statement))) == one_by_one
            assert len(one_by_one) == 9
            assert {row.scope for row in one_by_one} == {"machine", "process"}
            assert [row.cpu_energy_j for row in one_by_one[:3]] == [1.5, 3.0, 4.5]
            assert one_by_one[3].job_id == "j1" and one_by_one[3].rank == 1
