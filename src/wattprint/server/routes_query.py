"""The query API under ``/api/v1/``: read-scoped, always within the caller's organisation.

Each route answers at ``/api/v1/<route>`` for an API key with the read scope (its project's
organisation) and at ``/api/v1/orgs/{org_id}/<route>`` for a key of that organisation or a
signed-in member of it (any role), through the one authorisation dependency.

GET /runs (filters, cursor pages), /runs/{id} (info, summary, status), /runs/{id}/records
(since a sequence number), /runs/{id}/spans, /runs/{id}/prediction (the latest), /totals
(grouped, grams kept apart by kind of intensity; ``dedup=true`` adds the de-duplicated figures
beside the per-run sums) and /series (energy and emissions summed into at most N buckets). The
work is in :mod:`.query`; these functions only read parameters and map errors to the ingest's
JSON shape.
"""

from __future__ import annotations

# Runtime imports (server only): FastAPI reads these annotations to inject parameters.
from fastapi import APIRouter, Depends, HTTPException
from starlette.requests import Request

from .authz import Principal, authorize
from .query import QueryError, RunQuery
from .schemas import (
    PredictionAnswer,
    RecordsPage,
    RunDetail,
    RunsPage,
    Seq,
    SeriesAnswer,
    SpansAnswer,
    Time,
    TimeOrNone,
    TotalsAnswer,
    errors,
    org_id_path,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    T = TypeVar("T")

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
_READ = Depends(authorize("read"))  # a key with the read scope, or a member's session
MAX_PAGE = 1000
MAX_POINTS = 10_000
_READ_ERRORS = (400, 401, 403, 404)  # documented with the one error shape (schemas.py)
_ORG_ID = Depends(org_id_path)  # documents and bounds {org_id}; authorize() checks it


def _refuse(status: int, message: str, field: str | None = None) -> HTTPException:
    return HTTPException(status_code=status,
                         detail={"index": None, "field": field, "message": message})


def _read(request: Request, work: Callable[[Any], T]) -> T:
    try:
        with request.app.state.engine.connect() as connection:
            return work(connection)
    except QueryError as exc:
        raise _refuse(400, str(exc), exc.field) from None


def _bounded(value: int, name: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise _refuse(400, f"{name} must be between {low} and {high}", name)
    return value


def _filters(project: str | None, experiment: str | None, status: str | None, host: str | None,
             job: str | None, since: float | None, until: float | None) -> RunQuery:
    return RunQuery(project=project, experiment=experiment, status=status, host=host, job=job,
                    since_s=since, until_s=until)


def _get(path: str, **documented: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Serve a GET route at ``path`` (the key's organisation) and under ``/orgs/{org_id}``
    (a signed-in member's organisation, checked by :func:`.authz.authorize`)."""

    def register(route: Callable[..., T]) -> Callable[..., T]:
        router.get(path, **documented)(route)
        router.get("/orgs/{org_id}" + path, dependencies=[_ORG_ID], **documented)(route)
        return route

    return register


def _org(caller: Principal) -> int:
    if caller.organisation_id is None:  # authorize("read") always sets it; never guess
        raise _refuse(403, "no organisation for this caller: use an org_id route or a key")
    return caller.organisation_id


def _missing(run_id: str) -> HTTPException:
    return _refuse(404, f"no run {run_id!r} in this organisation", "run_id")


@_get("/runs", response_model=RunsPage, responses=errors(*_READ_ERRORS))
def runs(request: Request, project: str | None = None, experiment: str | None = None,
         status: str | None = None, host: str | None = None, job: str | None = None,
         since: TimeOrNone = None, until: TimeOrNone = None, limit: int = 100,
         cursor: str | None = None, caller: Principal = _READ) -> dict[str, Any]:
    from .query import list_runs

    query = _filters(project, experiment, status, host, job, since, until)
    page = _bounded(limit, "limit", 1, MAX_PAGE)
    now_s = request.app.state.wall_clock()
    return _read(request, lambda c: list_runs(c, _org(caller), query, now_s=now_s,
                                              limit=page, cursor=cursor))


@_get("/runs/{run_id}", response_model=RunDetail, responses=errors(*_READ_ERRORS))
def run(request: Request, run_id: str, caller: Principal = _READ) -> dict[str, Any]:
    from .query import one_run

    now_s = request.app.state.wall_clock()
    found = _read(request, lambda c: one_run(c, _org(caller), run_id, now_s=now_s))
    if found is None:
        raise _missing(run_id)
    return found


@_get("/runs/{run_id}/records", response_model=RecordsPage,
      responses=errors(*_READ_ERRORS))
def records(request: Request, run_id: str, since_seq: Seq = 0, limit: int = 1000,
            caller: Principal = _READ) -> dict[str, Any]:
    from .query import run_records

    page = _bounded(limit, "limit", 1, MAX_PAGE * 10)
    found = _read(request, lambda c: run_records(c, _org(caller), run_id,
                                                 since_seq=since_seq, limit=page))
    if found is None:
        raise _missing(run_id)
    return found


@_get("/runs/{run_id}/spans", response_model=SpansAnswer, responses=errors(*_READ_ERRORS))
def spans(request: Request, run_id: str, caller: Principal = _READ) -> dict[str, Any]:
    from .query import run_spans

    found = _read(request, lambda c: run_spans(c, _org(caller), run_id))
    if found is None:
        raise _missing(run_id)
    return {"run_id": run_id, "spans": found}


@_get("/runs/{run_id}/prediction", response_model=PredictionAnswer,
      responses=errors(*_READ_ERRORS))
def prediction(request: Request, run_id: str, caller: Principal = _READ) -> dict[str, Any]:
    """The run's latest prediction of its totals (null when the run was not told its total
    work, or has not done enough of it yet)."""
    from .query import run_prediction

    found = _read(request, lambda c: run_prediction(c, _org(caller), run_id))
    if found is False:
        raise _missing(run_id)
    return {"run_id": run_id, "prediction": found}


@_get("/totals", response_model=TotalsAnswer, response_model_exclude_unset=True,
      responses=errors(*_READ_ERRORS))
def totals(request: Request, by: str = "project", project: str | None = None,
           experiment: str | None = None, status: str | None = None, host: str | None = None,
           job: str | None = None, since: TimeOrNone = None, until: TimeOrNone = None,
           dedup: bool = False, caller: Principal = _READ) -> dict[str, Any]:
    from .query import totals as compute

    query = _filters(project, experiment, status, host, job, since, until)
    return _read(request, lambda c: compute(c, _org(caller), by, query, dedup=dedup))


@_get("/series", response_model=SeriesAnswer, responses=errors(*_READ_ERRORS))
def series(request: Request, since: Time, until: Time, points: int = 100,
           project: str | None = None, experiment: str | None = None, host: str | None = None,
           job: str | None = None, run: str | None = None,
           caller: Principal = _READ) -> dict[str, Any]:
    from .._struct import replace
    from .query import series as compute

    wanted = _bounded(points, "points", 1, MAX_POINTS)
    query = replace(_filters(project, experiment, None, host, job, None, None), run_id=run)
    return _read(request, lambda c: compute(c, _org(caller), query, since_s=since,
                                            until_s=until, points=wanted))
