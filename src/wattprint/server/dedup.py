"""Count a host's energy once when runs on it overlap in time (issue 10: no double counting).

A machine-scope run measures the whole machine: eight ``wattprint run``s at once on one host
each report the machine's energy, and their plain sum is eight times what the host drew. The
organisation, project and host totals therefore go through :func:`dedup_energy`, which also
keeps each run's own (measured) figure, so a dashboard can show both and the difference.

**The rule (``RULE``, stated here and in the README).** Rows are interval records with their
run's host id, scope and job. Per host, time is cut into slices at every row's start and end, and
a row's energy (per component: cpu, gpu, ram, other) and emissions are spread evenly over its
own interval. In each slice:

1. *Measurers.* Machine-scope rows are grouped into measurers: the rows of one distributed job
   (same ``job_id``) form one measurer whose energies add up, because its ranks follow the
   one-measurer-per-device rule (:mod:`wattprint.cluster`: machine-wide devices by the node's
   leader, each GPU by its owner); any other run is a measurer of its own.
2. *One machine.* Each measurer saw the same machine, so the host's machine energy for the
   slice is the **mean** of the measurers' energies, component by component. The mean, not the
   max: every measurer is an honest reading of the same hardware (with its own sampling and
   models), and the max would keep whichever over-read.
3. *Shares first.* Process-scope rows are already shares of the machine (per-process counters
   or a scheduler's allocation), so they are summed and each keeps its own figure. When a
   machine-scope measurer also covers the slice, the shares are part of what it measured: the
   host counts ``max(machine, sum of shares)``, and the machine-scope rows divide what is left
   (``machine - shares``, never below zero).
4. *Attribution.* The machine-scope rows divide their part in proportion to their own
   measured energy, so each run still gets a de-duplicated figure and the runs add up to the
   host total. Emissions follow energy: a row keeps the same fraction of its emissions as of its
   energy (its own intensity and PUE are kept).

A distributed job's runs also add up into one job view (``DedupResult.jobs``), each rank's run
with its de-duplicated figure, so a job counts each node once. Different hosts are never
merged; a row without a host id is its own host (nothing is merged on a guess). A single
measurer on a host changes nothing: its rows keep exactly what they measured. Rows of zero
duration cannot overlap anything and keep their figures.

The function is pure (no database, no clock); :func:`load_interval_rows` reads the rows from
the server database for a time range and an organisation, project or host.
"""

from __future__ import annotations

from .._struct import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Iterator, Sequence

    from sqlalchemy.engine import Connection, Result

__all__ = ["COMPONENTS", "RULE", "DedupResult", "EnergyTotals", "IntervalRow", "RunEnergy",
           "clip_to_range", "dedup_energy", "interval_rows", "load_interval_rows"]

#: The name of the rule above, carried by every result (provenance of the de-duplicated figure).
RULE = "host-slice-mean/v1"

COMPONENTS = ("cpu", "gpu", "ram", "other")


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """One interval record with the run facts that de-duplication needs."""

    host_id: str | None
    run_id: str
    scope: str  # "machine" measures the whole host; anything else ("process") is a share
    start_s: float
    duration_s: float
    cpu_energy_j: float = 0.0
    gpu_energy_j: float = 0.0
    ram_energy_j: float = 0.0
    other_energy_j: float = 0.0
    emissions_g: float = 0.0
    job_id: str | None = None
    node: str | None = None
    rank: int | None = None

    def energies_j(self) -> tuple[float, float, float, float]:
        """Energy per component, in ``COMPONENTS`` order."""
        return (self.cpu_energy_j, self.gpu_energy_j, self.ram_energy_j, self.other_energy_j)


@dataclass(frozen=True, slots=True)
class EnergyTotals:
    """Measured (plain sum of what runs reported) and de-duplicated figures of a set of rows."""

    measured_energy_j: float
    energy_j: float  # de-duplicated
    measured_emissions_g: float
    emissions_g: float  # de-duplicated
    energy_by_component_j: dict[str, float] = field(default_factory=dict)  # de-duplicated
    overlapped_s: float = 0.0  # host-seconds during which more than one measurer overlapped

    @property
    def removed_energy_j(self) -> float:
        return self.measured_energy_j - self.energy_j

    @property
    def removed_emissions_g(self) -> float:
        return self.measured_emissions_g - self.emissions_g


