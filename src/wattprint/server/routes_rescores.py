"""A run's rescores: POST ``/api/v1/runs/{run_id}/rescores`` (a key with the ingest scope, its
project's run; ``wattprint push`` sends each local rescore after the run's items) and GET
``/api/v1/runs/{run_id}/rescores`` and ``/api/v1/orgs/{org_id}/runs/{run_id}/rescores`` (read,
the organisation's run). The work is in :mod:`.rescores`; the wire format is unchanged: a
rescore is the local store's row with ``Rescore.to_json()`` as its detail.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

# Runtime imports (server only): FastAPI and pydantic read these annotations.
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .authz import Principal, authorize
from .bounds import MAGNITUDE_LIMIT, out_of_bounds
from .routes_query import _READ, _missing, _org, _read, _refuse
from .schemas import MAX_TIME_S, errors, org_id_path
from .storable import StorableText, unstorable

__all__ = ["RescoreIn", "router"]

router = APIRouter(prefix="/api/v1")
_INGEST = Depends(authorize("ingest"))
_ORG_ID = Depends(org_id_path)

Grams = Annotated[float, Field(ge=0, le=MAGNITUDE_LIMIT, allow_inf_nan=False)]


class RescoreIn(BaseModel):
    """One rescore as the local store holds it (``wattprint rescore``)."""

    model_config = ConfigDict(extra="forbid")
    provider: Annotated[StorableText, Field(min_length=1, max_length=200)]
    created_s: Annotated[float, Field(ge=0, le=MAX_TIME_S, allow_inf_nan=False)]
    emissions_g: Grams
    intensity_g_per_kwh: Grams | None  # None when the rescored records' kinds are mixed
    kind: Literal["average", "marginal", "mixed"] | None  # None: no intensity at all
    detail: dict[str, Any]  # Rescore.to_json(): per record figures, labels

    @field_validator("detail")
    @classmethod
    def _storable_detail(cls, detail: dict[str, Any]) -> dict[str, Any]:
        found = out_of_bounds("rescore", detail) or _unstorable_text(detail, "")
        if found is not None:
            path, reason = found
            raise ValueError(f"detail.{path}: {reason}")
        return detail


def _unstorable_text(value: Any, path: str) -> tuple[str, str] | None:
    if isinstance(value, str):
        reason = unstorable(value)
        return None if reason is None else (path, reason)
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        if isinstance(value, float) and not math.isfinite(value):
            return path, f"{value} is not a finite number"
        return None
    for key, inner in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and unstorable(key) is not None:
            return where, f"the key {unstorable(key)}"
        found = _unstorable_text(inner, where)
        if found is not None:
            return found
    return None


class StoredAnswer(BaseModel):
    stored: bool  # false: this rescore (run, provider, created_s) was already there


class RescoreOut(BaseModel):
    provider: str
    created_s: float
    emissions_g: float
    intensity_g_per_kwh: float | None
    kind: str | None
    detail: dict[str, Any]


class RescoresAnswer(BaseModel):
    run_id: str
    original_emissions_g: float | None  # the run's own figure (null until its summary arrives)
    rescores: list[RescoreOut]  # oldest first


@router.post("/runs/{run_id}/rescores", response_model=StoredAnswer,
             responses=errors(400, 401, 403, 404))
async def add_rescore(request: Request, run_id: StorableText, rescore: RescoreIn,
                      caller: Principal = _INGEST) -> dict[str, bool]:
    from .rescores import RunNotHere, store_rescore

    if caller.project_id is None:  # authorize("ingest") is a key's, which has a project
        raise _refuse(403, "rescores are pushed with an API key of the run's project")
    try:
        stored = await run_in_threadpool(store_rescore, request.app.state.engine,
                                         caller.project_id, run_id, rescore.model_dump())
    except RunNotHere as exc:
        raise _refuse(404, str(exc), "run_id") from None
    return {"stored": stored}


def _list(request: Request, run_id: str, caller: Principal) -> dict[str, Any]:
    from .rescores import list_rescores

    found = _read(request, lambda c: list_rescores(c, _org(caller), run_id))
    if found is None:
        raise _missing(run_id)
    return found


@router.get("/runs/{run_id}/rescores", response_model=RescoresAnswer,
            responses=errors(400, 401, 403, 404))
def rescores(request: Request, run_id: str, caller: Principal = _READ) -> dict[str, Any]:
    return _list(request, run_id, caller)


@router.get("/orgs/{org_id}/runs/{run_id}/rescores", response_model=RescoresAnswer,
            responses=errors(400, 401, 403, 404), dependencies=[_ORG_ID])
def org_rescores(request: Request, run_id: str, caller: Principal = _READ) -> dict[str, Any]:
    return _list(request, run_id, caller)
