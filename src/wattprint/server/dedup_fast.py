"""The de-duplicated totals of many runs without reading every record (:mod:`.dedup`'s rule).

By the rule itself (:data:`.dedup.RULE`), a row's figures change only where, on its host, it
overlaps in time a row of ANOTHER measurer and at least one of the two is machine-scope: a
single measurer, or process-scope rows alone (shares, summed), keep exactly what they measured.
So the runs whose records can change are found from each run's time extent (its rollup's first
start and last end, clipped to the period): the *candidates* are the runs whose extent
intersects, on the same host, the extent of a run of another measurer (a distributed job's
machine-scope runs are one measurer) with at least one machine-scope side. Only their records
are read and go through :func:`.dedup.dedup_energy`; every other run keeps its own sums from the
rollups, which is what the rule gives it. An extent is coarser than the records (a gap inside a
run still counts), so the candidates are a superset of the runs that change: never fewer. Among
the candidates' records, the same test record by record (:func:`_changing_rows`) leaves out
those that no other measurer's record overlaps: they keep their own figures too.

Removing a run that is not a candidate changes nothing for the others: in each slice where it
is active, the slice holds only its own measurer's machine rows, or only shares, so no other
row there is changed by it either. The result equals the full computation up to the order in
which floating-point sums are added (tests/server/test_dedup_fast.py holds the two equal).
"""

from __future__ import annotations

from .dedup import COMPONENTS, DedupResult, EnergyTotals, RunEnergy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

    from sqlalchemy.engine import Connection

    from .dedup import IntervalRow

__all__ = ["DedupTooLarge", "candidate_runs", "candidate_records", "dedup_from_sums"]

_CHUNK = 500  # run ids per query when reading the candidates' records


class DedupTooLarge(Exception):
    """The overlapping runs hold more records than the caller allows reading."""

    def __init__(self, records: int, limit: int) -> None:
        super().__init__(f"the overlapping runs hold {records} records (limit {limit})")
        self.records = records
        self.limit = limit


def _is_machine(scope: Any) -> Any:
    from sqlalchemy import or_

    # a run whose info has not arrived has no scope: it counts as machine scope (dedup.py)
    return or_(scope.is_(None), scope == "", scope == "machine")


def candidate_runs(connection: Connection, runs: Any, since_s: float | None,
                   until_s: float | None) -> set[str]:
    """Ids of the runs of ``runs`` (a subquery with a ``run_id`` column) whose time extent,
    clipped to [since_s, until_s), intersects on the same host another measurer's, at least
    one side machine-scope (see the module's docstring)."""
    from sqlalchemy import case, func, literal, select

    from .models import RollupRun, Run

    first_s: Any = func.min(RollupRun.first_start_s)
    last_s: Any = func.max(RollupRun.last_end_s)
    if since_s is not None:
        first_s = case((first_s > since_s, first_s), else_=literal(since_s))
    if until_s is not None:
        last_s = case((last_s < until_s, last_s), else_=literal(until_s))
    extents = (select(Run.run_id, Run.host_id, Run.job_id,
                      _is_machine(Run.scope).label("machine"), first_s.label("lo_s"),
                      last_s.label("hi_s"))
               .join(RollupRun, RollupRun.run_id == Run.run_id)
               .where(Run.run_id.in_(select(runs.c.run_id)), Run.host_id.is_not(None))
               .group_by(Run.run_id, Run.host_id, Run.job_id, Run.scope)
               .having(first_s < last_s)  # nothing inside, or only instants: overlaps nothing
               .cte("extents"))
    rows = connection.execute(select(extents).order_by(extents.c.host_id, extents.c.lo_s))
    return _meeting_runs(rows)


def _meeting_runs(extents: Iterable[Any]) -> set[str]:
    """Of ``extents`` (run_id, host_id, job_id, machine, lo_s, hi_s; by host, then lo_s), the
    runs whose extent meets another measurer's on the same host, at least one machine-scope.

    One sweep by start per host, O(n log n): a pairwise test in SQL took 3.8 s for 3,000 runs
    one after another on one host (SQLite), every run against every other. The runs still
    open are counted per measurer; each run is marked once."""
    import heapq

    marked: set[str] = set()
    open_ends: list[tuple[float, str]] = []  # (hi_s, run id) of the runs still open
    opened: dict[str, str | None] = {}  # run id -> its measurer (None: process scope)
    machines: dict[str, int] = {}  # measurer -> open machine-scope runs
    shares = 0
    unmarked: dict[str | None, set[str]] = {}  # measurer (None: shares) -> open runs not marked
    host: Any = object()
    for run_id, host_id, job_id, machine, lo_s, hi_s in extents:
        if host_id != host:  # a new host: nothing open
            host, open_ends, opened, machines, shares, unmarked = host_id, [], {}, {}, 0, {}
        while open_ends and open_ends[0][0] <= lo_s:  # ended (touching is not meeting)
            _, ended = heapq.heappop(open_ends)
            measurer = opened.pop(ended)
            if measurer is None:
                shares -= 1
            else:
                machines[measurer] -= 1
                if not machines[measurer]:
                    del machines[measurer]
            waiting = unmarked.get(measurer)
            if waiting is not None:
                waiting.discard(ended)
                if not waiting:
                    del unmarked[measurer]
        mine = (f"job:{job_id}" if job_id is not None else f"run:{run_id}") if machine else None
        hit: list[str | None]
        if mine is None:  # a share meets every open machine-scope run
            hit = [m for m in unmarked if m is not None] if machines else []
        else:  # a machine-scope run meets the shares and the other measurers
            hit = [m for m in unmarked if m != mine]
        if shares and mine is not None or any(m != mine for m in machines):
            marked.add(run_id)
            for measurer in hit:
                marked.update(unmarked.pop(measurer))
        heapq.heappush(open_ends, (hi_s, run_id))
        opened[run_id] = mine
        if mine is None:
            shares += 1
        else:
            machines[mine] = machines.get(mine, 0) + 1
        if run_id not in marked:
            unmarked.setdefault(mine, set()).add(run_id)
    return marked


