"""What each page shows, computed from :class:`~.data.DashboardData`; no HTTP here.

Each function returns the template's context (plain values and the read API's objects);
:mod:`.app` turns requests into calls and contexts into HTML, CSV or JSON.
"""

from __future__ import annotations

import json
from typing import Any

from . import exports, fmt
from .data import BREAKDOWNS, SORT_KEYS, DashboardData, DataError, Period, Point, RunsQuery, Series

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...records import Record, SpanRecord
    from ...store.repository import RunRow
    from .tables import Table

__all__ = ["PERIODS", "STATUSES", "export_csv", "export_json", "live_payload", "measurement_holes",
           "overview_context", "overview_tables", "period_of", "record_row", "run_context",
           "run_tables", "runs_context", "runs_query"]

#: The overview's periods: name -> (label, seconds; None: all time).
PERIODS: dict[str, tuple[str, float | None]] = {
    "24h": ("Last 24 hours", 86400.0), "7d": ("Last 7 days", 7 * 86400.0),
    "30d": ("Last 30 days", 30 * 86400.0), "90d": ("Last 90 days", 90 * 86400.0),
    "365d": ("Last 365 days", 365 * 86400.0), "all": ("All time", None),
}
STATUSES = ("running", "finished", "failed", "interrupted")
# a chart is ~1,000-2,000 px wide; a longer run is summed per time bucket in the database
# (buckets.py), with each bucket's lowest and highest power as a band around its mean
MAX_CHART_POINTS = 2_000
MAX_TABLE_ROWS = 500  # the chart's table alternative: the first rows, the rest in the JSON
MAX_EXPORT_ROWS = 100_000
LIVE_BATCH = 1000
COLUMNS = (("run_id", "Run"), ("project", "Project"), ("experiment", "Experiment"),
           ("started_s", "Started"), ("status", "Status"), ("hostname", "Host"),
           ("duration_s", "Duration"), ("energy_j", "Energy"), ("emissions_g", "Emissions"))


def period_of(name: str, now_s: float) -> Period:
    if name not in PERIODS:
        raise DataError(f"unknown period {name!r}; choose one of {', '.join(PERIODS)}")
    seconds = PERIODS[name][1]
    return Period(since_s=None if seconds is None else now_s - seconds, until_s=now_s)


def overview_context(data: DashboardData, period_name: str) -> dict[str, Any]:
    period = period_of(period_name, data.now_s())
    overview = data.overview(period, top=10)
    return {"overview": overview, "period_name": period_name, "periods": PERIODS,
            "breakdowns": BREAKDOWNS, "previous": overview.previous}


def runs_query(params: dict[str, str], *, limit: int = 50) -> RunsQuery:
    """A :class:`RunsQuery` from the page's query string; bad values raise :class:`DataError`."""
    def number(name: str) -> float | None:
        text = params.get(name) or None
        if text is None:
            return None
        try:
            return float(text)
        except ValueError:
            raise DataError(f"{name} must be a Unix time in seconds, not {text!r}") from None

    status = params.get("status") or None
    if status is not None and status not in STATUSES:
        raise DataError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
    sort = params.get("sort") or "-started_s"
    if sort.lstrip("-") not in SORT_KEYS:
        raise DataError(f"cannot sort by {sort!r}; choose one of {', '.join(SORT_KEYS)} "
                        "(a leading - for descending)")
    try:
        limit = int(params.get("limit") or limit)
    except ValueError:
        raise DataError(f"limit must be a whole number, not {params.get('limit')!r}") from None
    if not 1 <= limit <= 1000:
        raise DataError(f"limit must be between 1 and 1000, not {limit}")
    return RunsQuery(project=params.get("project") or None,
                     experiment=params.get("experiment") or None, status=status,
                     host=params.get("host") or None, since_s=number("since_s"),
                     until_s=number("until_s"), sort=sort, limit=limit,
                     cursor=params.get("cursor") or None)


def runs_context(data: DashboardData, query: RunsQuery,
                 selected: list[str] | None = None) -> dict[str, Any]:
    """``selected``: runs ticked for a comparison (``run=`` in the query), kept ticked."""
    from .compare import MAX_RUNS

    page = data.runs(query)
    return {"page": page, "query": query, "filters": query.filters(), "columns": COLUMNS,
            "statuses": STATUSES, "selected": list(dict.fromkeys(selected or ())),
            "max_compare": MAX_RUNS}


