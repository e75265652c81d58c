"""The run page's "How much will it cost?" block: a run's latest prediction, as figures and text.

The prediction is the one the run's tracker made (:mod:`wattprint.advice.predict`), read through
:meth:`~.data.DashboardData.prediction`; nothing is predicted here. :func:`prediction_block`
gives both the page's context and what the live poll (``records.json``) carries, so the script
only places text the server wrote with :mod:`.fmt`. For a run that has ended, the prediction is
set against the measured totals: how far off it was, and whether its band held them.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from ...records import J_PER_KWH
from . import fmt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...records import Prediction, RunSummary
    from .data import DashboardData, RunDetail
    from .tables import Table

__all__ = ["FIGURES", "prediction_block", "prediction_table"]

#: (key, label, the prediction's central/low/high attribute names, how the figure is written)
FIGURES = (("duration", "Duration", ("duration_s", "duration_low_s", "duration_high_s"),
            fmt.duration),
           ("energy", "Energy (IT, before PUE)", ("energy_j", "energy_low_j", "energy_high_j"),
            fmt.energy),
           ("emissions", "Emissions", ("emissions_g", "emissions_low_g", "emissions_high_g"),
            fmt.emissions))


def prediction_block(prediction: Prediction | None, summary: RunSummary | None = None, *,
                     ended: bool = False) -> dict[str, Any] | None:
    """The block's figures (SI) and ``text`` (each cell as the page writes it); None without a
    prediction. ``ended``: the run is over, so ``measured`` compares the prediction with
    ``summary``'s totals, and ``budget`` says the budgets' state (the summary holds them)."""
    if prediction is None:
        return None
    p = prediction
    share = p.done / p.total if p.total > 0 else None
    text: dict[str, str] = {
        "level": f"{fmt.number(100.0 * p.level, 3)} %",
        "work": (f"{fmt.number(p.done)} of {fmt.number(p.total)} {p.unit}"
                 + (f" ({fmt.number(100.0 * share, 3)} %)" if share is not None else "")),
        "end": fmt.timestamp(p.end_s),
        "computed": f"after record {p.seq}, at {fmt.timestamp(p.at_s)}",
        "regime": (f"{p.regime_intervals} records since {fmt.timestamp(p.regime_start_s)}"
                   + (f" (the cost changed {p.rebased} time{'s' if p.rebased != 1 else ''} "
                      "before: only the latest regime counts)" if p.rebased else "")),
    }
    figures: dict[str, dict[str, float]] = {}
    for key, _, (central, low, high), write in FIGURES:
        values = {"predicted": getattr(p, central), "low": getattr(p, low),
                  "high": getattr(p, high)}
        figures[key] = values
        text[key] = write(values["predicted"])
        text[f"{key}_band"] = f"{write(values['low'])} – {write(values['high'])}"
    block: dict[str, Any] = {
        "seq": p.seq, "at_s": p.at_s, "unit": p.unit, "done": p.done, "total": p.total,
        "level": p.level, "end_s": p.end_s, "figures": figures, "text": text,
        "measured": None, "budget": None}
    if ended and summary is not None:
        block["measured"] = _measured(p, summary, figures)
        block["budget"] = _budget(summary)
    return block


def _measured(p: Prediction, summary: RunSummary,
              figures: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Each figure's measured total, the prediction's error against it (percent of the measured
    total) and whether the band held it; ``note`` when the run stopped short of its work."""
    measured = {"duration": summary.duration_s,
                "energy": float((summary.energy_j or {}).get("total", 0.0)),
                "emissions": summary.emissions_g}
    rows: dict[str, dict[str, Any]] = {}
    for key, _, _, write in FIGURES:
        value, predicted = measured[key], figures[key]
        off = 100.0 * (predicted["predicted"] - value) / value if value > 0 else None
        rows[key] = {"measured": value, "off_percent": off,
                     "inside": predicted["low"] <= value <= predicted["high"],
                     "text": {"measured": write(value), "off": _signed_percent(off),
                              "inside": ("yes" if predicted["low"] <= value
                                         <= predicted["high"] else "no")}}
    done = sum(float(w.get("count", 0.0)) for w in summary.work if w.get("unit") == p.unit)
    note = None
    if done < p.total:
        note = (f"The run ended after {fmt.number(done)} of the {fmt.number(p.total)} {p.unit} "
                "it expected: the prediction was for all of them, so it reads high.")
    return {"rows": rows, "note": note}


