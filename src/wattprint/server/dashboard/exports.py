"""Every page's tables as :class:`~.tables.Table` specs, for their CSV and JSON downloads.

Overview: ``by-project``, ``by-experiment``, ``by-component``, ``by-region``, ``by-host``.
Runs: ``runs`` (the table's filters and sort, every matching run). One run: ``records``
(every record, streamed: a long run is never held in memory), ``components``, ``work``,
``spans``, ``rescores``, ``prediction`` (:mod:`.prediction_view`). Comparison: ``comparison``
and ``curves`` (:mod:`.compare`).
The columns read the same objects the pages show, written by the same :mod:`.fmt` functions.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Callable, Iterator

from . import fmt
from .data import BREAKDOWNS, DashboardData, Overview, RunDetail
from .tables import Column, Table, csv_cell

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...store.repository import RunRow

__all__ = ["RUN_TABLES", "overview_tables", "run_tables", "runs_table"]

RUN_TABLES = ("records", "components", "work", "spans", "rescores", "prediction")
_RECORD_PAGE = 5000  # records read per call while streaming a run's records


def _plain(v: Any) -> str:
    return "–" if v is None else str(v)


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{fmt.number(v, 3)} %"


def _attr(name: str) -> Any:
    return lambda row: getattr(row, name)


def _key(name: str) -> Any:
    return lambda row: row.get(name)


def overview_tables(overview: Overview) -> dict[str, Table]:
    total_j = overview.totals.energy_j
    out = {}
    for by in BREAKDOWNS:
        out[f"by-{by}"] = Table(f"by-{by}", f"Energy by {by}", (
            Column(by, by.capitalize(), _attr("key")),
            Column("energy_j", "Energy", _attr("energy_j"), fmt.energy, True),
            Column("share_pct", "Share", lambda a: 100.0 * a.energy_j / total_j
                   if total_j > 0 else None, _pct, True),
            Column("emissions_g", "Emissions", _attr("emissions_g"), fmt.emissions, True),
            Column("emissions_kind", "Intensity kind", _attr("kind")),
            Column("runs", "Runs", _attr("runs"), str, True),
            Column("duration_s", "Duration", _attr("duration_s"), fmt.duration, True),
        ), overview.breakdowns[by])
    return out


_RUN_FIELDS: tuple[tuple[str, str, Callable[[Any], str] | None], ...] = (
    ("run_id", "Run", None), ("project", "Project", None), ("experiment", "Experiment", None),
    ("started_s", "Started", fmt.timestamp), ("ended_s", "Ended", fmt.timestamp),
    ("status", "Status", None), ("hostname", "Host", None), ("host_id", "Host id", None),
    ("job_id", "Job", None), ("duration_s", "Duration", fmt.duration),
    ("energy_j", "Energy", fmt.energy), ("emissions_g", "Emissions", fmt.emissions),
    ("exit_code", "Exit code", None), ("heartbeat_s", "Last seen", fmt.timestamp))


def runs_table(rows: list[RunRow]) -> Table:
    """The runs table: every field of the read API's run row, so its JSON is the rows'."""
    return Table("runs", "Runs", tuple(
        Column(key, label, _attr(key), show or _plain, show is not None)
        for key, label, show in _RUN_FIELDS), rows)


#: What the ``records`` download reads of each record, straight from the database
#: (:meth:`.data.DashboardData.record_rows`): no :class:`Record` built per row, no devices
#: decoded.
RECORD_EXPORT_COLUMNS = (
    "seq", "start_s", "duration_s", "cpu_energy_j", "gpu_energy_j", "ram_energy_j",
    "other_energy_j", "energy_j", "pue", "emissions_g", "intensity_g_per_kwh", "intensity_zone",
    "intensity_source", "intensity_year", "intensity_kind", "intensity_live", "gaps", "work")


def all_records(data: DashboardData, run_id: str) -> Iterator[tuple[Any, ...]]:
    """Every record of ``run_id`` in seq order as a raw row of
    :data:`RECORD_EXPORT_COLUMNS`, a page at a time."""
    since_seq = None
    while True:
        page = data.record_rows(run_id, RECORD_EXPORT_COLUMNS, since_seq=since_seq,
                                limit=_RECORD_PAGE)
        yield from page
        if len(page) < _RECORD_PAGE:
            return
        since_seq = page[-1][0]


def _at(name: str) -> Callable[[tuple[Any, ...]], Any]:
    """A raw row's figure, converted as :meth:`Record.from_row` converts it (same bytes)."""
    index = RECORD_EXPORT_COLUMNS.index(name)
    return lambda row: _values(row)[index]


