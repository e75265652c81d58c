"""Read queries behind the query API: runs, one run, totals and a time series.

Every query takes the asking key's organisation and joins through projects to it, so a key of
one organisation can never read another's rows. A run's status comes from its summary (none
yet: ``running``) and its latest heartbeat, judged by the local store's own rule
(:func:`wattprint.store.liveness.effective_status`); a server cannot check pids, so it asks as
no host. Functions take an open SQLAlchemy connection and return plain JSON-ready values.
"""

from __future__ import annotations

# Runtime imports: this module is only ever imported by the server.
from sqlalchemy import and_, func, or_, select

from .._struct import dataclass
from .models import Experiment, Heartbeat, IntervalRecord, Organisation, Project, Run, Span, Summary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sqlalchemy import Connection, Select

    from .dedup import DedupResult

__all__ = ["TOTALS_KEYS", "QueryError", "RunQuery", "list_runs", "one_run", "run_records",
           "run_spans", "series", "totals"]

TOTALS_KEYS = ("organisation", "project", "experiment", "run", "host", "component", "region", "day")
STATUSES = ("running", "interrupted", "finished", "failed")
_COMPONENTS = ("cpu", "gpu", "ram", "other")


class QueryError(ValueError):
    """A query the caller must change: the message says how (400 at the route)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class RunQuery:
    """Which runs; every field that is set must match. ``since_s`` (inclusive) and ``until_s``
    (exclusive) bound the run's start; ``host`` matches a host name or host id."""

    project: str | None = None
    experiment: str | None = None
    status: str | None = None
    host: str | None = None
    job: str | None = None
    since_s: float | None = None
    until_s: float | None = None


_STARTED = func.coalesce(Run.started_s, Run.first_seen_s)  # a placeholder run has no start yet


def _last_beats() -> Any:
    """Per run: the latest heartbeat's time and promised period."""
    latest = (select(Heartbeat.run_id, func.max(Heartbeat.at_s).label("at_s"))
              .group_by(Heartbeat.run_id).subquery())
    return (select(Heartbeat.run_id, Heartbeat.at_s, Heartbeat.every_s)
            .join(latest, and_(latest.c.run_id == Heartbeat.run_id,
                               latest.c.at_s == Heartbeat.at_s))
            .subquery())


def _scoped_runs(organisation_id: int, query: RunQuery) -> Select[Any]:
    beats = _last_beats()
    statement = (
        select(Run.__table__, Project.name.label("project"), Experiment.name.label("experiment"),
               Organisation.slug.label("organisation"), _STARTED.label("started"),
               Summary.status.label("stored_status"), Summary.duration_s.label("s_duration_s"),
               Summary.energy_j.label("s_energy_j"), Summary.emissions_g.label("s_emissions_g"),
               beats.c.at_s.label("heartbeat_s"), beats.c.every_s.label("heartbeat_every_s"))
        .join(Project, Project.id == Run.project_id)
        .join(Organisation, Organisation.id == Project.organisation_id)
        .outerjoin(Experiment, Experiment.id == Run.experiment_id)
        .outerjoin(Summary, Summary.run_id == Run.run_id)
        .outerjoin(beats, beats.c.run_id == Run.run_id)
        .where(Project.organisation_id == organisation_id))
    if query.project is not None:
        statement = statement.where(Project.name == query.project)
    if query.experiment is not None:
        statement = statement.where(Experiment.name == query.experiment)
    if query.host is not None:
        statement = statement.where(or_(Run.hostname == query.host, Run.host_id == query.host))
    if query.job is not None:
        statement = statement.where(Run.job_id == query.job)
    if query.since_s is not None:
        statement = statement.where(_STARTED >= query.since_s)
    if query.until_s is not None:
        statement = statement.where(_STARTED < query.until_s)
    if query.status is not None:
        if query.status not in STATUSES:
            raise QueryError(f"status {query.status!r}: choose one of {', '.join(STATUSES)}",
                             field="status")
        # Only a run without a summary can be running or interrupted; the rest is exact.
        statement = statement.where(Summary.status.is_(None) if query.status in
                                    ("running", "interrupted") else Summary.status == query.status)
    return statement


def _status(row: Any, now_s: float) -> str:
    from ..store.liveness import Liveness, effective_status

    liveness = Liveness(status=row.stored_status or "running", host_id=row.host_id,
                        hostname=row.hostname, heartbeat_s=row.heartbeat_s,
                        heartbeat_every_s=row.heartbeat_every_s)
    # No host asks and no pid can be checked here: only the heartbeat decides.
    return effective_status(liveness, now_s=now_s, host_id=None, hostname=None,
                            pid_alive=lambda _pid: True)


