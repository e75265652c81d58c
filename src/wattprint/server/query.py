"""Read queries behind the query API: runs, one run, totals and a time series.

Every query takes the asking key's organisation and joins through projects to it, so a key of
one organisation can never read another's rows. A run's status comes from its summary (none
yet: ``running``) and its latest heartbeat, judged by the local store's own rule
(:func:`wattprint.store.liveness.effective_status`); a server cannot check pids, so it asks as
no host. Functions take an open SQLAlchemy connection and return plain JSON-ready values.
"""

from __future__ import annotations

# Runtime imports: this module is only ever imported by the server.
from sqlalchemy import Integer, and_, case, cast, func, or_, select, union_all

from .._struct import dataclass
from .models import (
    Experiment,
    Heartbeat,
    IntervalRecord,
    Organisation,
    Prediction,
    Project,
    RollupRun,
    RollupRunHour,
    Run,
    Span,
    Summary,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Sequence

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
    (exclusive) bound the run's start in the runs list, and the records' time in totals
    (:func:`totals`); ``host`` matches a host name or host id."""

    project: str | None = None
    experiment: str | None = None
    status: str | None = None
    host: str | None = None
    job: str | None = None
    since_s: float | None = None
    until_s: float | None = None
    run_id: str | None = None


_STARTED = func.coalesce(Run.started_s, Run.first_seen_s)  # a placeholder run has no start yet


def _latest_beat(column: Any) -> Any:
    """Per run: a column of its latest heartbeat, looked up through the primary key
    (run_id, at_s) for each row returned, never aggregated over the whole table."""
    return (select(column).where(Heartbeat.run_id == Run.run_id)
            .order_by(Heartbeat.at_s.desc()).limit(1).correlate(Run).scalar_subquery())


def _rolled_up(column: Any) -> Any:
    """Per run: the sum of a rollup_runs column over its kinds of intensity (None: no record)."""
    return (select(func.sum(column)).where(RollupRun.run_id == Run.run_id)
            .correlate(Run).scalar_subquery())


def _scoped_runs(organisation_id: int, query: RunQuery, *, detail: bool = True,
                 wire: bool = False) -> Select[Any]:
    """The runs of the organisation that match ``query``; with ``detail``, each with its latest
    heartbeat and its records' sums so far (the runs list's view), else only what totals need.
    The run's wire object (kilobytes of JSON each) only with ``wire``."""
    run_columns = [c for c in Run.__table__.c if wire or c.name != "wire"] if detail else [
        Run.run_id, Run.hostname, Run.host_id, Run.cloud, Run.cloud_region, Run.zone,
        Run.country, Run.subdivision]  # what totals group by: fewer columns, faster rows
    columns: list[Any] = [*run_columns, Project.name.label("project"), Experiment.name.label("experiment"),
               Organisation.slug.label("organisation"), _STARTED.label("started"),
               Summary.status.label("stored_status"), Summary.duration_s.label("s_duration_s"),
               Summary.energy_j.label("s_energy_j"), Summary.emissions_g.label("s_emissions_g")]
    if detail:
        columns += [_latest_beat(Heartbeat.at_s).label("heartbeat_s"),
                    _latest_beat(Heartbeat.every_s).label("heartbeat_every_s"),
                    _rolled_up(RollupRun.duration_s).label("r_duration_s"),
                    _rolled_up(RollupRun.energy_j).label("r_energy_j"),
                    _rolled_up(RollupRun.emissions_g).label("r_emissions_g")]
    statement = (
        select(*columns)
        .join(Project, Project.id == Run.project_id)
        .join(Organisation, Organisation.id == Project.organisation_id)
        .outerjoin(Experiment, Experiment.id == Run.experiment_id)
        .outerjoin(Summary, Summary.run_id == Run.run_id)
        .where(Project.organisation_id == organisation_id))
    if query.run_id is not None:
        statement = statement.where(Run.run_id == query.run_id)
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
        # the summary's figures once it came, else the records' so far (from the rollup)
        "duration_s": _first(row.s_duration_s, row.r_duration_s),
        "energy_j": _first(row.s_energy_j, row.r_energy_j),
        "emissions_g": _first(row.s_emissions_g, row.r_emissions_g),
        "heartbeat_s": row.heartbeat_s,
    }