@dataclass(frozen=True, slots=True)
class RunEnergy:
    """One run's figures: what it measured and its de-duplicated share."""

    run_id: str
    host_id: str | None
    scope: str
    job_id: str | None
    totals: EnergyTotals


@dataclass(frozen=True, slots=True)
class DedupResult:
    rule: str
    total: EnergyTotals
    hosts: dict[str, EnergyTotals]  # by host id; a row without one is keyed "run:<run id>"
    runs: dict[str, RunEnergy]  # by run id
    # by job id: the job view, the sum of its ranks' runs (overlapped_s in run-seconds)
    jobs: dict[str, EnergyTotals] = field(default_factory=dict)

    @property
    def removed_energy_j(self) -> float:
        return self.total.removed_energy_j


class _Tally:
    """Running sums of one row (or run, or host) while slices are processed."""

    __slots__ = ("measured_j", "kept_j", "measured_g", "kept_g", "overlapped_s")

    def __init__(self) -> None:
        self.measured_j = 0.0
        self.kept_j = [0.0, 0.0, 0.0, 0.0]
        self.measured_g = 0.0
        self.kept_g = 0.0
        self.overlapped_s = 0.0

    def add(self, other: _Tally) -> None:
        self.add_figures(other.measured_j, other.kept_j, other.measured_g, other.kept_g,
                         other.overlapped_s)

    def add_figures(self, measured_j: float, kept_j: list[float], measured_g: float,
                    kept_g: float, overlapped_s: float) -> None:
        kept = self.kept_j  # in place, component by component (once per row: a hot path)
        kept[0] += kept_j[0]
        kept[1] += kept_j[1]
        kept[2] += kept_j[2]
        kept[3] += kept_j[3]
        self.measured_j += measured_j
        self.measured_g += measured_g
        self.kept_g += kept_g
        self.overlapped_s += overlapped_s

    def totals(self) -> EnergyTotals:
        return EnergyTotals(measured_energy_j=self.measured_j, energy_j=sum(self.kept_j),
                            measured_emissions_g=self.measured_g, emissions_g=self.kept_g,
                            energy_by_component_j=dict(zip(COMPONENTS, self.kept_j, strict=True)),
                            overlapped_s=self.overlapped_s)


def dedup_energy(rows: Iterable[IntervalRow]) -> DedupResult:
    """Per-run, per-host and overall figures of ``rows``, each host's energy counted once."""
    by_host: dict[str, list[IntervalRow]] = {}
    for row in rows:
        if row.duration_s < 0:
            raise ValueError(f"run {row.run_id!r}: negative duration_s {row.duration_s}")
        key = row.host_id if row.host_id is not None else f"run:{row.run_id}"
        by_host.setdefault(key, []).append(row)

    runs: dict[str, _Tally] = {}
    facts: dict[str, IntervalRow] = {}
    hosts: dict[str, EnergyTotals] = {}
    total = _Tally()
    for host_key, host_rows in by_host.items():
        host = _Tally()
        kept_j, kept_g, overlapped_row_s, overlapped_s = _dedup_host(host_rows)
        for row, row_kept_j, row_kept_g, row_overlapped_s in zip(
                host_rows, kept_j, kept_g, overlapped_row_s, strict=True):
            run = runs.get(row.run_id)
            if run is None:  # (not setdefault: a tally built per row costs a busy week ~1 s)
                run = runs[row.run_id] = _Tally()
                facts[row.run_id] = row
            measured_j = sum(row.energies_j())
            run.add_figures(measured_j, row_kept_j, row.emissions_g, row_kept_g,
                            row_overlapped_s)
            host.add_figures(measured_j, row_kept_j, row.emissions_g, row_kept_g,
                             row_overlapped_s)
        host.overlapped_s = overlapped_s  # the host's seconds, not the sum of its runs'
        hosts[host_key] = host.totals()
        total.add(host)
    jobs: dict[str, _Tally] = {}
    for run_id, tally in runs.items():
        job_id = facts[run_id].job_id
        if job_id is not None:
            jobs.setdefault(job_id, _Tally()).add(tally)
    return DedupResult(
        rule=RULE, total=total.totals(), hosts=hosts,
        jobs={job_id: tally.totals() for job_id, tally in jobs.items()},
        runs={run_id: RunEnergy(run_id=run_id, host_id=facts[run_id].host_id,
                                scope=facts[run_id].scope, job_id=facts[run_id].job_id,
                                totals=tally.totals())
              for run_id, tally in runs.items()})