def export_rows(data: DashboardData, query: RunsQuery) -> list[RunRow]:
    return data.all_runs(query, max_rows=MAX_EXPORT_ROWS)


def export_csv(rows: list[RunRow]) -> str:
    """The runs table as CSV (:mod:`.tables`): every matching run, full precision, SI units
    named in the header."""
    return exports.runs_table(rows).to_csv()


def export_json(rows: list[RunRow]) -> str:
    return exports.runs_table(rows).to_json()


def overview_tables(data: DashboardData, period_name: str) -> dict[str, Table]:
    return exports.overview_tables(overview_context(data, period_name)["overview"])


def run_tables(data: DashboardData, run_id: str) -> dict[str, Table]:
    return exports.run_tables(data, data.run(run_id))


COMPONENTS = ("cpu", "gpu", "ram", "other")


_CHART_FIELDS = ("seq", "start_s", "duration_s", "cpu_energy_j", "gpu_energy_j", "ram_energy_j",
                 "other_energy_j", "energy_j", "emissions_g", "intensity_g_per_kwh")


def chart_columns(points: list[Point],
                  holes: list[tuple[float, float]] | None = None) -> dict[str, list[Any]]:
    """The points' figures column by column (SI units): what run.js draws from. ``gap``: the
    point follows a hole (the line breaks before it); ``min_power_w``/``max_power_w``: the band
    of a point summed per time bucket (null otherwise)."""
    columns = {name: [getattr(p, name) for p in points] for name in _CHART_FIELDS}
    hole_ends = {to_s for _, to_s in holes or ()}
    columns["gap"] = [p.start_s in hole_ends for p in points]
    if any(p.min_power_w is not None for p in points):
        columns["min_power_w"] = [p.min_power_w for p in points]
        columns["max_power_w"] = [p.max_power_w for p in points]
    return columns


def record_row(record: Record | Point) -> dict[str, Any]:
    """One record as the run page's script and the live endpoint carry it: SI figures, and
    ``text``, the table cells written by :mod:`.fmt` (the script never formats a number)."""
    seconds = record.duration_s
    watts = {c: getattr(record, f"{c}_energy_j") / seconds if seconds > 0 else None
             for c in COMPONENTS}
    total_w = record.energy_j / seconds if seconds > 0 else None
    text = {"time": fmt.timestamp(record.start_s), "duration": fmt.duration(seconds),
            **{f"{c}_w": fmt.power(w) for c, w in watts.items()}, "total_w": fmt.power(total_w),
            "energy": fmt.energy(record.energy_j), "emissions": fmt.emissions(record.emissions_g),
            "intensity": fmt.intensity(record.intensity_g_per_kwh),
            "gaps": "; ".join(record.gaps)}
    return {"seq": record.seq, "start_s": record.start_s, "duration_s": seconds,
            "cpu_energy_j": record.cpu_energy_j, "gpu_energy_j": record.gpu_energy_j,
            "ram_energy_j": record.ram_energy_j, "other_energy_j": record.other_energy_j,
            "energy_j": record.energy_j, "emissions_g": record.emissions_g,
            "intensity_g_per_kwh": record.intensity_g_per_kwh, "gaps": list(record.gaps),
            "text": text}


def _span_tree(spans: list[SpanRecord]) -> list[tuple[int, SpanRecord]]:
    """(depth, span) in tree order: each span under its parent, siblings by first start."""
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children.setdefault(parent, []).append(span)
    out: list[tuple[int, SpanRecord]] = []

    def walk(parent: str | None, depth: int) -> None:
        for span in children.get(parent, []):
            out.append((depth, span))
            walk(span.span_id, depth + 1)

    walk(None, 0)
    return out


def _badges(detail: Any) -> dict[str, Any]:
    """The intensity's provenance, as badges: live/bundled, basis, scope, gases, year, stale."""
    intensity = dict(detail.summary.intensity or {})
    note = str(intensity.get("note") or "")
    return {"live": bool(intensity.get("live")), "basis": intensity.get("basis"),
            "scope": intensity.get("scope"), "gases": intensity.get("gases"),
            "year": intensity.get("year"), "kind": intensity.get("kind"),
            "source": intensity.get("source"), "zone": intensity.get("zone"),
            "stale": "stale" in note.lower(), "note": note or None,
            "g_per_kwh": intensity.get("g_per_kwh"), "varied": intensity.get("varied")}


