"""The local dashboard's "Paper-ready report" downloads: ``wattprint report`` of a run, served as
a file (``/runs/RUN_ID/report.md``, ``.html``, ``.tex``, ``.json``).

Only where the pages read a local store (the data has a read-API ``repository``): the report
is built from the read API, which the team server's data seam does not offer, so the team
server neither routes nor links these. Every format is an attachment, so the report's own page
(with its own inline style) opens as the file it is, never under the dashboard's headers.
"""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["EXTENSIONS", "available", "report_response"]

# extension in the address -> (report format, media type)
EXTENSIONS = {
    "md": ("md", "text/markdown; charset=utf-8"),
    "html": ("html", "text/html; charset=utf-8"),
    "tex": ("latex", "application/x-tex; charset=utf-8"),
    "json": ("json", "application/json"),
}


def available(data: Any) -> bool:
    """Whether the pages' data can build a report (a local store's read API)."""
    return getattr(data, "repository", None) is not None


def report_response(data: Any, run_id: str, extension: str) -> Response:
    from ... import __version__
    from ...advice.report import build_report, render
    from ...errors import StoreError

    repo = getattr(data, "repository", None)
    if repo is None:
        return JSONResponse({"detail": "reports are made from a local store: run `wattprint "
                                       f"report {run_id}` where the run is stored"}, 404)
    if extension not in EXTENSIONS:
        return JSONResponse({"detail": f"no report as .{extension}: use one of "
                                       f"{', '.join('.' + e for e in EXTENSIONS)}"}, 404)
    fmt, media_type = EXTENSIONS[extension]
    paths = getattr(repo, "paths", None) or []
    store = ", ".join(str(p) for p in paths) or "the local store"
    try:
        report = build_report(repo, run_id, store=store, version=__version__, fmt=fmt)
    except StoreError as exc:
        return JSONResponse({"detail": str(exc)}, 404)
    name = f"wattprint-report-{report['run']['run_id'][:8]}.{extension}"
    return Response(render(report, fmt), media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