def _measurer(row: IntervalRow) -> str:
    # one job's ranks measure disjoint devices (cluster rule), so together they are one measurer
    return f"job:{row.job_id}" if row.job_id is not None else f"run:{row.run_id}"


def _dedup_host(rows: Sequence[IntervalRow]
                ) -> tuple[list[list[float]], list[float], list[float], float]:
    """Per row of one host, what it keeps under ``RULE`` (energy per component, emissions) and
    its overlapped seconds; the host's overlapped seconds. Flat lists, not an object per row:
    a busy week has hundreds of thousands of rows."""
    if not _any_overlap(rows):  # the usual host (one run at a time): every row keeps its own
        return ([list(row.energies_j()) for row in rows], [row.emissions_g for row in rows],
                [0.0] * len(rows), 0.0)
    # an instant overlaps nothing: it keeps what it measured; the others start from nothing
    kept_j = [[0.0, 0.0, 0.0, 0.0] if row.duration_s else list(row.energies_j())
              for row in rows]
    kept_g = [0.0 if row.duration_s else row.emissions_g for row in rows]
    overlapped_row_s = [0.0] * len(rows)
    return kept_j, kept_g, overlapped_row_s, _sweep(rows, kept_j, kept_g, overlapped_row_s)


def _any_overlap(rows: Sequence[IntervalRow]) -> bool:
    latest_end_s = float("-inf")
    for row in sorted((r for r in rows if r.duration_s > 0), key=lambda r: r.start_s):
        if row.start_s < latest_end_s:
            return True
        latest_end_s = max(latest_end_s, row.start_s + row.duration_s)
    return False


def _sweep(rows: Sequence[IntervalRow], kept_j: list[list[float]], kept_g: list[float],
           overlapped_row_s: list[float]) -> float:
    """Add every slice's figures to what its rows keep (in place); the seconds in which
    measurers overlapped.

    One pass over the sorted slice boundaries with the rows covering the current slice; the
    rows' facts are read once into flat lists, and each slice works on tuples and lists only
    (this loop runs once per slice: hundreds of thousands of times for a busy week). Every
    figure is computed with the same operations in the same order as the rule's plain
    statement, so the results are the same to the last bit."""
    ends_s = [row.start_s + row.duration_s for row in rows]
    durations_s = [row.duration_s for row in rows]
    energies_j = [row.energies_j() for row in rows]
    grams = [row.emissions_g for row in rows]
    is_machine = [row.scope == "machine" for row in rows]
    measurers = [_measurer(row) for row in rows]

    timed = [i for i, row in enumerate(rows) if row.duration_s > 0]
    bounds = sorted({rows[i].start_s for i in timed} | {ends_s[i] for i in timed})
    starting = sorted(timed, key=lambda i: rows[i].start_s)
    starts_s = [rows[i].start_s for i in starting]
    active: list[int] = []
    next_row = 0
    overlapped_s = 0.0
    for begin_s, end_s in zip(bounds, bounds[1:], strict=False):
        while next_row < len(starting) and starts_s[next_row] <= begin_s:
            active.append(starting[next_row])
            next_row += 1
        active = [i for i in active if ends_s[i] > begin_s]
        if not active:
            continue
        slice_s = end_s - begin_s
        if len(active) == 2 and is_machine[active[0]] and is_machine[active[1]]:
            # the busiest case (two machine-scope runs at once), with the general path's
            # arithmetic written out: sum() of floats is 0.0 + a + b ...
            i, j = active
            n_measurers = 1 if measurers[i] == measurers[j] else 2
            _machine_pair(slice_s / durations_s[i], slice_s / durations_s[j],
                          energies_j[i], energies_j[j], n_measurers, kept_j[i], kept_j[j],
                          kept_g, grams, i, j)
            if n_measurers > 1:
                overlapped_s += slice_s
                overlapped_row_s[i] += slice_s
                overlapped_row_s[j] += slice_s
            continue
        machine: list[int] = []
        machine_raw: list[tuple[float, float, float, float]] = []
        shares_raw: list[tuple[float, float, float, float]] = []
        for i in active:
            fraction = slice_s / durations_s[i]
            e = energies_j[i]
            raw = (e[0] * fraction, e[1] * fraction, e[2] * fraction, e[3] * fraction)
            if is_machine[i]:
                machine.append(i)
                machine_raw.append(raw)
            else:  # a share keeps its own figures
                shares_raw.append(raw)
                _keep(kept_j[i], raw)
                raw_j = sum(raw)
                slice_g = grams[i] * fraction
                kept_g[i] += slice_g * raw_j / raw_j if raw_j > 0 else slice_g
        overlapped = bool(machine) and bool(shares_raw)
        if machine:
            n_measurers = 1 if len(machine) == 1 else len({measurers[i] for i in machine})
            overlapped = overlapped or n_measurers > 1
            parts = _machine_parts(machine_raw, shares_raw, n_measurers)
            for i, raw, part in zip(machine, machine_raw, parts, strict=True):
                _keep(kept_j[i], part)
                raw_j = sum(raw)
                slice_g = grams[i] * (slice_s / durations_s[i])
                kept_g[i] += slice_g * sum(part) / raw_j if raw_j > 0 else slice_g
        if overlapped:
            overlapped_s += slice_s
            for i in active:
                overlapped_row_s[i] += slice_s
    return overlapped_s