def run_context(data: DashboardData, run_id: str, *, base: str = "") -> dict[str, Any]:
    """The run page; ``base``: the path the dashboard is served under (the live URL's)."""
    from .prediction_view import prediction_block

    detail = data.run(run_id)
    series = data.series(run_id, max_points=MAX_CHART_POINTS)
    table = [record_row(r) for r in series.points[:MAX_TABLE_ROWS]]
    # a merged (downsampled) record carries its last record's seq: polling resumes after it
    last_seq = series.points[-1].seq if series.points else None
    energy = detail.summary.energy_j or {}
    used = [c for c in COMPONENTS if energy.get(c)] or ["cpu"]
    chart = {"columns": chart_columns(series.points, series.holes), "last_seq": last_seq,
             "status": detail.row.status,
             "components": used, "interval_s": detail.info.interval_s,
             "live_url": f"{base}/runs/{run_id}/records.json",
             "downsampled": len(series.points) < series.total}
    return {"detail": detail, "row": detail.row, "info": detail.info, "summary": detail.summary,
            # "<" escaped: a run id or gap note holding "</script>" stays inside the data block
            "chart_json": json.dumps(chart).replace("<", "\\u003c"), "table_rows": table,
            "components": used, "holes": measurement_holes(series), "series": series,
            "shown_as": shown_as(series),
            "spans": _span_tree(detail.spans), "intensity": _badges(detail),
            "location": dict(detail.info.location or {}), "host": dict(detail.info.host or {}),
            "live": detail.row.status == "running",
            "prediction": prediction_block(data.prediction(run_id), detail.summary,
                                           ended=detail.row.status != "running")}


def shown_as(series: Series) -> str | None:
    """What the charts draw when it is not one point a record: "N records shown as M points of
    k each" (None when every record is a point)."""
    if series.bucket_s is None:
        return None
    return (f"{series.total:,} records shown as {len(series.points):,} points of "
            f"{_width(series.bucket_s)} each (mean power over each point's time, its "
            "records' lowest and highest power as a band; energy summed exactly)")


def _width(seconds: float) -> str:
    """A bucket width (a round number of one unit, see buckets.NICE_WIDTHS_S) in that unit."""
    for unit_s, unit in ((86400.0, "d"), (3600.0, "h"), (60.0, "min")):
        if seconds >= unit_s and seconds % unit_s == 0:
            return f"{seconds / unit_s:g} {unit}"
    return f"{seconds:g} s"


def measurement_holes(series: Series) -> list[dict[str, Any]]:
    """Where the measurement has holes: time between records, and records that say so."""
    out: list[dict[str, Any]] = [
        {"from_s": from_s, "to_s": to_s,
         "what": "no record (tracker paused or stopped, or the machine slept)"}
        for from_s, to_s in series.holes]
    out += [{"from_s": from_s, "to_s": to_s,
             "what": f"{fmt.duration(missing_s)} without records somewhere in this span "
                     "(too short to place at the chart's scale)"}
            for from_s, to_s, missing_s in series.hidden_holes]
    for record in series.points:
        for note in record.gaps:
            out.append({"from_s": record.start_s, "to_s": record.start_s + record.duration_s,
                        "what": note})
    # a note repeated on consecutive records (a sensor lost for an hour) is one span of time
    merged: list[dict[str, Any]] = []
    for hole in sorted(out, key=lambda h: (h["from_s"], h["what"])):
        same = [m for m in merged[-3:] if m["what"] == hole["what"]
                and hole["from_s"] <= m["to_s"] + 1e-6]
        if same:
            same[-1]["to_s"] = max(same[-1]["to_s"], hole["to_s"])
        else:
            merged.append(dict(hole))
    return merged


def live_payload(data: DashboardData, run_id: str, since_seq: int | None) -> dict[str, Any]:
    """New records since ``since_seq``, the run's status and its latest prediction now (the run
    page polls this)."""
    from .prediction_view import prediction_block

    records = data.records_since(run_id, since_seq, limit=LIVE_BATCH)
    row = data.run_row(run_id)
    return {"run_id": run_id, "status": row.status, "heartbeat_s": row.heartbeat_s,
            "records": [record_row(r) for r in records],
            "last_seq": records[-1].seq if records else since_seq,
            "more": len(records) == LIVE_BATCH,
            "prediction": prediction_block(data.prediction(run_id))}
