"""The fast de-duplicated totals (dedup_fast.py) equal dedup_energy over every record, on SQLite
and PostgreSQL: random runs on a few hosts (machine and process scope, jobs, overlaps, ranges
cutting runs and hours), and the candidate search's cases one by one."""

from __future__ import annotations

import math
import random

import pytest
from sqlalchemy import insert, select

from wattprint.server import rollups
from wattprint.server.dedup import clip_to_range, dedup_energy, interval_row
from wattprint.server.dedup_fast import (
    DedupTooLarge,
    _candidate_rows,
    _changing_rows,
    candidate_records,
    candidate_runs,
    dedup_from_sums,
)
from wattprint.server.models import IntervalRecord, Run
from wattprint.server.query import RunQuery, _range_sums, _whole_run_sums, totals

T0 = 1_767_225_600.0  # a whole UTC hour
SCENARIOS = 30


def _insert_run(connection, project_id: int, run_id: str, *, host_id: str | None,
                scope: str | None, job_id: str | None, records: list[tuple]) -> None:
    """``records``: (start_s, duration_s, cpu J, gpu J, ram J, other J, grams)."""
    connection.execute(insert(Run).values(
        run_id=run_id, project_id=project_id, info_received=scope is not None, started_s=T0,
        scope=scope, host_id=host_id, hostname=host_id, job_id=job_id, country="FR",
        first_seen_s=T0))
    if records:
        connection.execute(insert(IntervalRecord), [
            {"run_id": run_id, "seq": seq, "start_s": start_s, "duration_s": duration_s,
             "cpu_energy_j": cpu, "gpu_energy_j": gpu, "ram_energy_j": ram, "other_energy_j": other,
             "energy_j": cpu + gpu + ram + other, "pue": 1.0, "emissions_g": grams,
             "intensity_g_per_kwh": 50.0, "intensity_zone": "FR", "intensity_source": "test",
             "intensity_year": 2024, "intensity_kind": "average", "intensity_live": False,
             "components": [], "gaps": [], "work": []}
            for seq, (start_s, duration_s, cpu, gpu, ram, other, grams) in enumerate(records, 1)])


def _random_records(rng: random.Random) -> list[tuple]:
    start_s = T0 + rng.uniform(0, 3 * 3600)
    records = []
    for _ in range(rng.randint(1, 5)):
        duration_s = 0.0 if rng.random() < 0.08 else rng.choice(
            [rng.uniform(1, 1800), float(rng.randint(1, 60) * 30)])
        energies = [0.0 if rng.random() < 0.2 else rng.uniform(0, 5e5) for _ in range(4)]
        records.append((start_s, duration_s, *energies, rng.uniform(0, 30)))
        start_s += duration_s + (rng.uniform(0, 900) if rng.random() < 0.3 else 0.0)
    return records


def _scenario(connection, project_id: int, rng: random.Random, name: str) -> None:
    hosts = [f"{name}-h{i}" for i in range(rng.randint(1, 3))] + [None]
    for i in range(rng.randint(2, 8)):
        _insert_run(connection, project_id, f"{name}-r{i}",
                    host_id=rng.choice(hosts) if rng.random() > 0.1 else None,
                    scope=rng.choice(["machine", "machine", "process", None]),
                    job_id=rng.choice([None, None, f"{name}-jA", f"{name}-jB"]),
                    records=_random_records(rng))


def _runs(name: str):
    return select(Run.run_id).where(Run.run_id.like(f"{name}-%")).subquery()


def _full(connection, name: str, since_s, until_s):
    """The rule over every record of the scenario (the reference)."""
    return dedup_energy(_rows_of(connection, name, since_s, until_s))


def _fast(connection, name: str, since_s, until_s):
    runs = _runs(name)
    ranged = since_s is not None or until_s is not None
    sums = _range_sums(connection, runs, since_s, until_s) if ranged \
        else _whole_run_sums(connection, runs)
    return dedup_from_sums(connection, runs, since_s, until_s, sums)