def _run_view(row: Any, now_s: float) -> dict[str, Any]:
    run = row
    return {
        "run_id": run.run_id, "organisation": row.organisation, "project": row.project,
        "experiment": row.experiment, "started_s": run.started_s, "status": _status(row, now_s),
        "info_received": run.info_received, "host_id": run.host_id, "hostname": run.hostname,
        "job_id": run.job_id, "node": run.node, "rank": run.rank, "region": _region(run),
        "duration_s": row.s_duration_s, "energy_j": row.s_energy_j,
        "emissions_g": row.s_emissions_g, "heartbeat_s": row.heartbeat_s,
    }


def _encode_cursor(started_s: float, run_id: str) -> str:
    from ..store.repository import encode_cursor

    return encode_cursor(started_s, run_id)


def _decode_cursor(cursor: str) -> tuple[float, str]:
    from ..errors import StoreError
    from ..store.repository import decode_cursor

    try:
        return decode_cursor(cursor)
    except StoreError as exc:
        raise QueryError(str(exc), field="cursor") from None


def list_runs(connection: Connection, organisation_id: int, query: RunQuery, *, now_s: float,
              limit: int, cursor: str | None = None) -> dict[str, Any]:
    """Newest first, ``limit`` per page; ``next_cursor`` (None on the last page) continues."""
    statement = _scoped_runs(organisation_id, query).order_by(_STARTED.desc(), Run.run_id.desc())
    after = _decode_cursor(cursor) if cursor else None
    runs: list[dict[str, Any]] = []
    more = False
    while True:  # a status filter can drop rows after the query: fetch until the page is full
        page = statement
        if after is not None:
            page = page.where(or_(_STARTED < after[0],
                                  and_(_STARTED == after[0], Run.run_id < after[1])))
        rows = connection.execute(page.limit(limit + 1)).all()
        for row in rows[:limit]:
            after = (row.started, row.run_id)
            view = _run_view(row, now_s)
            if query.status is None or view["status"] == query.status:
                runs.append(view)
                if len(runs) == limit:
                    break
        more = len(rows) > limit
        if len(runs) == limit or not more:
            break
    next_cursor = _encode_cursor(*after) if more and after is not None else None
    return {"runs": runs, "next_cursor": next_cursor}


def one_run(connection: Connection, organisation_id: int, run_id: str, *,
            now_s: float) -> dict[str, Any] | None:
    """The run's view, its info and summary as wire objects; None when the org has no such run."""
    statement = _scoped_runs(organisation_id, RunQuery()).where(Run.run_id == run_id)
    row = connection.execute(statement).first()
    if row is None:
        return None
    summary = connection.execute(select(Summary.wire).where(Summary.run_id == run_id)).scalar()
    return {**_run_view(row, now_s), "info": row.wire, "summary": summary}


def _owned(connection: Connection, organisation_id: int, run_id: str) -> bool:
    return connection.execute(
        select(Run.run_id).join(Project, Project.id == Run.project_id)
        .where(Run.run_id == run_id, Project.organisation_id == organisation_id)).first() \
        is not None


def run_records(connection: Connection, organisation_id: int, run_id: str, *, since_seq: int,
                limit: int) -> dict[str, Any] | None:
    """Records with ``seq >= since_seq`` in order; ``next_seq`` continues (None when done)."""
    if not _owned(connection, organisation_id, run_id):
        return None
    columns = [c for c in IntervalRecord.__table__.columns if c.name != "run_id"]
    rows = connection.execute(
        select(*columns).where(IntervalRecord.run_id == run_id, IntervalRecord.seq >= since_seq)
        .order_by(IntervalRecord.seq).limit(limit + 1)).all()
    records = [dict(row._mapping) for row in rows[:limit]]
    next_seq = records[-1]["seq"] + 1 if len(rows) > limit else None
    return {"run_id": run_id, "records": records, "next_seq": next_seq}


def run_spans(connection: Connection, organisation_id: int, run_id: str) -> list[Any] | None:
    """The run's span aggregates as wire objects, by first start."""
    if not _owned(connection, organisation_id, run_id):
        return None
    return list(connection.execute(
        select(Span.wire).where(Span.run_id == run_id)
        .order_by(Span.first_start_s, Span.span_id)).scalars())