def _machine_pair(fraction_i: float, fraction_j: float, energies_i: Sequence[float],
                  energies_j: Sequence[float], n_measurers: int, kept_i: list[float],
                  kept_j: list[float], kept_g: list[float], grams: list[float], i: int,
                  j: int) -> None:
    """:func:`_machine_parts` and the tallies' update for a slice of two machine-scope rows
    and no share, operation for operation (the same figures to the last bit)."""
    raw_i = (energies_i[0] * fraction_i, energies_i[1] * fraction_i,
             energies_i[2] * fraction_i, energies_i[3] * fraction_i)
    raw_j = (energies_j[0] * fraction_j, energies_j[1] * fraction_j,
             energies_j[2] * fraction_j, energies_j[3] * fraction_j)
    part_i = [0.0, 0.0, 0.0, 0.0]
    part_j = [0.0, 0.0, 0.0, 0.0]
    for c in (0, 1, 2, 3):
        a, b = raw_i[c], raw_j[c]
        measured = 0.0 + a + b  # what sum((a, b)) computes
        if measured > 0:
            mean = measured / n_measurers
            left = mean if mean > 0.0 else 0.0  # max(0.0, mean - 0): no share to take off
            part_i[c] = a * left / measured
            part_j[c] = b * left / measured
        kept_i[c] += part_i[c]
        kept_j[c] += part_j[c]
    for k, raw, part, fraction in ((i, raw_i, part_i, fraction_i),
                                   (j, raw_j, part_j, fraction_j)):
        raw_total = sum(raw)
        slice_g = grams[k] * fraction
        kept_g[k] += slice_g * sum(part) / raw_total if raw_total > 0 else slice_g


def _keep(kept_j: list[float], part_j: Sequence[float]) -> None:
    kept_j[0] += part_j[0]
    kept_j[1] += part_j[1]
    kept_j[2] += part_j[2]
    kept_j[3] += part_j[3]


def _machine_parts(machine_raw: list[tuple[float, float, float, float]],
                   shares_raw: list[tuple[float, float, float, float]],
                   n_measurers: int) -> list[list[float]]:
    """Each machine-scope row's kept energy per component in one slice (rules 2 to 4)."""
    measured_j = [sum(column) for column in zip(*machine_raw, strict=True)]
    shares_j = ([sum(column) for column in zip(*shares_raw, strict=True)] if shares_raw
                else _NO_SHARES)
    # the mean over measurers, less the shares, never below zero
    left_j = [max(0.0, m / n_measurers - s) for m, s in zip(measured_j, shares_j, strict=True)]
    return [[r * left / m if m > 0 else 0.0 for r, left, m in zip(raw, left_j, measured_j,
                                                                 strict=True)]
            for raw in machine_raw]


_NO_SHARES = (0, 0, 0, 0)  # what sum() of no share gives, so the arithmetic stays the rule's