def candidate_records(connection: Connection, run_ids: set[str], since_s: float | None,
                      until_s: float | None) -> int:
    """How many records of ``run_ids`` the period holds, from the rollups: all of them without a
    period, else each run's records with a share in the hours the period touches (between the
    sequence numbers those hours' rollups keep): an upper bound of the records read."""
    from sqlalchemy import func, select

    from .models import RollupRun, RollupRunHour
    from .rollups import HOUR_S, hour_of

    counted = 0
    ids = sorted(run_ids)
    for at in range(0, len(ids), _CHUNK):
        chunk = ids[at:at + _CHUNK]
        if since_s is None and until_s is None:
            statement = select(func.sum(RollupRun.records)).where(RollupRun.run_id.in_(chunk))
        else:
            h = RollupRunHour
            per_run = (select((func.max(h.last_seq) - func.min(h.first_seq) + 1).label("n"))
                       .where(h.run_id.in_(chunk)).group_by(h.run_id))
            if since_s is not None:
                per_run = per_run.where(h.hour_start_s >= hour_of(since_s))
            if until_s is not None:
                per_run = per_run.where(h.hour_start_s < hour_of(until_s) + HOUR_S)
            subquery = per_run.subquery()
            statement = select(func.sum(subquery.c.n))
        counted += int(connection.execute(statement).scalar() or 0)
    return counted


def _candidate_rows(connection: Connection, run_ids: set[str], since_s: float | None,
                    until_s: float | None) -> list[IntervalRow]:
    """The records of ``run_ids`` clipped to [since_s, until_s), as :mod:`.query` clips them."""
    import math

    from sqlalchemy import select

    from .dedup import clip_to_range, interval_rows
    from .models import IntervalRecord, Run

    r, run = IntervalRecord, Run
    low_s = since_s if since_s is not None else -math.inf
    high_s = until_s if until_s is not None else math.inf
    rows: list[IntervalRow] = []
    for run_id in sorted(run_ids):  # run by run: PostgreSQL reads each by primary key
        statement = (select(r.run_id, r.start_s, r.duration_s, r.cpu_energy_j, r.gpu_energy_j,
                            r.ram_energy_j, r.other_energy_j, r.emissions_g, run.host_id,
                            run.scope, run.job_id, run.node, run.rank)
                     .join(run, run.run_id == r.run_id).where(r.run_id == run_id))
        if until_s is not None:
            # "+ 0.0" (the same value) keeps PostgreSQL off ix_records_start, a scan of every
            # run's records before that time (as in query._edge_sums)
            statement = statement.where(r.start_s + 0.0 < until_s)
        if since_s is not None:
            statement = statement.where(r.start_s + r.duration_s >= since_s)
        for row in interval_rows(connection.execute(statement)):
            clipped = clip_to_range(row, low_s, high_s)
            if clipped is not None:
                rows.append(clipped)
    return rows


def _changing_rows(rows: list[IntervalRow]) -> tuple[list[IntervalRow], list[IntervalRow]]:
    """(rows another measurer's row overlaps, at least one of the two machine-scope; the rest).

    The candidates' extents are coarse: a long run overlapped for an hour keeps its other
    records whole. The same test, record by record (a sweep by start time per host), leaves
    only the rows the rule can change for :func:`.dedup.dedup_energy`."""
    changing = [False] * len(rows)
    by_host: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        if row.host_id is not None and row.duration_s > 0:
            by_host.setdefault(row.host_id, []).append(i)
    for indices in by_host.values():
        indices.sort(key=lambda i: rows[i].start_s)
        active: list[int] = []
        for i in indices:
            x = rows[i]
            active = [j for j in active if rows[j].start_s + rows[j].duration_s > x.start_s]
            for j in active:
                if _conflict(x, rows[j]):
                    changing[i] = changing[j] = True
            active.append(i)
    return ([row for row, c in zip(rows, changing, strict=True) if c],
            [row for row, c in zip(rows, changing, strict=True) if not c])