def _figures(totals) -> list[float]:
    return [totals.measured_energy_j, totals.energy_j, totals.measured_emissions_g,
            totals.emissions_g, totals.overlapped_s,
            *(totals.energy_by_component_j.get(c, 0.0) for c in ("cpu", "gpu", "ram", "other"))]


ZERO = [0.0] * 9


def _assert_same(fast, full) -> None:
    close = {"rel": 1e-9, "abs": 1e-6}  # the same sums, added in another order
    assert fast.rule == full.rule
    assert _figures(fast.total) == pytest.approx(_figures(full.total), **close)
    for name in ("hosts", "jobs"):
        a, b = getattr(fast, name), getattr(full, name)
        for key in set(a) | set(b):
            assert (_figures(a[key]) if key in a else ZERO) == pytest.approx(
                _figures(b[key]) if key in b else ZERO, **close), (name, key)
    for run_id in set(fast.runs) | set(full.runs):
        a = _figures(fast.runs[run_id].totals) if run_id in fast.runs else ZERO
        b = _figures(full.runs[run_id].totals) if run_id in full.runs else ZERO
        assert a == pytest.approx(b, **close), run_id
        if run_id in fast.runs and run_id in full.runs:
            x, y = fast.runs[run_id], full.runs[run_id]
            assert (x.host_id, x.scope, x.job_id) == (y.host_id, y.scope, y.job_id)


def test_fast_path_equals_the_rule_over_every_record(engine, org):
    rng = random.Random(20261202)
    with engine.begin() as connection:
        for n in range(SCENARIOS):
            _scenario(connection, org.project_id, rng, f"s{n}")
        rollups.rebuild(connection)
    seen = {"candidates": 0, "kept": 0, "rows_kept": 0, "removed": 0, "ranges": 0}
    with engine.connect() as connection:
        for n in range(SCENARIOS):
            name = f"s{n}"
            cuts = [(None, None), (T0 + rng.uniform(0, 3 * 3600), None),
                    (None, T0 + rng.uniform(3600, 4 * 3600))]
            a, b = sorted(T0 + rng.uniform(-600, 5 * 3600) for _ in range(2))
            cuts += [(a, b), (T0 + 1800, T0 + 1800 + 600)]  # inside one hour
            for since_s, until_s in cuts:
                full = _full(connection, name, since_s, until_s)
                fast = _fast(connection, name, since_s, until_s)
                _assert_same(fast, full)
                candidates = candidate_runs(connection, _runs(name), since_s, until_s)
                _, unchanged = _changing_rows(_candidate_rows(connection, candidates, since_s,
                                                              until_s))
                seen["candidates"] += len(candidates)
                seen["rows_kept"] += len(unchanged)
                seen["kept"] += len(set(full.runs) - candidates)
                seen["removed"] += full.total.removed_energy_j > 1.0
                seen["ranges"] += since_s is not None
    # the cases the property covers did occur: runs read, runs kept from the rollups, records
    # of runs read that nothing overlaps (kept whole), energy removed by the rule
    assert seen["candidates"] > 50 and seen["kept"] > 50 and seen["rows_kept"] > 50 \
        and seen["removed"] > 20, seen


def test_totals_api_dedup_equals_the_rule_over_every_record(engine, org):
    rng = random.Random(7)
    with engine.begin() as connection:
        for n in range(6):
            _scenario(connection, org.project_id, rng, f"t{n}")
        rollups.rebuild(connection)
    with engine.connect() as connection:
        for since_s, until_s in ((None, None), (T0 + 1000, T0 + 9000)):
            answer = totals(connection, org.organisation_id, "host",
                            RunQuery(since_s=since_s, until_s=until_s), dedup=True)
            full = dedup_energy([row for n in range(6)
                                 for row in _rows_of(connection, f"t{n}", since_s, until_s)])
            assert answer["dedup"]["energy_j"] == pytest.approx(full.total.energy_j, rel=1e-9)
            assert answer["dedup"]["measured_energy_j"] == pytest.approx(
                full.total.measured_energy_j, rel=1e-9)
            assert answer["dedup"]["emissions_g"] == pytest.approx(full.total.emissions_g,
                                                                   rel=1e-9)
            assert answer["dedup"]["overlapped_s"] == pytest.approx(full.total.overlapped_s,
                                                                    rel=1e-9, abs=1e-6)
            assert sum(g["deduplicated"]["energy_j"] for g in answer["groups"]) == \
                pytest.approx(full.total.energy_j, rel=1e-9)