def _region(run: Any) -> str:
    # The same key as the local store's aggregate by region.
    if run.cloud_region:
        return f"{run.cloud or 'cloud'}/{run.cloud_region}"
    if run.zone:
        return str(run.zone)
    if run.country:
        return f"{run.country}-{run.subdivision}" if run.subdivision else str(run.country)
    return "unknown"


def _group_key(by: str, row: Any) -> str:
    if by == "run":
        return str(row.run_id)
    if by == "host":
        return str(row.hostname or row.host_id or "unknown")
    if by == "region":
        return _region(row)
    if by == "day":
        import time

        return time.strftime("%Y-%m-%d", time.gmtime(row.started))
    return str(getattr(row, by) or "unknown")  # organisation, project, experiment


def _record_sums(connection: Connection, run_ids: list[str]) -> dict[str, dict[Any, dict[str, float]]]:
    """run id -> intensity kind -> sums of its records (kind None: no intensity)."""
    r = IntervalRecord
    parts = [func.sum(r.duration_s).label("duration_s"), func.sum(r.energy_j).label("energy_j"),
             func.sum(r.emissions_g).label("emissions_g")]
    from sqlalchemy import case

    for comp in _COMPONENTS:
        energy = getattr(r, f"{comp}_energy_j")
        parts.append(func.sum(energy).label(f"{comp}_energy_j"))
        # a component's share of each record's grams is its share of the record's energy
        parts.append(func.sum(case((r.energy_j > 0, r.emissions_g * energy / r.energy_j),
                                   else_=0.0)).label(f"{comp}_emissions_g"))
    out: dict[str, dict[Any, dict[str, float]]] = {}
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start:start + 500]
        rows = connection.execute(select(r.run_id, r.intensity_kind, *parts)
                                  .where(r.run_id.in_(chunk))
                                  .group_by(r.run_id, r.intensity_kind)).all()
        for row in rows:
            values = row._mapping
            out.setdefault(row.run_id, {})[row.intensity_kind] = {
                k: float(values[k] or 0.0) for k in values.keys()
                if k not in ("run_id", "intensity_kind")}
    return out


def totals(connection: Connection, organisation_id: int, by: str, query: RunQuery, *,
           dedup: bool = False) -> dict[str, Any]:
    """Totals per ``by`` (one of :data:`TOTALS_KEYS`), sorted by key, as the local store's
    aggregate computes them: grams per kind of intensity (average and marginal never summed
    into one another silently), runs without a summary counted with their records so far.

    With ``dedup``, each group also carries its runs' de-duplicated figures (a host's energy
    counted once where runs on it overlap, :func:`.dedup.dedup_energy`) beside the plain
    per-run sums, and ``dedup`` the overall figures and the rule's name."""
    if by not in TOTALS_KEYS:
        raise QueryError(f"cannot total by {by!r}; choose one of {', '.join(TOTALS_KEYS)}",
                         field="by")
    rows = connection.execute(_scoped_runs(organisation_id, query)).all()
    run_ids = [row.run_id for row in rows]
    sums = _record_sums(connection, run_ids)
    shared = _dedup(connection, run_ids) if dedup else None
    groups: dict[str, list[Any]] = {}  # key -> [runs, duration_s, energy_j, {kind: g}, dedup J, g]

    def add(key: str, duration_s: float, energy_j: float, by_kind: dict[str, float],
            dedup_j: float = 0.0, dedup_g: float = 0.0) -> None:
        group = groups.setdefault(key, [0, 0.0, 0.0, {}, 0.0, 0.0])
        group[0] += 1
        group[1] += duration_s
        group[2] += energy_j
        for kind, grams in by_kind.items():
            group[3][kind] = group[3].get(kind, 0.0) + grams
        group[4] += dedup_j
        group[5] += dedup_g

    for row in rows:
        per_kind = sums.get(row.run_id, {})
        total: dict[str, float] = {}
        for values in per_kind.values():
            for name, value in values.items():
                total[name] = total.get(name, 0.0) + value
        duration_s = row.s_duration_s if row.s_duration_s is not None \
            else total.get("duration_s", 0.0)
        kept = shared.runs[row.run_id].totals if shared and row.run_id in shared.runs else None
        if by == "component":
            for comp in _COMPONENTS:
                if total.get(f"{comp}_energy_j", 0.0) > 0:
                    kept_j = kept.energy_by_component_j.get(comp, 0.0) if kept else 0.0
                    # a component's de-duplicated grams follow its share of the run's energy
                    kept_g = kept.emissions_g * kept_j / kept.energy_j \
                        if kept and kept.energy_j > 0 else 0.0
                    add(comp, duration_s, total[f"{comp}_energy_j"],
                        _grams_by_kind(per_kind, f"{comp}_emissions_g"), kept_j, kept_g)
            continue
        energy_j = row.s_energy_j if row.s_energy_j is not None else total.get("energy_j", 0.0)
        grams = _grams_by_kind(per_kind, "emissions_g")
        if not per_kind and row.s_emissions_g:  # a summary without its records
            grams = {"unknown": float(row.s_emissions_g)}
        add(_group_key(by, row), duration_s, energy_j, grams,
            kept.energy_j if kept else 0.0, kept.emissions_g if kept else 0.0)
    out: dict[str, Any] = {"by": by, "groups": [
        {"key": key, "runs": g[0], "duration_s": g[1], "energy_j": g[2],
         "emissions_g": sum(g[3].values()), "emissions_by_kind": dict(sorted(g[3].items())),
         **({"deduplicated": {"energy_j": g[4], "emissions_g": g[5]}} if shared else {})}
        for key, g in sorted(groups.items())]}
    if shared is not None:
        whole = shared.total
        out["dedup"] = {
            "rule": shared.rule, "measured_energy_j": whole.measured_energy_j,
            "energy_j": whole.energy_j, "measured_emissions_g": whole.measured_emissions_g,
            "emissions_g": whole.emissions_g, "removed_energy_j": whole.removed_energy_j,
            "removed_emissions_g": whole.removed_emissions_g, "overlapped_s": whole.overlapped_s}
    return out


