"""Catalogue routes for the dashboard: projects, a project's experiments, hosts, a job view.

GET ``/projects``, ``/projects/{project}/experiments``, ``/hosts`` (cursor pages, each item
with its runs' plain figures and last activity) and ``/jobs/{job_id}`` (the job's ranks and
nodes, and its total with each node counted once under the server's one de-duplication rule,
named in the answer). Like the query API (:mod:`.routes_query`), each route answers at
``/api/v1/<route>`` for a read key and at ``/api/v1/orgs/{org_id}/<route>`` for a key or a
member of that organisation, through :func:`.authz.authorize`. The work is in :mod:`.catalog`.
"""

from __future__ import annotations

# Runtime imports (server only): FastAPI reads these annotations to inject parameters.
from fastapi import APIRouter, Depends
from starlette.requests import Request

from .authz import Principal
from .routes_query import _READ, MAX_PAGE, _bounded, _org, _read, _refuse
from .schemas import ExperimentsPage, HostsPage, JobView, ProjectsPage, errors, org_id_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    T = TypeVar("T")

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")
_ERRORS = errors(400, 401, 403, 404)
_ORG_ID = Depends(org_id_path)


def _get(path: str, **documented: Any) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Serve a GET route at ``path`` and under ``/orgs/{org_id}``, as routes_query does."""

    def register(route: Callable[..., T]) -> Callable[..., T]:
        router.get(path, responses=_ERRORS, **documented)(route)
        router.get("/orgs/{org_id}" + path, responses=_ERRORS, dependencies=[_ORG_ID],
                   **documented)(route)
        return route

    return register


@_get("/projects", response_model=ProjectsPage)
def projects(request: Request, limit: int = 100, cursor: str | None = None,
             caller: Principal = _READ) -> dict[str, Any]:
    from .catalog import list_projects

    page = _bounded(limit, "limit", 1, MAX_PAGE)
    return _read(request, lambda c: list_projects(c, _org(caller), limit=page, cursor=cursor))


@_get("/projects/{project}/experiments", response_model=ExperimentsPage)
def experiments(request: Request, project: str, limit: int = 100, cursor: str | None = None,
                caller: Principal = _READ) -> dict[str, Any]:
    from .catalog import list_experiments

    page = _bounded(limit, "limit", 1, MAX_PAGE)
    found = _read(request, lambda c: list_experiments(c, _org(caller), project, limit=page,
                                                      cursor=cursor))
    if found is None:
        raise _refuse(404, f"no project {project!r} in this organisation", "project")
    return found


@_get("/hosts", response_model=HostsPage)
def hosts(request: Request, limit: int = 100, cursor: str | None = None,
          caller: Principal = _READ) -> dict[str, Any]:
    from .catalog import list_hosts

    page = _bounded(limit, "limit", 1, MAX_PAGE)
    return _read(request, lambda c: list_hosts(c, _org(caller), limit=page, cursor=cursor))


@_get("/jobs/{job_id}", response_model=JobView)
def job(request: Request, job_id: str, caller: Principal = _READ) -> dict[str, Any]:
    from .catalog import job_view

    found = _read(request, lambda c: job_view(c, _org(caller), job_id))
    if found is None:
        raise _refuse(404, f"no job {job_id!r} in this organisation", "job_id")
    return found
