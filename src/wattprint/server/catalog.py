"""Catalogue reads behind the dashboard's lists: projects, experiments, hosts, and a job view.

Every function takes the caller's organisation and only reads rows joined to it. Lists are
cursor pages ordered by name (hosts: by host id); a cursor is opaque (base64url JSON of the last
key) and a bad one is a :class:`.query.QueryError` on ``cursor``.

A list's figures are its runs' plain sums, like ``/totals``: a run's summary, or for a run
without one (still running, interrupted) its records so far. ``last_activity_s`` is the latest
of a run's end (start + summary duration), its latest record's end and its latest heartbeat.

The job view counts each node once by the server's one rule (:mod:`.dedup`, ``RULE``): the
records on the job's hosts during the job, its ranks' and any other run's, go through
:func:`.dedup.dedup_energy`, and the job total is ``DedupResult.jobs[job_id]``. A job's ranks on
one node are one measurer (the cluster rule: machine-wide devices measured by the node's
leader, each GPU by its owner), so their figures add up; another run on the same node during
the job shares the node with it as it does in the organisation's totals.
"""

from __future__ import annotations

import math

# Runtime imports: this module is only ever imported by the server.
from sqlalchemy import func, select

from .models import Experiment, Heartbeat, IntervalRecord, Project, Run, Summary
from .query import QueryError
from .storable import unstorable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Sequence

    from sqlalchemy import ColumnElement, Connection

    from .dedup import EnergyTotals

__all__ = ["job_view", "list_experiments", "list_hosts", "list_projects"]

_STARTED = func.coalesce(Run.started_s, Run.first_seen_s)  # a placeholder run has no start yet


