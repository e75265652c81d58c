"""The run page's advice sections, "Where could it have run?" and "What was wasted", for both
dashboards (local and team server): the figures come from :mod:`wattprint.advice` itself, so
the page shows the library's numbers, never a second computation.

Where: the run's IT energy re-priced in every region of its provider (every bundled region
when its cloud is unknown), plus the regions the reader asks for (``regions=aws/eu-north-1``,
repeated or comma-separated). A name that is not a region is said in the section, with the
close matches, and the rest still shows. What was wasted: through the data seam
(:meth:`~.data.DashboardData.waste`); a long run is scanned only when asked (``waste=scan``),
and a very long one not at all, saying so.
"""

from __future__ import annotations

from typing import Any, Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from starlette.datastructures import QueryParams

    from .data import DashboardData, RunDetail
    from .tables import Table

__all__ = ["ADVICE_TABLES", "AUTO_WASTE_RECORDS", "MAX_WASTE_RECORDS", "advice_context",
           "advice_tables", "requested_regions"]

# The waste scan reads every record's raw row (record_rows + waste_report_rows: no Record
# built; benchmarks/bench_long_run_reads.py): 20,000 records cost ~0.25 s of CPU, 100,000
# ~1.3 s (3.3 s at load 8; 5.8 s of CPU the old way, a Record per row). Not well under a
# second at 100,000, so a page scans a run of up to AUTO_WASTE_RECORDS by itself; a longer one
# on request (a button), up to MAX_WASTE_RECORDS; beyond, the page says so instead of waiting.
AUTO_WASTE_RECORDS = 20_000
ADVICE_TABLES = ("where", "waste")  # their downloads: /export/runs/RUN_ID/{where,waste}.csv
MAX_WASTE_RECORDS = 100_000
_MAX_REQUESTED = 20

KIND_TITLES = {"idle_accelerator": "Accelerator allocated but idle",
               "gpu_waiting_on_cpu": "GPU waiting on the CPU",
               "other_processes": "Machine energy other processes used"}


def requested_regions(values: Sequence[str]) -> list[str]:
    """``regions=`` values (repeated or comma-separated), trimmed, duplicates dropped."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out[:_MAX_REQUESTED]


def where_context(detail: RunDetail, requested: Sequence[str]) -> dict[str, Any]:
    from ...advice.where import resolve_place, run_regions, where_advice
    from ...errors import LocationError

    cloud, which = run_regions(detail.summary)
    extra: list[str] = []
    problems: list[str] = []
    for text in requested_regions(requested):
        try:
            row = resolve_place(text)
        except LocationError as exc:
            problems.append(str(exc))
        else:
            extra.append(f"{row.cloud}/{row.region}")
    advice = where_advice(run=detail.summary, cloud=cloud, extra=extra)
    added = {tuple(e.split("/", 1)) for e in extra}
    return {"advice": advice, "which": which, "problems": problems,
            "requested": ", ".join(requested_regions(requested)),
            "added": {f"{c} {r}" for c, r in added if c != cloud}}


def advice_context(data: DashboardData, detail: RunDetail,
                   params: QueryParams) -> dict[str, Any]:
    """What ``_advice.html`` renders: ``where``, and ``waste`` (None with ``waste_skipped``
    saying why, and ``waste_scan`` the record count when a button may ask for the scan).

    ``params``: the page's query (``regions=``, ``waste=scan``)."""
    records = detail.summary.records
    scan = params.get("waste") == "scan"
    limit = MAX_WASTE_RECORDS if scan else AUTO_WASTE_RECORDS
    waste = None
    if records <= limit:
        waste = data.waste(detail.info.run_id, max_records=limit)
    skipped = offer = None
    if waste is None and records <= MAX_WASTE_RECORDS and not scan:
        offer = records
        skipped = (f"this run holds {records:,} records; the page scans up to "
                   f"{AUTO_WASTE_RECORDS:,} by itself, to stay quick (a scan of "
                   f"{MAX_WASTE_RECORDS:,} takes a few seconds)")
    elif waste is None:
        skipped = (f"this run holds more than {MAX_WASTE_RECORDS:,} records, too many to scan "
                   f"for a page; `wattprint advise {detail.info.run_id[:8]}` reports it on the "
                   "machine that recorded it")
    return {"where": where_context(detail, params.getlist("regions")), "waste": waste,
            "waste_skipped": skipped, "waste_scan": offer, "waste_titles": KIND_TITLES}


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def advice_tables(data: DashboardData, run_id: str, name: str,
                  params: QueryParams) -> dict[str, Table]:
    """The section's table ``name`` (one of ADVICE_TABLES) for its CSV and JSON download:
    ``where`` with the page's ``regions=``; ``waste`` scanned as on request, up to
    MAX_WASTE_RECORDS. Only the asked table is built (the waste scan reads every record)."""
    from . import fmt
    from .data import DataError
    from .tables import Column, Table

    detail = data.run(run_id)
    if name == "where":
        options = where_context(detail, params.getlist("regions"))["advice"].options
        return {name: Table("where", "Where could it have run?", (
            Column("rank", "Rank", lambda r: r[0], str, True),
            Column("cloud", "Cloud", lambda r: r[1].cloud),
            Column("region", "Region", lambda r: r[1].region),
            Column("name", "Name", lambda r: r[1].name),
            Column("comparable_g_per_kwh", "Intensity",
                   lambda r: r[1].figure.comparable_g_per_kwh, fmt.intensity, True),
            Column("pue", "PUE", lambda r: r[1].pue.pue, fmt.number, True),
            Column("pue_level", "PUE from", lambda r: r[1].pue.level),
            Column("emissions_g", "Emissions", lambda r: r[1].emissions_g, fmt.emissions, True),
            Column("saving_g", "Saving", lambda r: r[1].saving_g, fmt.emissions, True),
            Column("saving_pct", "Saving %", lambda r: r[1].saving_pct, _pct, True),
            Column("cfe_share_pct", "Carbon-free", lambda r: None if r[1].cfe_share is None
                   else 100.0 * r[1].cfe_share, _pct, True),
            Column("year", "Year", lambda r: r[1].figure.year, str, True),
            Column("source", "Source", lambda r: r[1].figure.source),
        ), list(enumerate(options, 1)))}
    report = data.waste(run_id, max_records=MAX_WASTE_RECORDS)
    if report is None:
        raise DataError(f"run {run_id!r} holds more than {MAX_WASTE_RECORDS:,} records, too many "
                        f"to scan here; `wattprint advise {run_id[:8]}` reports it")
    return {name: Table("waste", "What was wasted", (
        Column("kind", "Kind", lambda f: f.kind),
        Column("device", "Device", lambda f: f.device),
        Column("seconds", "Time", lambda f: f.seconds, fmt.duration, True),
        Column("share_of_time_pct", "Share of the run", lambda f: 100.0 * f.share_of_time,
               _pct, True),
        Column("energy_j", "Energy", lambda f: f.energy_j, fmt.energy, True),
        Column("saving_j", "Saving", lambda f: f.saving_j, fmt.energy, True),
        Column("saving_g", "Saving CO2e", lambda f: f.saving_g, fmt.emissions, True),
        Column("threshold_w", "Idle at most", lambda f: f.threshold_w, fmt.power, True),
        Column("inferred_from", "Inferred from", lambda f: f.inferred_from),
        Column("change", "Change", lambda f: f.change),
        Column("based_on", "Based on", lambda f: f.based_on),
    ), list(report.findings))}
