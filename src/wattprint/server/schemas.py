"""Response models: what each route answers, stated in the OpenAPI document (``/openapi.json``).

The routes still build plain dicts; these pydantic models declare their shape so clients (and
the schemathesis fuzzing in ``tests/server/test_fuzz.py``) can check every answer against the
document. A view model allows extra keys (``extra="allow"``): a field added to a query shows up
at once instead of being silently dropped by the model, and the declared fields are still typed
and required. Routes that answer optional keys (``deduplicated``, ``dedup``) use
``response_model_exclude_unset`` so an absent key stays absent rather than becoming null.

Every refusal, on every route, has the one shape :class:`ErrorBody`:
``{"detail": {"index": int | null, "field": str | null, "message": str}}``; :func:`errors`
documents the statuses a route can answer with it.
"""

from __future__ import annotations

# Runtime imports: pydantic builds the models from these annotations.
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict

from .authz import MAX_ID
from .record_rows import TIME_LIMIT_S

__all__ = ["MAX_ID", "MAX_TIME_S", "ErrorBody", "ErrorDetail", "Id", "Seq", "Time", "TimeOrNone",
           "errors", "org_id_path", "without_422"]

#: A row id in a path: bounded like the INTEGER columns, so an absurd one is a 400, never a
#: database error (SQLite cannot bind integers past 64 bits).
Id = Annotated[int, Path(ge=1, le=MAX_ID)]
#: A record sequence number in a query (``since_seq``): within the INTEGER ``seq`` column.
Seq = Annotated[int, Query(ge=0, le=MAX_ID)]
#: A time in a query (``since``, ``until``), Unix seconds within about 3,000 years of 1970:
#: finite, and small enough for the hour arithmetic of the rollups in either database.
MAX_TIME_S = TIME_LIMIT_S
Time = Annotated[float, Query(ge=-MAX_TIME_S, le=MAX_TIME_S)]
TimeOrNone = Annotated[float | None, Query(ge=-MAX_TIME_S, le=MAX_TIME_S)]


def org_id_path(org_id: Id) -> None:
    """Declares ``{org_id}`` on routes whose handler does not take it (the query API):
    documented and bounded here, checked against the caller by :func:`.authz.authorize`."""


class ErrorDetail(BaseModel):
    index: int | None  # the item of an ingest batch, else null
    field: str | None  # the parameter or wire field to change, when one is to blame
    message: str  # what went wrong and what to do


class ErrorBody(BaseModel):
    detail: ErrorDetail