def _rows_of(connection, name, since_s, until_s):
    """The scenario's records joined to their runs, clipped to [since_s, until_s)."""
    r = IntervalRecord
    out = []
    for x in connection.execute(
            select(r.run_id, r.start_s, r.duration_s, r.cpu_energy_j, r.gpu_energy_j,
                   r.ram_energy_j, r.other_energy_j, r.emissions_g, Run.host_id, Run.scope,
                   Run.job_id, Run.node, Run.rank)
            .join(Run, Run.run_id == r.run_id).where(r.run_id.like(f"{name}-%"))):
        clipped = clip_to_range(interval_row(x), -math.inf if since_s is None else since_s,
                                math.inf if until_s is None else until_s)
        if clipped is not None:
            out.append(clipped)
    return out


def _one(start_s: float, duration_s: float) -> list[tuple]:
    return [(T0 + start_s, duration_s, 100.0 * duration_s, 0.0, 0.0, 0.0, 1.0)]


def test_candidates_are_the_runs_another_measurer_can_change(engine, org):
    cases = {  # run: (host, scope, job, records)
        # process-scope runs overlapping one another: shares, summed, changed by nothing
        "p1": ("h1", "process", None, _one(0, 600)), "p2": ("h1", "process", None, _one(0, 600)),
        # one job's machine-scope ranks: one measurer
        "j1": ("h2", "machine", "job", _one(0, 600)), "j2": ("h2", "machine", "job", _one(0, 600)),
        # two measurers on one host: both
        "m1": ("h3", "machine", None, _one(0, 600)), "m2": ("h3", "machine", None, _one(300, 600)),
        # a machine-scope run and a process-scope run of the same job: both
        "x1": ("h4", "machine", "job2", _one(0, 600)), "x2": ("h4", "process", "job2", _one(0, 60)),
        # a run whose info has not arrived counts as machine scope
        "n1": ("h5", None, None, _one(0, 600)), "n2": ("h5", "process", None, _one(0, 60)),
        # one after the other (touching), or on different hosts: neither
        "a1": ("h6", "machine", None, _one(0, 600)), "a2": ("h6", "machine", None, _one(600, 60)),
        "b1": ("h7", "machine", None, _one(0, 600)), "b2": ("h8", "machine", None, _one(0, 600)),
        # no host id: a host of its own
        "u1": (None, "machine", None, _one(0, 600)), "u2": (None, "machine", None, _one(0, 600)),
        # overlapping only after 7200 s: outside a period ending then
        "l1": ("h9", "machine", None, _one(0, 9000)), "l2": ("h9", "machine", None, _one(8000, 60)),
    }
    with engine.begin() as connection:
        for run_id, (host, scope, job, records) in cases.items():
            _insert_run(connection, org.project_id, f"c-{run_id}", host_id=host, scope=scope,
                        job_id=job, records=records)
        rollups.rebuild(connection)
    with engine.connect() as connection:
        found = candidate_runs(connection, _runs("c"), None, None)
        assert found == {f"c-{r}" for r in ("m1", "m2", "x1", "x2", "n1", "n2", "l1", "l2")}
        # how many records the candidates hold (whole, and the hours a period touches)
        assert candidate_records(connection, found, None, None) == 8
        # the period cuts the overlaps of x and n (their second runs end at 60 s) and of l
        assert candidate_runs(connection, _runs("c"), T0 + 100, T0 + 7200) == {"c-m1", "c-m2"}
        assert candidate_runs(connection, _runs("c"), T0 + 30, T0 + 7200) == \
            {f"c-{r}" for r in ("m1", "m2", "x1", "x2", "n1", "n2")}
        assert candidate_runs(connection, _runs("c"), T0 + 610, T0 + 7200) == set()
        assert candidate_records(connection, {"c-l1"}, T0 + 7300, None) == 1
        # over a limit, the fast path says so instead of reading them
        runs = _runs("c")
        sums = _whole_run_sums(connection, runs)
        with pytest.raises(DedupTooLarge) as raised:
            dedup_from_sums(connection, runs, None, None, sums, max_records=7)
        assert (raised.value.records, raised.value.limit) == (8, 7)
        kept = dedup_from_sums(connection, runs, None, None, sums, max_records=8)
        _assert_same(kept, _full(connection, "c", None, None))
        # the two measurers on h3 overlap 300 s: the host counts 600 + 300 s of 100 W once
        assert kept.hosts["h3"].energy_j == pytest.approx(100.0 * 900)