def _dedup(connection: Connection, run_ids: list[str]) -> DedupResult:
    """De-duplicated figures of all the records of ``run_ids`` (whole runs, not clipped)."""
    from .dedup import IntervalRow, dedup_energy

    r, run = IntervalRecord, Run
    rows: list[IntervalRow] = []
    for start in range(0, len(run_ids), 500):
        chunk = run_ids[start:start + 500]
        for x in connection.execute(
                select(r.run_id, r.start_s, r.duration_s, r.cpu_energy_j, r.gpu_energy_j,
                       r.ram_energy_j, r.other_energy_j, r.emissions_g, run.host_id, run.scope,
                       run.job_id, run.node, run.rank)
                .join(run, run.run_id == r.run_id).where(r.run_id.in_(chunk))):
            # a run whose info has not arrived: machine scope on a host of its own, as dedup's
            # own loader reads it
            rows.append(IntervalRow(
                host_id=x.host_id, run_id=x.run_id, scope=x.scope or "machine",
                start_s=x.start_s, duration_s=x.duration_s, cpu_energy_j=x.cpu_energy_j,
                gpu_energy_j=x.gpu_energy_j, ram_energy_j=x.ram_energy_j,
                other_energy_j=x.other_energy_j, emissions_g=x.emissions_g, job_id=x.job_id,
                node=x.node, rank=x.rank))
    return dedup_energy(rows)


def _grams_by_kind(per_kind: dict[Any, dict[str, float]], column: str) -> dict[str, float]:
    return {kind: values[column] for kind, values in per_kind.items()
            if kind is not None and values.get(column)}


def series(connection: Connection, organisation_id: int, query: RunQuery, *, since_s: float,
           until_s: float, points: int) -> dict[str, Any]:
    """Energy and emissions of the records starting in [since_s, until_s), summed into at most
    ``points`` equal buckets; a bucket with no record is left out."""
    if not until_s > since_s:
        raise QueryError("until must be after since", field="until")
    if points < 1:
        raise QueryError("points must be at least 1", field="points")
    width_s = (until_s - since_s) / points
    runs = _scoped_runs(organisation_id, RunQuery(
        project=query.project, experiment=query.experiment, host=query.host, job=query.job,
    )).with_only_columns(Run.run_id).subquery()
    r = IntervalRecord
    rows = connection.execute(
        select(r.start_s, r.energy_j, r.emissions_g)
        .where(r.run_id.in_(select(runs.c.run_id)), r.start_s >= since_s, r.start_s < until_s))
    buckets: dict[int, list[float]] = {}
    for start_s, energy_j, emissions_g in rows:
        index = min(int((start_s - since_s) // width_s), points - 1)  # float edge at until_s
        bucket = buckets.setdefault(index, [0.0, 0.0, 0])
        bucket[0] += energy_j
        bucket[1] += emissions_g
        bucket[2] += 1
    return {"since_s": since_s, "until_s": until_s, "bucket_s": width_s, "points": [
        {"start_s": since_s + i * width_s, "energy_j": b[0], "emissions_g": b[1],
         "records": int(b[2])} for i, b in sorted(buckets.items())]}
