"""Presentation: a run summary as text for people. kWh, Wh, kg and equivalents live here only."""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

from .records import RunSummary

__all__ = ["equivalent_rows", "equivalents", "format_energy", "format_intensity", "format_mass",
           "format_summary"]


def format_energy(energy_j: float) -> str:
    wh = energy_j / 3600.0
    if wh >= 1000:
        return f"{wh / 1000:.3f} kWh"
    if wh >= 1:
        return f"{wh:.2f} Wh"
    return f"{wh * 1000:.1f} mWh"


def format_mass(grams: float) -> str:
    if grams >= 1000:
        return f"{grams / 1000:.3f} kg"
    if grams >= 1:
        return f"{grams:.2f} g"
    return f"{grams * 1000:.1f} mg"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{sec:02d}s" if hours else f"{minutes}m{sec:02d}s"


# The equivalents a summary and a report show by default, with their wording; the full table,
# each factor with its source and year, is intensity/data/equivalents.csv.
SHOWN_EQUIVALENTS = {
    "car_eu_km": "driven by an average European passenger car",
    "video_streaming_hour": "of video streaming",
}
# The wording of every other row (``wattprint report --equivalents all``): (unit shown, what).
# An empty unit: the amount counts the thing itself ("0.2 smartphone charges").
EQUIVALENT_WORDING = {
    "car_us_km": ("km", "driven by a typical US passenger vehicle"),
    "flight_economy_km": ("km", "flown by one economy-class passenger"),
    "smartphone_charge": ("", "full smartphone charges"),
    "train_km": ("km", "travelled by one passenger by national rail"),
    "tree_month": ("", "months of CO2 uptake by one urban tree"),
    "tree_year": ("", "years of CO2 uptake by one urban tree"),
}


def equivalent_rows(emissions_g: float, keys: Sequence[str] | None = None
                    ) -> list[dict[str, Any]]:
    """What ``emissions_g`` amounts to in everyday terms, one dict per bundled factor: key,
    amount, unit, what (the sentence), and the factor with its unit, source and year.
    ``keys`` picks the rows (default: the shown ones); unknown keys are skipped."""
    from .intensity.tables import equivalents as table

    rows = table()
    out = []
    for key in SHOWN_EQUIVALENTS if keys is None else keys:
        ref = rows.get(key)
        if ref is None or ref.value <= 0:
            continue
        amount = emissions_g / ref.value
        if key in SHOWN_EQUIVALENTS:
            unit, label = ref.unit.split("/", 1)[-1], SHOWN_EQUIVALENTS[key]
        else:
            unit, label = EQUIVALENT_WORDING.get(key, (ref.unit.split("/", 1)[-1],
                                                       ref.description))
        if unit == "km" and amount < 1:
            amount, unit = amount * 1000, "m"
        what = f"{amount:.3g} {unit} {label}" if unit else f"{amount:.3g} {label}"
        out.append({"key": key, "amount": amount, "unit": unit, "what": what,
                    "factor": ref.value, "factor_unit": ref.unit, "description": ref.description,
                    "source": ref.source, "year": ref.year})
    return out


def equivalents(emissions_g: float) -> list[tuple[str, str]]:
    """(what, source) pairs that make grams CO2e tangible, from the bundled reference table."""
    return [(row["what"], f"{row['factor']:g} {row['factor_unit']}, "
                          f"{row['source'].split(', citing')[0]}, {row['year']}")
            for row in equivalent_rows(emissions_g)]


def format_intensity(g_per_kwh: float | None, kind: str | None) -> str:
    """An intensity figure, or why there is none (no intensity, or kinds not to be averaged)."""
    if g_per_kwh is not None:
        return f"{g_per_kwh:.0f} gCO2e/kWh"
    if kind == "mixed":
        return "no single gCO2e/kWh (kinds mixed)"
    return "no intensity"


def _intensity_line(intensity: Mapping[str, Any]) -> str:
    if not intensity or intensity.get("kind", "") is None:
        return "unavailable: emissions not counted"
    from .intensity.figures import split_source

    kind = intensity.get("kind")
    parts = [format_intensity(intensity.get("g_per_kwh"), kind), str(intensity.get("zone", ""))]
    year = intensity.get("year")
    source, _ = split_source(str(intensity.get("source", "")))  # the conversion: figure line
    parts.append(f"{source}{f', {year}' if year else ''}")
    labels = ", ".join(str(intensity[k]) for k in ("scope", "gases") if intensity.get(k))
    live = "live" if intensity.get("live") else "bundled"
    parts.append(f"{kind}{f', {labels}' if labels else ''}, {live}")
    if intensity.get("varied"):
        parts.append("energy-weighted over the intervals that had one")
    return " | ".join(p for p in parts if p)


def _figure_line(intensity: Mapping[str, Any]) -> str | None:
    """Which of a bundled row's two figures the emissions use (``intensity_figure``): the
    lifecycle-comparable one (named with its conversion where it is one) or the source's own."""
    if not intensity or intensity.get("kind") is None or intensity.get("live"):
        return None
    from .intensity.figures import split_source

    _, method = split_source(str(intensity.get("source", "")))
    if method:
        return f"lifecycle-comparable, converted from the source's own: {method}"
    scope = intensity.get("scope")
    if scope == "lifecycle":
        return "lifecycle, the source's own (comparable across places)"
    if scope is None:
        return None
    return (f"the source's own, {scope} (not lifecycle: compare it only with {scope} figures; "
            "intensity_figure = lifecycle gives the comparable one)")