def test_only_the_records_another_measurer_overlaps_go_through_the_rule():
    from wattprint.server.dedup import IntervalRow

    def row(run_id, start_s, duration_s, scope="machine", job_id=None, host_id="h"):
        return IntervalRow(host_id=host_id, run_id=run_id, scope=scope, start_s=start_s,
                           duration_s=duration_s, cpu_energy_j=duration_s, job_id=job_id)

    long_run = [row("long", 60.0 * k, 60.0) for k in range(10)]  # 0-600 s
    rows = [*long_run, row("short", 130.0, 20.0),  # inside the long run's third record
            row("share", 400.0, 300.0, scope="process"),  # its 7th-10th, past its end
            row("rank0", 0.0, 60.0, job_id="j", host_id="g"),
            row("rank1", 0.0, 60.0, job_id="j", host_id="g"),  # one job: one measurer
            row("p1", 0.0, 60.0, scope="process", host_id="g"),  # shares of g's ranks
            row("p2", 100.0, 60.0, scope="process", host_id="g"),  # shares alone
            row("other-host", 130.0, 20.0, host_id="elsewhere")]
    changing, unchanged = _changing_rows(rows)
    assert sorted((r.run_id, r.start_s) for r in changing) == sorted(
        [("long", 120.0), ("short", 130.0), ("long", 360.0), ("long", 420.0), ("long", 480.0),
         ("long", 540.0), ("share", 400.0), ("rank0", 0.0), ("rank1", 0.0), ("p1", 0.0)])
    assert len(changing) + len(unchanged) == len(rows)
    # what the rule gives the rows left out is exactly what they measured
    whole = dedup_energy(rows)
    for r in unchanged:
        alone = [x for x in rows if x.run_id == r.run_id]
        if all(x in unchanged for x in alone):
            assert whole.runs[r.run_id].totals.energy_j == pytest.approx(
                sum(x.cpu_energy_j for x in alone), rel=1e-12)


def test_the_sweep_finds_exactly_the_pairs_a_pairwise_test_finds():
    """_meeting_runs (one sweep per host) against the definition, every pair, on random extents."""
    from wattprint.server.dedup_fast import _meeting_runs

    rng = random.Random(11)
    for _ in range(300):
        extents = []
        for i in range(rng.randint(1, 12)):
            lo_s = float(rng.randint(0, 40))
            extents.append((f"r{i}", rng.choice(["h1", "h2"]), rng.choice([None, "j1", "j2"]),
                            rng.random() < 0.6, lo_s, lo_s + rng.randint(1, 15)))

        def measurer(e):
            return None if not e[3] else (f"job:{e[2]}" if e[2] else f"run:{e[0]}")

        expected = {a[0] for a in extents for b in extents
                    if a[0] != b[0] and a[1] == b[1] and a[4] < b[5] and b[4] < a[5]
                    and (a[3] or b[3]) and not (a[3] and b[3] and measurer(a) == measurer(b))}
        assert _meeting_runs(sorted(extents, key=lambda e: (e[1], e[4]))) == expected, extents
