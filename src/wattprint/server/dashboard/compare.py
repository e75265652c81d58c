"""The comparison of two to :data:`MAX_RUNS` runs side by side (issue 11).

Read through :class:`~.data.DashboardData` only: each run's :meth:`~.data.DashboardData.run`
(totals, components, work units, intensity) and :meth:`~.data.DashboardData.series` (the run
page's downsampled points, so a long run costs what its run page costs). One row per run in
the ``comparison`` table (columns with units, the differences against the first run as
``<name>_diff_<unit>`` and ``<name>_diff_pct``); the page shows the same table turned on its
side (a column per run) with each difference under its figure. The curves are aligned by
elapsed time since each run's start; ``curves`` is their table alternative and export.
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable
from urllib.parse import urlencode

from ..._struct import dataclass
from . import fmt
from .data import DashboardData, DataError, RunDetail, Series
from .tables import Column, Table

__all__ = ["MAX_RUNS", "MIN_RUNS", "RunNotFound", "compare_context", "compare_ids", "compare_tables"]

MIN_RUNS, MAX_RUNS = 2, 8  # eight: the palette's colours and dash patterns, a readable table
CURVE_POINTS = 2_000  # per run: a screen's width; the run page has the full series
MAX_TABLE_ROWS = 500  # the curves' table on the page: the first rows, every row in the export
COMPONENTS = ("cpu", "gpu", "ram", "other")
_COMPONENT_NAMES = {"cpu": "CPU", "gpu": "GPU", "ram": "RAM", "other": "Other"}
# Dash patterns (px) paired with the palette: a run's line differs by more than its colour.
DASHES: tuple[tuple[int, ...], ...] = ((), (10, 5), (2, 4), (14, 4, 3, 4), (6, 6),
                                       (3, 3, 3, 3, 12, 3), (1, 3), (18, 6))


@dataclass(frozen=True, slots=True)
class Compared:
    """One run of the comparison, with what the table reads from it."""

    index: int  # 0: the reference the others are compared with
    detail: RunDetail
    series: Series
    components: dict[str, dict[str, Any]]  # cpu|gpu|ram|other -> energy_j, share_pct, method
    work: dict[str, dict[str, Any]]  # unit -> count, energy_j_per_unit, emissions_g_per_unit

    @property
    def run_id(self) -> str:
        return self.detail.info.run_id

    @property
    def label(self) -> str:
        row = self.detail.row
        return f"{self.index + 1}. {row.project} / {row.experiment} · {self.run_id[:8]}"

    @property
    def dash(self) -> str:
        return " ".join(str(n) for n in DASHES[self.index]) or "none"


class RunNotFound(DataError):
    """A run of the comparison is not there (or is another organisation's): a 404."""


def compare_ids(values: list[str]) -> list[str]:
    """The runs asked for, in order, each once; fewer than two or more than eight is refused."""
    ids = list(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(ids) < MIN_RUNS:
        raise DataError(f"pick at least {MIN_RUNS} runs to compare (got {len(ids)}): tick them "
                        "in the runs table, then press “Compare selected”")
    if len(ids) > MAX_RUNS:
        raise DataError(f"at most {MAX_RUNS} runs can be compared at once (got {len(ids)}): "
                        "untick some in the runs table")
    return ids


def _components(detail: RunDetail) -> dict[str, dict[str, Any]]:
    energy = detail.summary.energy_j or {}
    total = energy.get("total") or 0.0
    methods: dict[str, dict[str, None]] = {}
    for c in detail.summary.components:
        methods.setdefault(str(c.get("component")), {})[str(c.get("method") or "unknown")] = None
    out = {}
    for name in COMPONENTS:
        joules = energy.get(name)
        if joules is None and name not in methods:
            continue
        out[name] = {"energy_j": joules or 0.0,
                     "share_pct": 100.0 * (joules or 0.0) / total if total > 0 else None,
                     "method": "+".join(sorted(methods.get(name, {}))) or None}
    return out


def _compared(data: DashboardData, index: int, run_id: str, points: int) -> Compared:
    try:
        detail = data.run(run_id)
    except DataError as exc:  # unknown here; another organisation's reads the same
        raise RunNotFound(str(exc)) from None
    work = {str(w["unit"]): dict(w) for w in detail.summary.work}
    return Compared(index=index, detail=detail, series=data.series(run_id, max_points=points),
                    components=_components(detail), work=work)


def _diff(value: float | None, first: float | None) -> tuple[float | None, float | None]:
    if value is None or first is None:
        return None, None
    return value - first, (100.0 * (value - first) / first if first else None)


def _mean_power_w(run: Compared) -> float | None:
    seconds = run.detail.summary.duration_s
    total = (run.detail.summary.energy_j or {}).get("total")
    return total / seconds if total is not None and seconds > 0 else None


@dataclass(frozen=True, slots=True)
class Metric:
    """A figure compared across runs: its column, and its difference columns if it has any."""

    section: str
    column: Column
    diff: Column | None = None  # the same unit, minus the first run's
    diff_pct: Column | None = None


def _metric(section: str, name: str, unit: str, label: str, get: Callable[[Compared], Any],
            show: Callable[[Any], str], first: Compared | None) -> Metric:
    suffix = f"_{unit}" if unit else ""  # a ratio (PUE) has no unit
    column = Column(f"{name}{suffix}", label, lambda r: get(r), show, numeric=True)
    if first is None:
        return Metric(section, column)
    reference = get(first)

    def diff(r: Compared) -> float | None:
        return None if r.index == 0 else _diff(get(r), reference)[0]

    def diff_pct(r: Compared) -> float | None:
        return None if r.index == 0 else _diff(get(r), reference)[1]

    return Metric(section, column,
                  Column(f"{name}_diff{suffix}", f"{label}, difference", diff, show, True),
                  Column(f"{name}_diff_pct", f"{label}, difference %", diff_pct,
                         lambda v: fmt.number(v, 3), True))


def _text(section: str, key: str, label: str, get: Callable[[Compared], Any],
          show: Callable[[Any], str] = lambda v: "–" if v in (None, "") else str(v)) -> Metric:
    return Metric(section, Column(key, label, get, show))


def _part(component: str, key: str) -> Callable[[Compared], Any]:
    return lambda r: (r.components.get(component) or {}).get(key)


def _work(unit: str, key: str) -> Callable[[Compared], Any]:
    return lambda r: r.work[unit].get(key)


def _metrics(runs: list[Compared]) -> list[Metric]:
    first = runs[0]
    summary: Callable[[Compared], Any] = lambda r: r.detail.summary  # noqa: E731
    metrics = [
        _text("Run", "run_id", "Run id", lambda r: r.run_id),
        _text("Run", "project", "Project", lambda r: r.detail.row.project),
        _text("Run", "experiment", "Experiment", lambda r: r.detail.row.experiment),
        _text("Run", "status", "Status", lambda r: r.detail.row.status),
        _text("Run", "hostname", "Host", lambda r: r.detail.row.hostname),
        Metric("Run", Column("started_s", "Started", lambda r: r.detail.info.started_s,
                             fmt.timestamp, True)),
        _metric("Totals", "duration", "s", "Duration", lambda r: summary(r).duration_s,
                fmt.duration, first),
        _metric("Totals", "energy", "j", "Energy (IT)",
                lambda r: (summary(r).energy_j or {}).get("total"), fmt.energy, first),
        _metric("Totals", "emissions", "g", "Emissions", lambda r: summary(r).emissions_g,
                fmt.emissions, first),
        _metric("Totals", "mean_power", "w", "Mean power", _mean_power_w, fmt.power, first),
        _metric("Totals", "intensity", "g_per_kwh", "Intensity",
                lambda r: (summary(r).intensity or {}).get("g_per_kwh"), fmt.intensity, first),
        _metric("Totals", "pue", "", "PUE", lambda r: summary(r).pue, fmt.number, first),
    ]
    # a component no run used (energy 0 and no device) is left out, as on the run page
    used = [c for c in COMPONENTS if any(r.components.get(c, {}).get("energy_j")
                                         or r.components.get(c, {}).get("method")
                                         for r in runs)]
    for c in used:
        name = _COMPONENT_NAMES[c]
        metrics += [
            _metric("Per component", f"{c}_energy", "j", f"{name} energy",
                    _part(c, "energy_j"), fmt.energy, first),
            _metric("Per component", f"{c}_share", "pct", f"{name} share",
                    _part(c, "share_pct"),
                    lambda v: "–" if v is None else f"{fmt.number(v, 3)} %", None),
            _text("Per component", f"{c}_method", f"{name} method", _part(c, "method")),
        ]
    # per unit of work: only the units every run counted (samples of one run and tokens of
    # another do not compare)
    shared = [u for u in first.work if all(u in r.work for r in runs)]
    for unit in shared:
        section = f"Per unit of work: {unit}"
        metrics += [
            _metric(section, f"work_{unit}", "count", f"{unit.capitalize()} counted",
                    _work(unit, "count"), fmt.number, first),
            _metric(section, f"energy_per_{unit}", "j", f"Energy per unit ({unit})",
                    _work(unit, "energy_j_per_unit"), fmt.energy, first),
            _metric(section, f"emissions_per_{unit}", "g", f"Emissions per unit ({unit})",
                    _work(unit, "emissions_g_per_unit"), fmt.emissions, first),
        ]

    def intensity(key: str) -> Callable[[Compared], Any]:
        return lambda r: (r.detail.summary.intensity or {}).get(key)

    metrics += [
        _text("Provenance", "intensity_source", "Intensity source", intensity("source")),
        _text("Provenance", "intensity_zone", "Intensity zone", intensity("zone")),
        _text("Provenance", "intensity_year", "Intensity year", intensity("year")),
        _text("Provenance", "intensity_live", "Live intensity", intensity("live"),
              lambda v: "–" if v is None else "live" if v else "bundled"),
        _text("Provenance", "intensity_kind", "Intensity kind", intensity("kind")),
        _text("Provenance", "scope", "Energy scope", lambda r: r.detail.info.scope),
    ]
    return metrics


def _columns(metrics: list[Metric]) -> tuple[Column, ...]:
    out: list[Column] = []
    for m in metrics:
        out += [c for c in (m.column, m.diff, m.diff_pct) if c is not None]
    return tuple(out)


def _signed(value: float | None, show: Callable[[Any], str], reference: Any = None) -> str:
    if value is None:
        return "–"
    if isinstance(reference, (int, float)) and abs(value) <= 1e-9 * abs(reference):
        value = 0.0  # float noise (a mean of equal figures summed in another order): no change
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return sign + show(abs(value))


def _page_rows(metrics: list[Metric], runs: list[Compared]) -> list[dict[str, Any]]:
    """The comparison turned on its side: one row per figure, a cell per run, each difference
    against the first run under its figure; texts from the table's own columns."""
    rows = []
    for m in metrics:
        cells = []
        for r in runs:
            value = m.column.get(r)
            cell = {"value": value, "text": m.column.show(value), "diff": None}
            if m.diff is not None and m.diff_pct is not None and r.index > 0:
                pct, reference = m.diff_pct.get(r), m.column.get(runs[0])
                cell["diff"] = _signed(m.diff.get(r), m.diff.show, reference) + (
                    "" if pct is None else
                    f" ({_signed(pct, lambda v: fmt.number(v, 3), 100.0)} %)")
            cells.append(cell)
        rows.append({"section": m.section, "key": m.column.key, "label": m.column.label,
                     "numeric": m.column.numeric, "cells": cells})
    return rows


def _curve_rows(run: Compared) -> list[dict[str, Any]]:
    """Each point of ``run``'s series, aligned by elapsed time since the run's start; a hole
    in the measurement marked on the point after it."""
    started_s = run.detail.info.started_s
    holes = sorted(run.series.holes)
    rows, cumulative_j, previous_end_s, h = [], 0.0, -math.inf, 0
    for p in run.series.points:
        cumulative_j += p.energy_j
        # a hole lies between the previous point's end and this point's start
        after_hole = False
        while h < len(holes) and holes[h][1] <= p.start_s + 1e-6:
            after_hole = after_hole or holes[h][0] >= previous_end_s - 1e-6
            h += 1
        previous_end_s = p.start_s + p.duration_s
        rows.append({"run_id": run.run_id, "run": run.index + 1,
                     "elapsed_s": p.start_s + p.duration_s - started_s,
                     "duration_s": p.duration_s,
                     "power_w": p.energy_j / p.duration_s if p.duration_s > 0 else None,
                     "energy_j": p.energy_j, "cumulative_energy_j": cumulative_j,
                     "after_hole": after_hole})
    return rows


_CURVE_COLUMNS = (
    Column("run", "Run", lambda r: r["run"], str, True),
    Column("run_id", "Run id", lambda r: r["run_id"]),
    Column("elapsed_s", "Elapsed", lambda r: r["elapsed_s"], fmt.duration, True),
    Column("duration_s", "Point duration", lambda r: r["duration_s"], fmt.duration, True),
    Column("power_w", "Mean power", lambda r: r["power_w"], fmt.power, True),
    Column("energy_j", "Energy", lambda r: r["energy_j"], fmt.energy, True),
    Column("cumulative_energy_j", "Cumulative energy", lambda r: r["cumulative_energy_j"],
           fmt.energy, True),
    Column("after_hole", "After a gap", lambda r: r["after_hole"],
           lambda v: "yes" if v else ""),
)


def _chart(runs: list[Compared], curves: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """What compare.js draws: per run, x (elapsed s) and y columns; a null before a point
    that follows a hole breaks that run's line there (uPlot draws null as a gap)."""
    out = []
    for run, rows in zip(runs, curves, strict=True):
        xs: list[float] = []
        power: list[float | None] = []
        energy: list[float | None] = []
        previous = None
        for row in rows:
            if row["after_hole"] and previous is not None:
                xs.append(previous["elapsed_s"] + 1e-3)
                power.append(None)
                energy.append(None)
            xs.append(row["elapsed_s"])
            power.append(row["power_w"])
            energy.append(row["cumulative_energy_j"])
            previous = row
        out.append({"label": run.label, "run_id": run.run_id, "index": run.index,
                    "dash": list(DASHES[run.index]), "x": xs, "power_w": power,
                    "cumulative_energy_j": energy,
                    "downsampled": len(run.series.points) < run.series.total})
    return {"runs": out}


def compare_tables(runs: list[Compared]) -> tuple[dict[str, Table], list[Metric],
                                                   list[list[dict[str, Any]]]]:
    metrics = _metrics(runs)
    curves = [_curve_rows(r) for r in runs]
    tables = {
        "comparison": Table("comparison", "Comparison", _columns(metrics), runs),
        "curves": Table("curves", "Power and cumulative energy by elapsed time",
                        _CURVE_COLUMNS, [row for rows in curves for row in rows]),
    }
    return tables, metrics, curves


def compare_context(data: DashboardData, run_ids: list[str]) -> dict[str, Any]:
    ids = compare_ids(run_ids)
    runs = [_compared(data, i, run_id, CURVE_POINTS) for i, run_id in enumerate(ids)]
    tables, metrics, curves = compare_tables(runs)
    sections: list[tuple[str, list[dict[str, Any]]]] = []
    for row in _page_rows(metrics, runs):
        if not sections or sections[-1][0] != row["section"]:
            sections.append((row["section"], []))
        sections[-1][1].append(row)
    chart = _chart(runs, curves)
    curve_rows = list(tables["curves"].rows)
    return {"runs": runs, "run_ids": ids, "sections": sections, "tables": tables,
            "curve_table": tables["curves"], "curve_rows": curve_rows[:MAX_TABLE_ROWS],
            "curve_total": len(curve_rows), "max_runs": MAX_RUNS,
            "run_qs": urlencode([("run", i) for i in ids]),
            "without": {i: urlencode([("run", j) for j in ids if j != i]) for i in ids},
            "downsampled": any(c["downsampled"] for c in chart["runs"]),
            # "<" escaped: a label holding "</script>" stays inside the data block
            "chart_json": json.dumps(chart).replace("<", "\\u003c")}
