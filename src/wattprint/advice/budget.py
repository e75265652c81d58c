"""Budgets: say once when a run's energy or emissions will cross (or have crossed) its budget.

The settings ``budget_g`` (grams CO2e) and ``budget_kwh`` (IT energy, before PUE, as every
energy figure) set the limits. At each record the tracker asks :meth:`Budget.check` with the
run's measured totals and its latest :class:`~wattprint.records.Prediction`, if any. A budget
crossed by the prediction (its central figure) or by the measured total gives one
:class:`BudgetAlert`, once per budget: the tracker logs it, shows it in the live status line
and the summary, and hands it to the user's ``on_budget`` callback if one was given (to stop
cleanly: set a flag the training loop reads). Nothing here stops the program.
"""

from __future__ import annotations

from .._struct import dataclass
from ..records import J_PER_KWH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..records import Prediction

__all__ = ["Budget", "BudgetAlert"]


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A budget crossed: ``kind`` ``"emissions"`` (``limit`` and ``value`` in g CO2e) or
    ``"energy"`` (in J); ``predicted`` when the prediction crossed it, not yet the measured
    total; ``prediction`` is the run's latest prediction (None without ``expect()``)."""

    kind: str
    limit: float
    value: float
    predicted: bool
    at_s: float
    message: str
    prediction: Prediction | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "limit": self.limit, "value": self.value,
                "predicted": self.predicted, "at_s": self.at_s, "message": self.message}


class Budget:
    """The run's budgets and which were already said."""

    def __init__(self, *, budget_g: float | None, budget_kwh: float | None) -> None:
        self.budget_g = budget_g
        self.budget_kwh = budget_kwh
        self.alerts: list[BudgetAlert] = []
        self._said: set[str] = set()

    @property
    def active(self) -> bool:
        return self.budget_g is not None or self.budget_kwh is not None

    def check(self, *, energy_j: float, emissions_g: float, prediction: Prediction | None,
              at_s: float) -> list[BudgetAlert]:
        """The alerts newly due (each budget at most once per run)."""
        new = []
        if self.budget_kwh is not None and "energy" not in self._said:
            limit_j = self.budget_kwh * J_PER_KWH
            alert = _crossed("energy", limit_j, energy_j,
                             prediction.energy_j if prediction else None, prediction, at_s)
            if alert is not None:
                new.append(alert)
        if self.budget_g is not None and "emissions" not in self._said:
            alert = _crossed("emissions", self.budget_g, emissions_g,
                             prediction.emissions_g if prediction else None, prediction, at_s)
            if alert is not None:
                new.append(alert)
        for alert in new:
            self._said.add(alert.kind)
            self.alerts.append(alert)
        return new

    def to_dict(self) -> dict[str, Any] | None:
        """The summary's ``budget``: the limits and the alerts (None without a budget)."""
        if not self.active:
            return None
        return {"budget_g": self.budget_g, "budget_kwh": self.budget_kwh,
                "alerts": [a.to_dict() for a in self.alerts]}


def _energy(energy_j: float) -> str:
    """Three significant digits in kWh, Wh or mWh: a budget of 0.05 Wh reads as itself."""
    wh = energy_j / 3600.0
    return (f"{wh / 1000:.3g} kWh" if wh >= 1000 else f"{wh:.3g} Wh" if wh >= 1
            else f"{wh * 1000:.3g} mWh")


def _mass(grams: float) -> str:
    return (f"{grams / 1000:.3g} kg" if grams >= 1000 else f"{grams:.3g} g" if grams >= 1
            else f"{grams * 1000:.3g} mg")


def _crossed(kind: str, limit: float, measured: float, predicted: float | None,
             prediction: Prediction | None, at_s: float) -> BudgetAlert | None:
    show = _energy if kind == "energy" else _mass
    name = f"{kind} budget {show(limit)}"
    if measured >= limit:
        return BudgetAlert(kind, limit, measured, False, at_s,
                           f"{name} crossed: {show(measured)} used so far", prediction)
    if predicted is not None and prediction is not None and predicted > limit:
        low, high = ((prediction.energy_low_j, prediction.energy_high_j) if kind == "energy"
                     else (prediction.emissions_low_g, prediction.emissions_high_g))
        return BudgetAlert(
            kind, limit, predicted, True, at_s,
            f"{name} will be crossed: {show(predicted)} predicted ({prediction.level:.0%}: "
            f"{show(low)} to {show(high)}) when the {prediction.total:,.0f} {prediction.unit} "
            f"are done; {show(measured)} used so far", prediction)
    return None