def _year(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _live(value: Any) -> bool:
    return value.strip().lower() in ("1", "true", "yes") if isinstance(value, str) \
        else bool(value)


def _json(value: Any) -> Any:
    return (json.loads(value) if value else []) if isinstance(value, str) else value


def _gaps(value: Any) -> str:
    if isinstance(value, str):
        return _gaps_text(value)
    return "; ".join(str(g) for g in (value or ()))


def _work(value: Any) -> str:
    from ...records import work_from_wire

    if isinstance(value, str):
        return _work_text(value)
    return "; ".join(f"{c:g} {u}" for u, c in work_from_wire(value or ()))


# A long run repeats the same few texts ("[]", its steps' units): each decoded once.
@functools.lru_cache(maxsize=4096)
def _gaps_text(text: str) -> str:
    return "; ".join(str(g) for g in (_json(text) or ()))


@functools.lru_cache(maxsize=4096)
def _work_text(text: str) -> str:
    from ...records import work_from_wire

    return "; ".join(f"{c:g} {u}" for u, c in work_from_wire(_json(text) or ()))


def _values(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A raw row's figures as the columns give them, the whole row in one call."""
    (seq, start_s, duration_s, cpu_j, gpu_j, ram_j, other_j, energy_j, pue, emissions_g,
     intensity, zone, source, year, kind, live, gaps, work) = row
    return (int(seq), float(start_s), float(duration_s), float(cpu_j), float(gpu_j),
            float(ram_j), float(other_j), float(energy_j), float(pue), float(emissions_g),
            float(intensity), str(zone), str(source), _year(year), _text_or_none(kind),
            _live(live), _gaps(gaps), _work(work))


_TEXT_AT = (11, 12, 13, 14, 15, 16, 17)  # the cells csv_cell rewrites (numbers pass as they are)


def _csv_fields(row: tuple[Any, ...]) -> list[Any]:
    fields = list(_values(row))
    for i in _TEXT_AT:
        fields[i] = csv_cell(fields[i])
    return fields


def _json_object(row: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(RECORD_EXPORT_COLUMNS, _values(row), strict=True))


_RECORD_COLUMNS = (
    Column("seq", "Seq", _at("seq"), str, True),
    Column("start_s", "Start", _at("start_s"), fmt.timestamp, True),
    Column("duration_s", "Duration", _at("duration_s"), fmt.duration, True),
    *(Column(f"{c}_energy_j", f"{c.upper()} energy", _at(f"{c}_energy_j"), fmt.energy, True)
      for c in ("cpu", "gpu", "ram", "other")),
    Column("energy_j", "Energy", _at("energy_j"), fmt.energy, True),
    Column("pue", "PUE", _at("pue"), fmt.number, True),
    Column("emissions_g", "Emissions", _at("emissions_g"), fmt.emissions, True),
    Column("intensity_g_per_kwh", "Intensity", _at("intensity_g_per_kwh"), fmt.intensity,
           True),
    Column("intensity_zone", "Zone", _at("intensity_zone")),
    Column("intensity_source", "Source", _at("intensity_source")),
    Column("intensity_year", "Year", _at("intensity_year")),
    Column("intensity_kind", "Kind", _at("intensity_kind")),
    Column("intensity_live", "Live", _at("intensity_live")),
    Column("gaps", "Gaps", _at("gaps")),
    Column("work", "Work", _at("work")),
)


def run_tables(data: DashboardData, detail: RunDetail) -> dict[str, Table]:
    """A run's tables; ``records`` reads the run's records lazily, when downloaded."""
    from .prediction_view import prediction_table

    run_id = detail.info.run_id
    total_j = (detail.summary.energy_j or {}).get("total") or 0.0
    return {
        "records": Table("records", "Records", _RECORD_COLUMNS, _Lazy(data, run_id),
                         csv_row=_csv_fields, json_row=_json_object),
        "components": Table("components", "Energy by component and device", (
            Column("component", "Component", _key("component")),
            Column("device", "Device", _key("device")),
            Column("method", "How", _key("method")),
            Column("energy_j", "Energy", _key("energy_j"), fmt.energy, True),
            Column("share_pct", "Share", lambda c: 100.0 * c["energy_j"] / total_j
                   if total_j > 0 and c.get("energy_j") is not None else None, _pct, True),
            Column("detail", "Detail", _key("detail")),
        ), list(detail.summary.components)),
        "work": Table("work", "Work units", (
            Column("unit", "Unit", _key("unit")),
            Column("count", "Count", _key("count"), fmt.number, True),
            Column("energy_j_per_unit", "Energy per unit", _key("energy_j_per_unit"),
                   fmt.energy, True),
            Column("emissions_g_per_unit", "Emissions per unit", _key("emissions_g_per_unit"),
                   fmt.emissions, True),
        ), list(detail.summary.work)),
        "spans": Table("spans", "Spans", (
            Column("span_id", "Span", _attr("span_id")),
            Column("parent_id", "Parent", _attr("parent_id")),
            Column("name", "Name", _attr("name")),
            Column("count", "Count", _attr("count"), str, True),
            Column("duration_s", "Duration", _attr("duration_s"), fmt.duration, True),
            Column("energy_j", "Energy", _attr("energy_j"), fmt.energy, True),
            Column("emissions_g", "Emissions", _attr("emissions_g"), fmt.emissions, True),
            Column("work", "Work", lambda s: "; ".join(f"{c:g} {u}" for u, c in s.work)),
        ), list(detail.spans)),
        "rescores": Table("rescores", "Rescores", (
            Column("provider", "Provider", _key("provider")),
            Column("created_s", "When", _key("created_s"), fmt.timestamp, True),
            Column("emissions_g", "Emissions", _key("emissions_g"), fmt.emissions, True),
            Column("intensity_g_per_kwh", "Intensity", _key("intensity_g_per_kwh"),
                   fmt.intensity, True),
            Column("kind", "Kind", _key("kind")),
        ), list(detail.rescores)),
        # "How much will it cost?" (prediction_view.py): read only when downloaded
        "prediction": prediction_table(data, detail),
    }


class _Lazy:
    """An iterable that reads a run's records only when iterated (a download, not a page)."""

    def __init__(self, data: DashboardData, run_id: str) -> None:
        self.data, self.run_id = data, run_id

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return all_records(self.data, self.run_id)
