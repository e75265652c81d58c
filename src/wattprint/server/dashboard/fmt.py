"""How the dashboard writes numbers: the one place for units and rounding.

Every page, table and export label goes through these functions (the templates get them as
filters), so one figure reads the same everywhere, and a test can compute what a page must
show from the read API's figure. Four significant figures: the honest precision of a
measurement whose modelled parts are good to a few percent at best. SI inside, presentation
units here only: J -> Wh/kWh/MWh, g -> kg/t, s -> h m s.
"""

from __future__ import annotations

import time

__all__ = ["FILTERS", "duration", "emissions", "energy", "intensity", "number", "percent", "power",
           "timestamp", "trend"]

J_PER_WH = 3600.0


def number(value: float | None, digits: int = 4) -> str:
    """``value`` to ``digits`` significant figures, with thousands separators; "–" if unknown."""
    if value is None:
        return "–"
    if value == 0:
        return "0"
    text = f"{value:,.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"
    return text


def _scaled(value: float | None, units: tuple[tuple[float, str], ...], base: str) -> str:
    """``value`` in the largest unit it reaches; the ``base`` unit (factor 1) is kept down to
    a hundredth, so one table's column reads "16.33 Wh", "0.9111 Wh", not "3,280 J"."""
    if value is None:
        return "–"
    if value == 0:
        return f"0 {base}"
    for factor, unit in units:
        threshold = factor / 100 if unit == base else factor
        if abs(value) >= threshold:
            return f"{number(value / factor)} {unit}"
    factor, unit = units[-1]
    return f"{number(value / factor)} {unit}"


def energy(joules: float | None) -> str:
    return _scaled(joules, ((J_PER_WH * 1e6, "MWh"), (J_PER_WH * 1e3, "kWh"), (J_PER_WH, "Wh"),
                            (1.0, "J"), (1e-3, "mJ")), "Wh")


def emissions(grams: float | None) -> str:
    return _scaled(grams, ((1e6, "t"), (1e3, "kg"), (1.0, "g"), (1e-3, "mg"), (1e-6, "µg")), "g")


def power(watts: float | None) -> str:
    return _scaled(watts, ((1e6, "MW"), (1e3, "kW"), (1.0, "W"), (1e-3, "mW")), "W")


def intensity(g_per_kwh: float | None) -> str:
    return "–" if g_per_kwh is None else f"{number(g_per_kwh)} gCO₂e/kWh"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{number(seconds, 3)} s"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s"


def percent(part: float, whole: float) -> str:
    return "–" if whole <= 0 else f"{number(100.0 * part / whole, 3)} %"


def trend(now: float, before: float | None) -> str:
    """The change from ``before`` to ``now``: "+12.5 %", "−3 %", "new" (from nothing), "–"."""
    if before is None:
        return "–"
    if before == 0:
        return "no change" if now == 0 else "new"
    change = 100.0 * (now - before) / before
    sign = "+" if change > 0 else "−" if change < 0 else "±"
    return f"{sign}{number(abs(change), 3)} %"


def timestamp(unix_s: float | None) -> str:
    """UTC, to the second: the store's times are UTC and a team spans time zones."""
    if unix_s is None:
        return "–"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix_s))


FILTERS = {"energy": energy, "emissions": emissions, "power": power, "intensity": intensity,
           "duration": duration, "number": number, "timestamp": timestamp}