def encode_cursor(last_key: str) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps([last_key]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    import base64
    import binascii
    import json

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        [last_key] = json.loads(raw)
        if isinstance(last_key, str) and not unstorable(last_key):
            return last_key
    except (ValueError, TypeError, binascii.Error, RecursionError):
        pass
    raise QueryError(f"invalid cursor {cursor[:80]!r}: pass the next_cursor of a previous page "
                     "unchanged", field="cursor")


def _figures(connection: Connection, key: Any, *where: ColumnElement[bool]) -> dict[Any, dict[str, Any]]:
    """Per value of ``key`` (a column of the runs' rows): runs, energy, emissions, last activity."""
    scoped = select().select_from(Run).join(Project, Project.id == Run.project_id).where(*where)
    out: dict[Any, dict[str, Any]] = {}
    summarised = scoped.add_columns(
        key, func.count(Run.run_id), func.sum(Summary.energy_j), func.sum(Summary.emissions_g),
        func.max(_STARTED + func.coalesce(Summary.duration_s, 0.0)),
    ).outerjoin(Summary, Summary.run_id == Run.run_id).group_by(key)
    for value, runs, energy_j, emissions_g, ended_s in connection.execute(summarised):
        out[value] = {"runs": runs, "energy_j": float(energy_j or 0.0),
                      "emissions_g": float(emissions_g or 0.0), "last_activity_s": ended_s}
    r = IntervalRecord
    running = scoped.add_columns(  # runs without a summary: their records so far
        key, func.sum(r.energy_j), func.sum(r.emissions_g), func.max(r.start_s + r.duration_s),
    ).join(r, r.run_id == Run.run_id).outerjoin(Summary, Summary.run_id == Run.run_id).where(
        Summary.run_id.is_(None)).group_by(key)
    for value, energy_j, emissions_g, ended_s in connection.execute(running):
        figures = out[value]
        figures["energy_j"] += float(energy_j or 0.0)
        figures["emissions_g"] += float(emissions_g or 0.0)
        figures["last_activity_s"] = _latest(figures["last_activity_s"], ended_s)
    beats = scoped.add_columns(key, func.max(Heartbeat.at_s)).join(
        Heartbeat, Heartbeat.run_id == Run.run_id).group_by(key)
    for value, at_s in connection.execute(beats):
        out[value]["last_activity_s"] = _latest(out[value]["last_activity_s"], at_s)
    return out


def _latest(*times: float | None) -> float | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


_NO_RUNS = {"runs": 0, "energy_j": 0.0, "emissions_g": 0.0, "last_activity_s": None}


def _page(rows: Sequence[Any], limit: int, last_key: Any) -> tuple[list[Any], str | None]:
    """The page's rows and the cursor of the next page (None on the last)."""
    if len(rows) > limit:
        return list(rows[:limit]), encode_cursor(last_key(rows[limit - 1]))
    return list(rows), None


def list_projects(connection: Connection, organisation_id: int, *, limit: int,
                  cursor: str | None = None) -> dict[str, Any]:
    """The organisation's projects by name, with their runs' figures and experiment count."""
    statement = select(Project.id, Project.name, Project.created_s).where(
        Project.organisation_id == organisation_id)
    if cursor:
        statement = statement.where(Project.name > decode_cursor(cursor))
    rows, next_cursor = _page(connection.execute(
        statement.order_by(Project.name).limit(limit + 1)).all(), limit, lambda row: row.name)
    ids = [row.id for row in rows]
    figures = _figures(connection, Run.project_id, Run.project_id.in_(ids)) if ids else {}
    experiments = dict(connection.execute(
        select(Experiment.project_id, func.count(Experiment.id))
        .where(Experiment.project_id.in_(ids)).group_by(Experiment.project_id)).all()) \
        if ids else {}
    return {"projects": [
        {"project": row.name, "created_s": row.created_s, "experiments": experiments.get(row.id, 0),
         **figures.get(row.id, _NO_RUNS)} for row in rows], "next_cursor": next_cursor}


def list_experiments(connection: Connection, organisation_id: int, project: str, *, limit: int,
                     cursor: str | None = None) -> dict[str, Any] | None:
    """The project's experiments by name with their runs' figures; None: no such project."""
    project_id = connection.execute(select(Project.id).where(
        Project.organisation_id == organisation_id, Project.name == project)).scalar()
    if project_id is None:
        return None
    statement = select(Experiment.id, Experiment.name).where(Experiment.project_id == project_id)
    if cursor:
        statement = statement.where(Experiment.name > decode_cursor(cursor))
    rows, next_cursor = _page(connection.execute(
        statement.order_by(Experiment.name).limit(limit + 1)).all(), limit, lambda row: row.name)
    ids = [row.id for row in rows]
    figures = _figures(connection, Run.experiment_id, Run.experiment_id.in_(ids)) if ids else {}
    return {"project": project, "experiments": [
        {"experiment": row.name, **figures.get(row.id, _NO_RUNS)} for row in rows],
        "next_cursor": next_cursor}


def list_hosts(connection: Connection, organisation_id: int, *, limit: int,
               cursor: str | None = None) -> dict[str, Any]:
    """Hosts (by host id) that ran the organisation's runs, with the latest host name seen."""
    in_org = Project.organisation_id == organisation_id
    statement = (select(Run.host_id).join(Project, Project.id == Run.project_id)
                 .where(in_org, Run.host_id.is_not(None)).group_by(Run.host_id))
    if cursor:
        statement = statement.where(Run.host_id > decode_cursor(cursor))
    rows, next_cursor = _page(connection.execute(
        statement.order_by(Run.host_id).limit(limit + 1)).all(), limit, lambda row: row.host_id)
    ids = [row.host_id for row in rows]
    figures = _figures(connection, Run.host_id, in_org, Run.host_id.in_(ids)) if ids else {}
    names: dict[Any, tuple[Any, Any]] = {}  # host id -> (latest start, its host name)
    if ids:
        for host_id, hostname, started in connection.execute(
                select(Run.host_id, Run.hostname, func.max(_STARTED))
                .join(Project, Project.id == Run.project_id)
                .where(in_org, Run.host_id.in_(ids), Run.hostname.is_not(None))
                .group_by(Run.host_id, Run.hostname)):
            if host_id not in names or (started, hostname) > names[host_id]:
                names[host_id] = (started, hostname)
    hosts = []
    for host_id in ids:
        seen = figures[host_id]
        hosts.append({"host_id": host_id, "hostname": names[host_id][1] if host_id in names
                      else None, "runs": seen["runs"], "energy_j": seen["energy_j"],
                      "emissions_g": seen["emissions_g"], "last_seen_s": seen["last_activity_s"]})
    return {"hosts": hosts, "next_cursor": next_cursor}


def _energy(totals: EnergyTotals | None) -> dict[str, Any]:
    if totals is None:  # a rank without records yet
        return {"measured_energy_j": 0.0, "energy_j": 0.0, "measured_emissions_g": 0.0,
                "emissions_g": 0.0}
    return {"measured_energy_j": totals.measured_energy_j, "energy_j": totals.energy_j,
            "measured_emissions_g": totals.measured_emissions_g,
            "emissions_g": totals.emissions_g}


def job_view(connection: Connection, organisation_id: int, job_id: str) -> dict[str, Any] | None:
    """The job's ranks, its nodes and its total, each node counted once; None: no such job."""
    from .dedup import RULE, dedup_energy, load_interval_rows

    ranks = connection.execute(
        select(Run.run_id, Run.rank, Run.node, Run.node_rank, Run.host_id, Run.hostname,
               Run.started_s, Summary.status)
        .join(Project, Project.id == Run.project_id)
        .outerjoin(Summary, Summary.run_id == Run.run_id)
        .where(Project.organisation_id == organisation_id, Run.job_id == job_id)
        .order_by(Run.rank.is_(None), Run.rank, Run.run_id)).all()  # no rank: last, both DBs
    if not ranks:
        return None
    run_ids = [rank.run_id for rank in ranks]
    r = IntervalRecord
    start_s, end_s = connection.execute(
        select(func.min(r.start_s), func.max(r.start_s + r.duration_s))
        .where(r.run_id.in_(run_ids))).one()
    rows = []
    if start_s is not None:
        # just past the end, so a zero-length record at the job's last instant is still read
        end_s = math.nextafter(max(end_s, start_s), math.inf)
        # every run with a job carries a host id (both come with the run's info)
        for host_id in sorted({rank.host_id for rank in ranks if rank.host_id is not None}):
            rows += load_interval_rows(connection, start_s=start_s, end_s=end_s,
                                       organisation_id=organisation_id, host_id=host_id)
    result = dedup_energy(rows)
    per_rank = []
    nodes: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for rank in ranks:
        figures = _energy(result.runs[rank.run_id].totals if rank.run_id in result.runs
                          else None)
        per_rank.append({"run_id": rank.run_id, "rank": rank.rank, "node": rank.node,
                         "node_rank": rank.node_rank, "host_id": rank.host_id,
                         "hostname": rank.hostname, "started_s": rank.started_s,
                         "summary_status": rank.status, **figures})
        node = nodes.setdefault((rank.host_id, rank.node), {
            "node": rank.node, "host_id": rank.host_id, "hostname": rank.hostname, "ranks": 0,
            **_energy(None)})
        node["ranks"] += 1
        for name, value in figures.items():
            node[name] += value
    total = result.jobs.get(job_id)
    return {
        "job_id": job_id, "rule": RULE, "ranks": per_rank,
        "nodes": [nodes[key] for key in sorted(nodes, key=lambda k: (k[1] or "", k[0] or ""))],
        "total": {**_energy(total),
                  "removed_energy_j": total.removed_energy_j if total else 0.0,
                  "removed_emissions_g": total.removed_emissions_g if total else 0.0,
                  "energy_by_component_j": dict(total.energy_by_component_j) if total else {},
                  "overlapped_s": total.overlapped_s if total else 0.0},
    }