def _first(*values: float | None) -> float | None:
    return next((value for value in values if value is not None), None)


def _encode_cursor(started_s: float, run_id: str) -> str:
    from ..store.repository import encode_cursor

    return encode_cursor(started_s, run_id)


def _decode_cursor(cursor: str) -> tuple[float, str]:
    from ..errors import StoreError
    from ..store.repository import decode_cursor
    from .storable import unstorable

    try:
        started_s, run_id = decode_cursor(cursor)
    except StoreError as exc:
        raise QueryError(str(exc), field="cursor") from None
    if unstorable(run_id):  # not one of ours: a NUL or lone surrogate no database takes
        raise QueryError(f"invalid cursor {cursor[:80]!r}: pass the next_cursor of a previous "
                         "page unchanged", field="cursor")
    return started_s, run_id


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
    statement = _scoped_runs(organisation_id, RunQuery(), wire=True).where(Run.run_id == run_id)
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


def run_record_rows(connection: Connection, organisation_id: int, run_id: str,
                    columns: Sequence[str], *, since_seq: int,
                    limit: int) -> list[tuple[Any, ...]] | None:
    """Raw rows of the run's records, ``columns`` (``seq`` first) with ``seq >= since_seq``
    in order, at most ``limit``: what a download or a waste scan pages through instead of
    :func:`run_records`' dicts (None: no such run in the organisation). JSON columns come as
    the driver decodes them."""
    if not _owned(connection, organisation_id, run_id):
        return None
    table = IntervalRecord.__table__.columns
    if not columns or columns[0] != "seq" or any(c not in table or c == "run_id"
                                                  for c in columns):
        raise QueryError(f"record columns must start with 'seq' and name record columns, not "
                         f"{tuple(columns)}")
    return [tuple(row) for row in connection.execute(
        select(*(table[c] for c in columns))
        .where(IntervalRecord.run_id == run_id, IntervalRecord.seq >= since_seq)
        .order_by(IntervalRecord.seq).limit(limit))]


def run_spans(connection: Connection, organisation_id: int, run_id: str) -> list[Any] | None:
    """The run's span aggregates as wire objects, by first start."""
    if not _owned(connection, organisation_id, run_id):
        return None
    return list(connection.execute(
        select(Span.wire).where(Span.run_id == run_id)
        .order_by(Span.first_start_s, Span.span_id)).scalars())


def run_prediction(connection: Connection, organisation_id: int,
                   run_id: str) -> dict[str, Any] | None | bool:
    """The run's latest prediction as its wire object; None when it made none, False when
    the run is not the organisation's."""
    if not _owned(connection, organisation_id, run_id):
        return False
    wire: dict[str, Any] | None = connection.execute(
        select(Prediction.wire).where(Prediction.run_id == run_id)).scalar_one_or_none()
    return wire


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


_SUMMED = ("duration_s", "energy_j", "emissions_g",
           *(f"{comp}_{unit}" for comp in _COMPONENTS for unit in ("energy_j", "emissions_g")))

Sums = dict  # run id -> intensity kind (None: no intensity) -> column -> value


def _collect(out: dict[str, dict[Any, dict[str, float]]], rows: Any) -> None:
    for row in rows:
        values = row._mapping
        per_kind = out.setdefault(row.run_id, {}).setdefault(row.intensity_kind or None, {})
        for name in _SUMMED:
            per_kind[name] = per_kind.get(name, 0.0) + float(values[name] or 0.0)


def _whole_run_sums(connection: Connection, runs: Any) -> dict[str, dict[Any, dict[str, float]]]:
    """run id -> kind -> its records' sums, from rollup_runs (one row per run and kind)."""
    out: dict[str, dict[Any, dict[str, float]]] = {}
    _collect(out, connection.execute(
        select(RollupRun.run_id, RollupRun.intensity_kind,
               *(getattr(RollupRun, name) for name in _SUMMED))
        .where(RollupRun.run_id.in_(select(runs.c.run_id)))))
    return out