def _by_kind_lines(intensity: Mapping[str, Any]) -> list[str]:
    """Emissions per intensity kind, when the run had more than one (or intervals without)."""
    rows = intensity.get("by_kind") or ()
    if len(rows) < 2:
        return []
    lines = []
    for row in rows:
        if row.get("kind") is None:
            lines.append(f"             no intensity: {format_energy(row['energy_j'])} in "
                         f"{row['records']} records, emissions not counted")
        else:
            lines.append(f"             {row['kind']}: {format_mass(row['emissions_g'])} CO2e, "
                         f"{format_energy(row['energy_j'])} at "
                         f"{format_intensity(row.get('g_per_kwh'), row['kind'])}")
    return lines


def _share(comp: Mapping[str, Any]) -> str:
    """The scope's share of a device and what it rests on ("50% measured"), when known."""
    share, basis = comp.get("share"), comp.get("share_basis")
    if share is None:
        return "share ?"
    return f"{share:.0%} {basis or '?'}"


def _location_line(location: Mapping[str, Any]) -> str:
    where = location.get("country") or "WORLD"
    if location.get("subdivision"):
        where += f"-{location['subdivision']}"
    how = location.get("resolved_by", "default")
    detail = location.get("detail")
    return f"{where} (from {how}{f': {detail}' if detail else ''})"


def _singular(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") and len(unit) > 1 else unit


def _prediction_line(p: Mapping[str, Any]) -> str:
    """The run's last prediction: what the whole expected work costs, with its band."""
    level = f"{float(p['level']):.0%}"
    return (f"~{format_energy(p['energy_j'])}, {format_mass(p['emissions_g'])} CO2e, "
            f"{format_duration(p['duration_s'])} for {p['total']:,.6g} {p['unit']} ({level}: "
            f"{format_energy(p['energy_low_j'])} to {format_energy(p['energy_high_j'])}); "
            f"{p['done']:,.6g} done")


def format_summary(summary: RunSummary, *, store_path: str | None = None) -> str:
    lines = []
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(summary.started_s))
    lines.append(
        f"wattprint run {summary.run_id[:8]}  {summary.project}/{summary.experiment}  "
        f"started {started}  [{summary.status}]"
    )
    lines.append(f"  duration   {format_duration(summary.duration_s)}   scope {summary.scope}")
    total = summary.energy_j.get("total", 0.0)
    lines.append(f"  energy     {format_energy(total)}  ({total:.1f} J, before PUE)")
    # How each device was measured is shown here; the long provenance text of each device is
    # in `wattprint show --json` and `wattprint doctor`.
    # The share says how much of the device was attributed and on what basis: a measured counter
    # times an estimated share is an estimate.
    for comp in sorted(summary.components, key=lambda c: (c["component"], c["device"])):
        lines.append(
            f"    {comp['component']:<5} {format_energy(comp['energy_j']):>12}  "
            f"{comp['method']:<9} {_share(comp):<15} {comp['device']}"
        )
    lines.append(f"  intensity  {_intensity_line(summary.intensity)}")
    figure = _figure_line(summary.intensity)
    if figure:
        lines.append(f"  figure     {figure}")
    lines += _by_kind_lines(summary.intensity)
    lines.append(f"  location   {_location_line(summary.location)}")
    lines.append(f"  pue        {summary.pue:g}")
    lines.append(f"  emissions  {format_mass(summary.emissions_g)} CO2e")
    for what, source in equivalents(summary.emissions_g):
        lines.append(f"             ~ {what}  [{source}]")
    if summary.spans:
        lines.append("  spans")
        for span in summary.spans:
            count = int(span.get("count", 1))
            name = str(span.get("span_id") or span["name"])
            times = f" x{count}" if count > 1 else ""
            lines.append(
                f"    {name[:28] + times:<32} {format_duration(span['duration_s']):>9}  "
                f"{format_energy(span['energy_j']):>12}  {format_mass(span['emissions_g'])} CO2e"
            )
    for work in summary.work:
        per_j, per_g = work.get("energy_j_per_unit"), work.get("emissions_g_per_unit")
        if per_j is None or per_g is None:
            continue
        lines.append(f"  per unit   {format_energy(per_j)}, {format_mass(per_g)} CO2e per "
                     f"{_singular(str(work['unit']))} ({work['count']:.6g} {work['unit']})")
    if summary.prediction:
        lines.append(f"  predicted  {_prediction_line(summary.prediction)}")
    if summary.exit_code is not None:
        lines.append(f"  exit code  {summary.exit_code}")
    for warning in summary.warnings:
        lines.append(f"  ! {warning}")
    for gap in summary.gaps:
        lines.append(f"  ! gap: {gap}")
    for sink, where in sorted((summary.delivery or {}).items()):
        if where != "delivered":
            lines.append(f"  ! {sink}: not delivered, {where}; `wattprint spool deliver` "
                         "retries")
    if store_path:
        lines.append(f"  stored in  {store_path}  (see `wattprint show {summary.run_id[:8]}`)")
    return "\n".join(lines)