def load_interval_rows(connection: Connection, *, start_s: float, end_s: float,
                       organisation_id: int | None = None, project_id: int | None = None,
                       host_id: str | None = None) -> list[IntervalRow]:
    """The interval rows overlapping ``[start_s, end_s)`` in the server database, clipped to it.

    A record that straddles an edge keeps the part inside, pro rata of its duration (its power
    is taken as even over its interval, as in :func:`dedup_energy`). Filter by organisation,
    project and/or host; the caller decides who may read what. A run whose info has not arrived
    yet has no host id and no scope: it is read as machine-scope on a host of its own.
    """
    from sqlalchemy import select

    from .models import IntervalRecord, Project, Run

    if not end_s > start_s:
        raise ValueError(f"empty time range: start_s {start_s} must be before end_s {end_s}")
    record, run = IntervalRecord, Run
    query = (select(record.run_id, record.start_s, record.duration_s, record.cpu_energy_j,
                    record.gpu_energy_j, record.ram_energy_j, record.other_energy_j,
                    record.emissions_g, run.host_id, run.scope, run.job_id, run.node, run.rank)
             .join(run, run.run_id == record.run_id)
             .where(record.start_s < end_s, record.start_s + record.duration_s >= start_s)
             .order_by(record.run_id, record.seq))
    if organisation_id is not None:
        query = query.join(Project, Project.id == run.project_id).where(
            Project.organisation_id == organisation_id)
    if project_id is not None:
        query = query.where(run.project_id == project_id)
    if host_id is not None:
        query = query.where(run.host_id == host_id)
    rows = []
    for row in interval_rows(connection.execute(query)):
        clipped = clip_to_range(row, start_s, end_s)
        if clipped is not None:
            rows.append(clipped)
    return rows


def interval_row(r: Any) -> IntervalRow:
    """A database row of a record joined to its run (the columns :class:`IntervalRow` names)
    as an IntervalRow; a run whose info has not arrived counts as machine scope."""
    return IntervalRow(
        host_id=r.host_id, run_id=r.run_id, scope=r.scope or "machine",
        start_s=r.start_s, duration_s=r.duration_s, cpu_energy_j=r.cpu_energy_j,
        gpu_energy_j=r.gpu_energy_j, ram_energy_j=r.ram_energy_j,
        other_energy_j=r.other_energy_j, emissions_g=r.emissions_g, job_id=r.job_id,
        node=r.node, rank=r.rank)


_ROW_COLUMNS = ("host_id", "run_id", "scope", "start_s", "duration_s", "cpu_energy_j",
                "gpu_energy_j", "ram_energy_j", "other_energy_j", "emissions_g", "job_id", "node",
                "rank")  # IntervalRow's fields, in order


def interval_rows(result: Result[Any]) -> Iterator[IntervalRow]:
    """:func:`interval_row` of each row of ``result``, the columns found by name once for the
    whole result rather than per row (a row's attribute lookup by name is the slow part: 4.5 s
    against 1.4 s for the 343,790 records of the benchmark's busy week)."""
    from operator import itemgetter

    keys = list(result.keys())
    pick = itemgetter(*(keys.index(name) for name in _ROW_COLUMNS))
    for r in result:
        (host_id, run_id, scope, start_s, duration_s, cpu_j, gpu_j, ram_j, other_j, grams,
         job_id, node, rank) = pick(r)
        yield IntervalRow(host_id, run_id, scope or "machine", start_s, duration_s, cpu_j,
                          gpu_j, ram_j, other_j, grams, job_id, node, rank)


def clip_to_range(row: IntervalRow, start_s: float, end_s: float) -> IntervalRow | None:
    """The part of ``row`` inside ``[start_s, end_s)``, pro rata of its duration (its power
    taken as even over its interval); None when nothing of it is inside. A zero-length row is
    inside when it starts in the range."""
    row_end_s = row.start_s + row.duration_s
    if row.duration_s > 0 and start_s <= row.start_s and row_end_s <= end_s:
        return row  # wholly inside: whole, exactly
    inside_start_s = max(row.start_s, start_s)
    inside_end_s = min(row_end_s, end_s)
    if row.duration_s > 0:
        if inside_end_s <= inside_start_s:
            return None  # it only touches the range, or lies outside it
        kept = (inside_end_s - inside_start_s) / row.duration_s
    else:
        if not start_s <= row.start_s < end_s:
            return None
        kept = 1.0
    if kept == 1.0:
        return row
    return IntervalRow(
        host_id=row.host_id, run_id=row.run_id, scope=row.scope, start_s=inside_start_s,
        duration_s=max(0.0, inside_end_s - inside_start_s),
        cpu_energy_j=row.cpu_energy_j * kept, gpu_energy_j=row.gpu_energy_j * kept,
        ram_energy_j=row.ram_energy_j * kept, other_energy_j=row.other_energy_j * kept,
        emissions_g=row.emissions_g * kept, job_id=row.job_id, node=row.node, rank=row.rank)