_ERROR_TEXT = {
    400: "Bad request: the field and message say what to change",
    401: "Not signed in, or no valid API key",
    403: "The key's scope or the member's role does not allow this",
    404: "Not found in the caller's organisation",
    409: "Conflicts with the current state",
    413: "Request body or batch too large",
    429: "Too many failed logins: wait",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status documented with the one error shape."""
    return {status: {"model": ErrorBody, "description": _ERROR_TEXT[status]}
            for status in statuses}


class _View(BaseModel):
    model_config = ConfigDict(extra="allow")


# --- operations ------------------------------------------------------------------------------

class Health(_View):
    status: str


class Readiness(_View):
    status: str  # "ready" | "unmigrated" | "unavailable"
    revision: str | None = None
    head: str | None = None
    message: str | None = None


class IngestAnswer(_View):
    accepted: int
    duplicates: int


# --- query API -------------------------------------------------------------------------------

class RunView(_View):
    run_id: str
    organisation: str
    project: str
    experiment: str | None
    started_s: float | None
    status: str
    info_received: bool
    host_id: str | None
    hostname: str | None
    job_id: str | None
    node: str | None
    rank: int | None
    region: str
    duration_s: float | None
    energy_j: float | None
    emissions_g: float | None
    heartbeat_s: float | None


class RunsPage(_View):
    runs: list[RunView]
    next_cursor: str | None


class RunDetail(RunView):
    info: dict[str, Any] | None  # the run's wire object (null while only its records arrived)
    summary: dict[str, Any] | None  # the summary's wire object (null while running)


class RecordView(_View):
    seq: int
    start_s: float
    duration_s: float
    cpu_energy_j: float
    gpu_energy_j: float
    ram_energy_j: float
    other_energy_j: float
    energy_j: float
    pue: float
    emissions_g: float
    intensity_g_per_kwh: float
    intensity_zone: str
    intensity_source: str
    intensity_year: int | None
    intensity_kind: str | None
    intensity_live: bool
    intensity_basis: str | None
    intensity_scope: str | None
    intensity_gases: str | None
    components: list[Any]
    gaps: list[Any]
    work: list[Any]


class RecordsPage(_View):
    run_id: str
    records: list[RecordView]
    next_seq: int | None


class SpansAnswer(_View):
    run_id: str
    spans: list[dict[str, Any]]  # span aggregates as wire objects


class PredictionAnswer(_View):
    run_id: str
    prediction: dict[str, Any] | None  # the latest prediction wire object; null: none made


class Deduplicated(_View):
    energy_j: float
    emissions_g: float


class TotalsGroup(_View):
    key: str
    runs: int
    duration_s: float
    energy_j: float
    emissions_g: float
    emissions_by_kind: dict[str, float]
    deduplicated: Deduplicated | None = None  # only with dedup=true


class DedupFigures(_View):
    rule: str
    measured_energy_j: float
    energy_j: float
    measured_emissions_g: float
    emissions_g: float
    removed_energy_j: float
    removed_emissions_g: float
    overlapped_s: float


class TotalsAnswer(_View):
    by: str
    groups: list[TotalsGroup]
    dedup: DedupFigures | None = None  # only with dedup=true


class SeriesPoint(_View):
    start_s: float
    energy_j: float
    emissions_g: float
    records: int


class SeriesAnswer(_View):
    since_s: float
    until_s: float
    bucket_s: float
    points: list[SeriesPoint]


# --- accounts --------------------------------------------------------------------------------

class LoginAnswer(_View):
    user_id: int
    csrf_token: str
    expires_s: float


class SignedOut(_View):
    signed_out: bool


class MyOrganisation(_View):
    id: int
    name: str
    role: str


class Me(_View):
    user_id: int
    email: str
    organisations: list[MyOrganisation]


class Member(_View):
    user_id: int
    email: str
    role: str


class RoleChanged(_View):
    user_id: int
    role: str


class MemberRemoved(_View):
    user_id: int
    removed: bool


class KeyView(_View):
    prefix: str
    name: str
    scopes: list[str]
    project_id: int
    created_s: float
    revoked_s: float | None


class NewKey(_View):
    key: str  # shown once
    prefix: str
    scopes: list[str]
    project_id: int
    message: str


class KeyRevoked(_View):
    prefix: str
    revoked: bool


class Named(_View):
    id: int
    name: str


class KeyItself(_View):
    prefix: str
    scopes: list[str]
    project: Named
    organisation: Named


# --- catalogue (routes_catalog.py) -----------------------------------------------------------

class _RunFigures(_View):
    runs: int
    energy_j: float  # the runs' plain sum (summaries, else records so far), as /totals
    emissions_g: float
    last_activity_s: float | None


class ProjectView(_RunFigures):
    project: str
    created_s: float
    experiments: int


class ProjectsPage(_View):
    projects: list[ProjectView]
    next_cursor: str | None


class ExperimentView(_RunFigures):
    experiment: str


class ExperimentsPage(_View):
    project: str
    experiments: list[ExperimentView]
    next_cursor: str | None


class HostView(_View):
    host_id: str
    hostname: str | None  # the latest run's
    runs: int
    energy_j: float
    emissions_g: float
    last_seen_s: float | None


class HostsPage(_View):
    hosts: list[HostView]
    next_cursor: str | None


class JobEnergy(_View):
    measured_energy_j: float  # what the runs reported
    energy_j: float  # de-duplicated under the rule
    measured_emissions_g: float
    emissions_g: float


class JobRank(JobEnergy):
    run_id: str
    rank: int | None
    node: str | None
    node_rank: int | None
    host_id: str | None
    hostname: str | None
    started_s: float | None
    summary_status: str | None  # null while the run has no summary


class JobNode(JobEnergy):
    node: str | None
    host_id: str | None
    hostname: str | None
    ranks: int


class JobTotal(JobEnergy):
    removed_energy_j: float
    removed_emissions_g: float
    energy_by_component_j: dict[str, float]
    overlapped_s: float  # run-seconds during which a rank overlapped another measurer


class JobView(_View):
    job_id: str
    rule: str  # the de-duplication rule's name (dedup.RULE)
    ranks: list[JobRank]
    nodes: list[JobNode]
    total: JobTotal


def without_422(app: Any) -> None:
    """Take FastAPI's automatic 422 answers out of ``app``'s OpenAPI document: the app answers
    a malformed request with 400 in :class:`ErrorBody`'s shape (app.py), never with 422."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document: dict[str, Any] = build()  # FastAPI builds it once and caches it
        for path_item in document.get("paths", {}).values():
            for operation in path_item.values():
                operation.get("responses", {}).pop("422", None)
        for unused in ("HTTPValidationError", "ValidationError"):
            document.get("components", {}).get("schemas", {}).pop(unused, None)
        return document

    app.openapi = openapi