def _conflict(a: IntervalRow, b: IntervalRow) -> bool:
    """Whether overlapping rows ``a`` and ``b`` can change each other under the rule."""
    machine_a, machine_b = a.scope == "machine", b.scope == "machine"
    if not (machine_a or machine_b):
        return False  # shares only: summed, each keeps its own
    if machine_a and machine_b:
        return _measurer(a) != _measurer(b)
    return True  # a machine-scope row and a share of it


def _measurer(row: IntervalRow) -> str:
    return f"job:{row.job_id}" if row.job_id is not None else f"run:{row.run_id}"


def _own_rows(rows: list[IntervalRow]) -> dict[str, EnergyTotals]:
    """Per run: what its ``rows`` measured, kept whole."""
    out: dict[str, EnergyTotals] = {}
    for row in rows:
        own = _own({"cpu_energy_j": row.cpu_energy_j, "gpu_energy_j": row.gpu_energy_j,
                    "ram_energy_j": row.ram_energy_j, "other_energy_j": row.other_energy_j,
                    "emissions_g": row.emissions_g})
        out[row.run_id] = _plus(out.get(row.run_id), own)
    return out


def _own(values: dict[str, float]) -> EnergyTotals:
    """A run that keeps what it measured: its sums (one kind of intensity or all added)."""
    by_component = {c: values.get(f"{c}_energy_j", 0.0) for c in COMPONENTS}
    measured_j = sum(by_component.values())
    grams = values.get("emissions_g", 0.0)
    return EnergyTotals(measured_energy_j=measured_j, energy_j=measured_j,
                        measured_emissions_g=grams, emissions_g=grams,
                        energy_by_component_j=by_component)


def _plus(a: EnergyTotals | None, b: EnergyTotals, *, overlapped: bool = True) -> EnergyTotals:
    if a is None:
        return b
    return EnergyTotals(
        measured_energy_j=a.measured_energy_j + b.measured_energy_j,
        energy_j=a.energy_j + b.energy_j,
        measured_emissions_g=a.measured_emissions_g + b.measured_emissions_g,
        emissions_g=a.emissions_g + b.emissions_g,
        energy_by_component_j={c: a.energy_by_component_j.get(c, 0.0)
                               + b.energy_by_component_j.get(c, 0.0) for c in COMPONENTS},
        overlapped_s=a.overlapped_s + (b.overlapped_s if overlapped else 0.0))


def dedup_from_sums(connection: Connection, runs: Any, since_s: float | None,
                    until_s: float | None, sums: dict[str, dict[Any, dict[str, float]]], *,
                    max_records: int | None = None) -> DedupResult:
    """What :func:`.dedup.dedup_energy` gives over every record of ``runs`` in the period.

    ``sums``: run id -> kind of intensity -> the run's sums in the period (the columns of the
    rollups: ``{component}_energy_j``, ``emissions_g``), as :mod:`.query` computes them; a run
    absent from it has no record in the period. Only the candidates' records are read
    (:func:`candidate_runs`); above ``max_records`` of them, :class:`DedupTooLarge`."""
    from sqlalchemy import select

    from .dedup import dedup_energy
    from .models import Run

    candidates = candidate_runs(connection, runs, since_s, until_s)
    if max_records is not None and candidates:
        records = candidate_records(connection, candidates, since_s, until_s)
        if records > max_records:
            raise DedupTooLarge(records, max_records)
    changing, unchanged = _changing_rows(_candidate_rows(connection, candidates, since_s,
                                                         until_s))
    result = dedup_energy(changing)
    run_figures = dict(result.runs)
    hosts, jobs = dict(result.hosts), dict(result.jobs)
    total = result.total
    kept = _own_rows(unchanged)  # a candidate's records that nothing overlaps
    facts = connection.execute(select(Run.run_id, Run.host_id, Run.scope, Run.job_id)
                               .where(Run.run_id.in_(select(runs.c.run_id))))
    for run_id, host_id, scope, job_id in facts:
        if run_id in candidates:
            if run_id not in kept:
                continue  # wholly in dedup_energy's result (or no record in the period)
            own = kept[run_id]
            before = run_figures.get(run_id)
            figures = _plus(before.totals if before else None, own)
        elif run_id in sums:
            added: dict[str, float] = {}
            for values in sums[run_id].values():
                for name, value in values.items():
                    added[name] = added.get(name, 0.0) + value
            figures = own = _own(added)
        else:
            continue  # no record in the period
        run_figures[run_id] = RunEnergy(run_id=run_id, host_id=host_id,
                                        scope=scope or "machine", job_id=job_id,
                                        totals=figures)
        host_key = host_id if host_id is not None else f"run:{run_id}"
        hosts[host_key] = _plus(hosts.get(host_key), own)
        if job_id is not None:
            jobs[job_id] = _plus(jobs.get(job_id), own)
        total = _plus(total, own)
    return DedupResult(rule=result.rule, total=total, hosts=hosts, runs=run_figures, jobs=jobs)