def _signed_percent(value: float | None) -> str:
    if value is None:
        return "–"
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{fmt.number(abs(value), 3)} %"


def _budget(summary: RunSummary) -> list[dict[str, str]] | None:
    """Each budget set (the summary's ``budget``) against the run's measured total, and what
    its alert said (one alert per budget and run: a predicted crossing is never said again
    when the measured total crosses too, so the state is the measured total's)."""
    budget = summary.budget
    if not budget:
        return None
    alerts = list(budget.get("alerts") or ())
    measured = {"emissions": summary.emissions_g,
                "energy": float((summary.energy_j or {}).get("total", 0.0))}
    out: list[dict[str, str]] = []
    for kind, limit_si, write in (
            ("emissions", _si(budget.get("budget_g"), 1.0), fmt.emissions),
            ("energy", _si(budget.get("budget_kwh"), J_PER_KWH), fmt.energy)):
        if limit_si is None:
            continue
        said = [a for a in alerts if a.get("kind") == kind]
        used = f"{write(measured[kind])} used, {fmt.percent(measured[kind], limit_si)} of it"
        if measured[kind] > limit_si:
            state = f"crossed: {used}"
        elif said:
            state = f"predicted to cross, but the run stayed within: {used}"
        else:
            state = f"within: {used}"
        out.append({"what": f"{kind.capitalize()} budget {write(limit_si)}", "state": state,
                    "messages": "; ".join(str(a.get("message", "")) for a in said)})
    return out


def _si(limit: Any, factor: float) -> float | None:
    return None if limit is None else float(limit) * factor


def prediction_table(data: DashboardData, detail: RunDetail) -> Table:
    """The block's figures as a table for its CSV and JSON download (``prediction``): a row per
    figure, full precision, SI units in the keys; read only when downloaded. No rows when the
    run made no prediction."""
    from .tables import Column, Table

    def rows() -> Iterator[dict[str, Any]]:
        block = prediction_block(data.prediction(detail.info.run_id), detail.summary,
                                 ended=detail.row.status != "running")
        if block is None:
            return
        measured = (block["measured"] or {}).get("rows", {})
        for key, _, _, _ in FIGURES:
            figure, m = block["figures"][key], measured.get(key, {})
            yield {"figure": key, **figure, "level": block["level"],
                   "measured": m.get("measured"), "off_percent": m.get("off_percent"),
                   "inside_band": m.get("inside"), "unit": block["unit"],
                   "done": block["done"], "total": block["total"], "seq": block["seq"],
                   "at_s": block["at_s"], "end_s": block["end_s"]}

    def get(name: str) -> Any:
        return lambda row: row.get(name)

    return Table("prediction", "How much will it cost?", (
        Column("figure", "Figure", get("figure")),
        Column("predicted", "Predicted total (s, J or g)", get("predicted"), fmt.number, True),
        Column("low", "Band low", get("low"), fmt.number, True),
        Column("high", "Band high", get("high"), fmt.number, True),
        Column("level", "Band level", get("level"), fmt.number, True),
        Column("measured", "Measured", get("measured"), fmt.number, True),
        Column("off_percent", "Prediction off by (%)", get("off_percent"), fmt.number, True),
        Column("inside_band", "Inside the band", get("inside_band")),
        Column("unit", "Work unit", get("unit")),
        Column("done", "Done", get("done"), fmt.number, True),
        Column("total", "Expected", get("total"), fmt.number, True),
        Column("seq", "After record", get("seq"), str, True),
        Column("at_s", "Computed at", get("at_s"), fmt.timestamp, True),
        Column("end_s", "Predicted end", get("end_s"), fmt.timestamp, True),
    ), _Rows(rows))


class _Rows:
    """An iterable that computes its rows only when iterated (a download, not a page)."""

    def __init__(self, make: Callable[[], Iterator[dict[str, Any]]]) -> None:
        self.make = make

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.make()