def _ceil_hour(time_s: float) -> int:
    from .rollups import HOUR_S, hour_of

    hour = hour_of(time_s)
    return hour if hour == time_s else hour + HOUR_S


def _range_statements(runs: Any, since_s: float | None, until_s: float | None) -> list[Any]:
    """Statements whose rows (run id, kind, sums) add up to each run's records' parts inside
    [since_s, until_s).

    A record's part is pro rata of its time inside (power even over its interval; a zero-length
    record is inside when it starts inside). Whole UTC hours come from rollup_run_hours, which
    holds exactly each hour's parts; a partial hour at either edge comes from the records
    themselves, read by primary key between the sequence numbers the hour's rollup keeps."""
    from .rollups import hour_of

    lo_h = _ceil_hour(since_s) if since_s is not None else None
    hi_h = hour_of(until_s) if until_s is not None else None
    edges: list[tuple[float, float]] = []
    whole = True
    if lo_h is not None and hi_h is not None and lo_h > hi_h:  # inside one hour
        assert since_s is not None and until_s is not None
        whole, edges = False, [(since_s, until_s)]
    else:
        if since_s is not None and lo_h is not None and since_s < lo_h:
            edges.append((since_s, lo_h))
        if until_s is not None and hi_h is not None and hi_h < until_s:
            edges.append((hi_h, until_s))
    return [*_whole_hours(runs, lo_h, hi_h, whole),
            *(_edge_sums(select(runs.c.run_id), hour_of(edge_start_s), edge_start_s, edge_end_s)
              for edge_start_s, edge_end_s in edges)]


def _whole_hours(runs: Any, lo_h: int | None, hi_h: int | None, whole: bool) -> list[Any]:
    """Per run and kind: the sums of rollup_run_hours over the whole hours [lo_h, hi_h)."""
    if not whole:
        return []
    h = RollupRunHour
    statement = (select(h.run_id, h.intensity_kind,
                        *(func.sum(getattr(h, name)).label(name) for name in _SUMMED))
                 .where(h.run_id.in_(select(runs.c.run_id))).group_by(h.run_id, h.intensity_kind))
    if lo_h is not None:
        statement = statement.where(h.hour_start_s >= lo_h)
    if hi_h is not None:
        statement = statement.where(h.hour_start_s < hi_h)
    return [statement]


def _range_sums(connection: Connection, runs: Any, since_s: float | None,
                until_s: float | None) -> dict[str, dict[Any, dict[str, float]]]:
    """run id -> kind -> the sums of its records' parts inside [since_s, until_s)
    (:func:`_range_statements`)."""
    out: dict[str, dict[Any, dict[str, float]]] = {}
    for statement in _range_statements(runs, since_s, until_s):
        _collect(out, connection.execute(statement))
    return out


def _edge_sums(scope: Any, hour_s: int, start_s: float, end_s: float) -> Any:
    """Per run and kind: the records' parts inside [start_s, end_s), within the hour starting
    at ``hour_s``. Each run's records with a share in that hour lie between the sequence
    numbers its rollup row keeps: they are read by primary key, run by run (a time index
    would fetch them scattered over the whole table)."""
    h, r = RollupRunHour, IntervalRecord
    seqs = (select(h.run_id, func.min(h.first_seq).label("first_seq"),
                   func.max(h.last_seq).label("last_seq"))
            .where(h.hour_start_s == hour_s, h.run_id.in_(scope))
            .group_by(h.run_id).subquery())
    record_end = r.start_s + r.duration_s
    inside_start = case((r.start_s > start_s, r.start_s), else_=start_s)
    inside_end = case((record_end < end_s, record_end), else_=end_s)
    # a record wholly inside counts whole, exactly (not its times' difference over its duration)
    share = case((or_(r.duration_s <= 0, and_(r.start_s >= start_s, record_end <= end_s)), 1.0),
                 else_=(inside_end - inside_start) / r.duration_s)
    parts = [func.sum(r.duration_s * share).label("duration_s"),
             func.sum(r.energy_j * share).label("energy_j"),
             func.sum(r.emissions_g * share).label("emissions_g")]
    for comp in _COMPONENTS:
        energy = getattr(r, f"{comp}_energy_j")
        parts.append(func.sum(energy * share).label(f"{comp}_energy_j"))
        # a component's share of each record's grams is its share of the record's energy
        parts.append(func.sum(case((r.energy_j > 0, r.emissions_g * energy / r.energy_j),
                                   else_=0.0) * share).label(f"{comp}_emissions_g"))
    return (select(r.run_id, r.intensity_kind, *parts)
            .join(seqs, and_(seqs.c.run_id == r.run_id, r.seq >= seqs.c.first_seq,
                             r.seq <= seqs.c.last_seq))
            # "+ 0.0" (the same value) keeps PostgreSQL off ix_records_start here: for some
            # edges it merged the hour's runs with a time-index scan from the table's start
            # (1.1 s at 10^7 records) instead of reading each run's seq range (65 ms)
            .where(r.start_s + 0.0 < end_s,
                   or_(and_(r.duration_s > 0, record_end > start_s),
                       and_(r.duration_s <= 0, r.start_s >= start_s)))
            .group_by(r.run_id, r.intensity_kind))


