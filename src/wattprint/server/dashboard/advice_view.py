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

__all__ = ["AUTO_WASTE_RECORDS", "MAX_WASTE_RECORDS", "advice_context", "requested_regions"]

# The waste scan reads every record, decoded with its devices: 2,000 records took 300 ms at
# load 10, three times the rest of the page. A page scans a run of up to AUTO_WASTE_RECORDS by
# itself; a longer one on request (a button), up to MAX_WASTE_RECORDS; beyond, the page says so
# instead of waiting.
AUTO_WASTE_RECORDS = 1_000
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
                   f"{AUTO_WASTE_RECORDS:,} by itself, to stay quick")
    elif waste is None:
        skipped = (f"this run holds more than {MAX_WASTE_RECORDS:,} records, too many to scan "
                   f"for a page; `wattprint advise {detail.info.run_id[:8]}` reports it on the "
                   "machine that recorded it")
    return {"where": where_context(detail, params.getlist("regions")), "waste": waste,
            "waste_skipped": skipped, "waste_scan": offer, "waste_titles": KIND_TITLES}
