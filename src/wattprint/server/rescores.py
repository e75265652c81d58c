"""A run's rescores on the team server: stored once each as trackers push them, listed oldest
first beside the run's own emissions.

A rescore (``wattprint rescore``, :class:`wattprint.rescore.Rescore`) is the local store's row
sent as it is: provider, created_s, emissions_g, intensity_g_per_kwh, kind and its detail
(``Rescore.to_json()``). ``wattprint push`` sends every rescore again with every push of a run,
so (run_id, provider, created_s) is the key and a second copy is not stored.
"""

from __future__ import annotations

# Runtime imports: this module is only ever imported by the server.
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from .models import Project, Rescore, Run, Summary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sqlalchemy.engine import Connection, Engine

__all__ = ["RunNotHere", "list_rescores", "store_rescore"]


class RunNotHere(LookupError):
    """The run is not on the server, or not in the caller's project (the message says which)."""


def store_rescore(engine: Engine, project_id: int, run_id: str, rescore: dict[str, Any]) -> bool:
    """Store ``rescore`` for ``run_id`` of ``project_id``; False when it was already there."""
    with engine.begin() as connection:
        owner = connection.execute(select(Run.project_id).where(Run.run_id == run_id)).scalar()
        if owner is None:
            raise RunNotHere(f"no run {run_id!r} on the server: push the run first "
                             "(`wattprint push`), then its rescores")
        if owner != project_id:
            raise RunNotHere(f"no run {run_id!r} in this key's project")
        if _stored(connection, run_id, rescore):
            return False
    try:
        with engine.begin() as connection:
            connection.execute(insert(Rescore).values(run_id=run_id, **rescore))
    except IntegrityError:  # sent twice at once: the other request stored it
        with engine.connect() as connection:
            if _stored(connection, run_id, rescore):
                return False
        raise
    return True


def _stored(connection: Connection, run_id: str, rescore: dict[str, Any]) -> bool:
    return connection.execute(select(Rescore.id).where(
        Rescore.run_id == run_id, Rescore.provider == rescore["provider"],
        Rescore.created_s == rescore["created_s"])).first() is not None


def list_rescores(connection: Connection, organisation_id: int, run_id: str, *,
                  with_detail: bool = True) -> dict[str, Any] | None:
    """The run's rescores oldest first, with the run's own emissions; None when the run is not
    in ``organisation_id``. ``with_detail=False`` leaves out each one's per-record detail (the
    dashboard's table shows the run-level figures only)."""
    found = connection.execute(
        select(Run.run_id, Summary.emissions_g).join(Project, Project.id == Run.project_id)
        .outerjoin(Summary, Summary.run_id == Run.run_id)
        .where(Run.run_id == run_id, Project.organisation_id == organisation_id)).first()
    if found is None:
        return None
    columns = [Rescore.provider, Rescore.created_s, Rescore.emissions_g,
               Rescore.intensity_g_per_kwh, Rescore.kind]
    rows = connection.execute(
        select(*columns, *([Rescore.detail] if with_detail else []))
        .where(Rescore.run_id == run_id).order_by(Rescore.created_s, Rescore.provider))
    return {"run_id": run_id, "original_emissions_g": found.emissions_g,
            "rescores": [dict(row._mapping) for row in rows]}