def totals(connection: Connection, organisation_id: int, by: str, query: RunQuery, *,
           dedup: bool = False, dedup_max_records: int | None = None) -> dict[str, Any]:
    """Totals per ``by`` (one of :data:`TOTALS_KEYS`), sorted by key, as the local store's
    aggregate computes them: grams per kind of intensity (average and marginal never summed
    into one another silently), runs without a summary counted with their records so far.

    Without a time range, a run counts whole (its summary's energy and duration once it came).
    With ``since_s`` and/or ``until_s``, the range bounds the records' time, not the runs':
    each record counts by its part inside [since_s, until_s), pro rata of its time (power even
    over its interval), and a group counts the runs with a part inside. The sums come from the
    rollups (:mod:`.rollups`) and, for a partial hour at an edge, the records; never a scan of
    all the records.

    With ``dedup``, each group also carries its runs' de-duplicated figures (a host's energy
    counted once where runs on it overlap, :func:`.dedup.dedup_energy`, over the same range)
    beside the plain per-run sums, and ``dedup`` the overall figures and the rule's name. Only
    the records of runs that overlap another measurer's are read (:mod:`.dedup_fast`); above
    ``dedup_max_records`` of them, :class:`.dedup_fast.DedupTooLarge`."""
    if by not in TOTALS_KEYS:
        raise QueryError(f"cannot total by {by!r}; choose one of {', '.join(TOTALS_KEYS)}",
                         field="by")
    since_s, until_s = query.since_s, query.until_s
    if since_s is not None and until_s is not None and not until_s > since_s:
        raise QueryError("until must be after since", field="until")
    scope = _scoped_runs(organisation_id, RunQuery(
        project=query.project, experiment=query.experiment, status=query.status,
        host=query.host, job=query.job, run_id=query.run_id), detail=False)
    if not dedup:  # grouped in the database: a few rows per group come back, not every run
        return _totals_view(by, _grouped_in_sql(connection, by, scope, since_s, until_s), None)
    from .dedup_fast import dedup_from_sums

    runs = scope.with_only_columns(Run.run_id).subquery()
    ranged = since_s is not None or until_s is not None
    sums = _range_sums(connection, runs, since_s, until_s) if ranged \
        else _whole_run_sums(connection, runs)
    shared = dedup_from_sums(connection, runs, since_s, until_s, sums,
                             max_records=dedup_max_records)
    return _totals_view(by, _grouped_in_python(connection, by, scope, since_s, until_s, shared,
                                               sums), shared)


def _grouped_in_sql(connection: Connection, by: str, scope: Select[Any], since_s: float | None,
                    until_s: float | None) -> dict[str, list[Any]]:
    from .totals_sql import grouped_totals

    runs = scope.with_only_columns(Run.run_id).subquery()
    ranged = since_s is not None or until_s is not None
    r = RollupRun
    statements = _range_statements(runs, since_s, until_s) if ranged else [
        select(r.run_id, r.intensity_kind, *(getattr(r, name) for name in _SUMMED))
        .where(r.run_id.in_(select(runs.c.run_id)))]
    sums: Any = statements[0]
    if len(statements) > 1:
        combine: Any = union_all  # its overloads' typing crashes mypy 2.4 when unpacked
        sums = combine(*statements)
    return grouped_totals(connection, by, scope, sums, ranged=ranged)


def _grouped_in_python(connection: Connection, by: str, scope: Select[Any],
                       since_s: float | None, until_s: float | None,
                       shared: DedupResult | None,
                       sums: dict[str, dict[Any, dict[str, float]]] | None = None,
                       ) -> dict[str, list[Any]]:
    """key -> [runs, duration_s, energy_j, {kind: grams}, dedup J, dedup g]: the runs grouped
    here, one by one (the path with per-run de-duplicated figures to add); ``sums``, each run's
    sums in the range (or whole) by kind of intensity, when the caller has them already."""
    ranged = since_s is not None or until_s is not None
    rows = connection.execute(scope).all()
    if sums is None:
        runs = scope.with_only_columns(Run.run_id).subquery()
        sums = _range_sums(connection, runs, since_s, until_s) if ranged \
            else _whole_run_sums(connection, runs)
    if ranged:
        rows = [row for row in rows if row.run_id in sums]
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
        summary_counts = not ranged  # a summary covers the whole run, not a range
        duration_s = row.s_duration_s if summary_counts and row.s_duration_s is not None \
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
        energy_j = row.s_energy_j if summary_counts and row.s_energy_j is not None \
            else total.get("energy_j", 0.0)
        grams = _grams_by_kind(per_kind, "emissions_g")
        if summary_counts and not per_kind and row.s_emissions_g:  # a summary without records
            grams = {"unknown": float(row.s_emissions_g)}
        add(_group_key(by, row), duration_s, energy_j, grams,
            kept.energy_j if kept else 0.0, kept.emissions_g if kept else 0.0)
    return groups


def _totals_view(by: str, groups: dict[str, list[Any]],
                 shared: DedupResult | None) -> dict[str, Any]:
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


def _grams_by_kind(per_kind: dict[Any, dict[str, float]], column: str) -> dict[str, float]:
    return {kind: values[column] for kind, values in per_kind.items()
            if kind is not None and values.get(column)}


def _in_range(start_s: Any, since_s: float, until_s: float, *, one_run: str | None) -> list[Any]:
    """``since_s <= start_s < until_s``; for one run, with its id and written so that PostgreSQL
    reads the run's records by primary key alone (a time range over every run's records,
    intersected with the run's, costs more than the run's records themselves)."""
    if one_run is None:
        return [start_s >= since_s, start_s < until_s]
    return [IntervalRecord.run_id == one_run, start_s - since_s >= 0, start_s - until_s < 0]


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
        run_id=query.run_id), detail=False).with_only_columns(Run.run_id).subquery()
    r = IntervalRecord
    offset = (r.start_s - since_s) / width_s  # >= 0 here
    # summed in the database: a run's 10,000 records come back as at most ``points`` rows
    index = func.floor(offset) if connection.dialect.name == "postgresql" \
        else cast(offset, Integer)  # SQLite has no floor(); a cast truncates, the same for >= 0
    rows = connection.execute(
        select(index.label("bucket"), func.sum(r.energy_j), func.sum(r.emissions_g),
               func.count())
        .where(r.run_id.in_(select(runs.c.run_id)), *_in_range(r.start_s, since_s, until_s,
                                                               one_run=query.run_id))
        .group_by(index))
    buckets: dict[int, list[float]] = {}
    for raw_index, energy_j, emissions_g, count in rows:
        bucket = buckets.setdefault(min(int(raw_index), points - 1),  # float edge at until_s
                                    [0.0, 0.0, 0])
        bucket[0] += energy_j
        bucket[1] += emissions_g
        bucket[2] += count
    return {"since_s": since_s, "until_s": until_s, "bucket_s": width_s, "points": [
        {"start_s": since_s + i * width_s, "energy_j": b[0], "emissions_g": b[1],
         "records": int(b[2])} for i, b in sorted(buckets.items())]}
