"""The words of a report, shared by every format: the key figures as (label, value) rows, the
tables' rows, the methodology paragraphs and the citation sentence.

Plain text only; each renderer escapes it for its own format. Amounts for people (kWh, Wh, g,
kg) are chosen here, from the model's SI values.
"""

from __future__ import annotations

from ..report import format_duration, format_energy, format_mass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

__all__ = ["band_rows", "citation", "device_rows", "equivalent_rows", "hardware_text",
           "intensity_rows", "key_figures", "methodology", "rescore_rows", "title", "which"]


def _pct(value: float) -> str:
    return f"{value:.1f}%"


def which(report: Mapping[str, Any]) -> str:
    """"run 3f9c2a1b" (a run id's first 8 characters), or "job slurm-4242" (a job's whole id)."""
    run = report["run"]
    return f"job {run['run_id']}" if run.get("job") and run["job"].get("ranks") else (
        f"run {run['run_id'][:8]}")


def title(report: Mapping[str, Any]) -> str:
    run = report["run"]
    return f"Energy and emissions of {which(report)} ({run['project']}/{run['experiment']})"


def hardware_text(report: Mapping[str, Any]) -> str:
    parts = []
    for row in report["hardware"]:
        count = f"{row['count']} x " if row["count"] > 1 else ""
        parts.append(f"{count}{row['model']} ({row['component'].upper()})")
    return "; ".join(parts) or "no device recorded"


def intensity_text(report: Mapping[str, Any]) -> str:
    i = report["intensity"]
    if not i["counted"]:
        return "no intensity: emissions not counted"
    value = i["value"]["value"] if i["value"] else None
    figure = f"{value:.1f} gCO2e/kWh" if value is not None else "no single figure (kinds mixed)"
    where = f"zone {i['zone']}" if i["zone"] else "no zone"
    labels = ", ".join(str(x) for x in (i["kind"], i["basis"], i["scope"], i["gases"]) if x)
    live = "live" if i["live"] else "bundled"
    year = f", {i['year']}" if i["year"] else ""
    return f"{figure}, {where}, {i['source']}{year} ({labels}; {live})"


def _emissions_text(report: Mapping[str, Any]) -> str:
    ops = report["emissions"]["operational"]["value"]
    return f"{format_mass(ops)} CO2e (±{_pct(report['uncertainty']['emissions_pct'])})"


def key_figures(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    run, energy, unc = report["run"], report["energy"], report["uncertainty"]
    total_j = energy["total"]["value"]
    rows = [
        ("Run", f"{run['run_id']} ({run['project']}/{run['experiment']}), {run['status']}"),
        ("Started", f"{run['started']} ({_ended(run)})"),
        ("Duration", f"{format_duration(run['duration']['value'])} "
                     f"({run['duration']['value']:g} s, {run['records']} "
                     f"record{'' if run['records'] == 1 else 's'})"),
        ("Scope", f"{run['scope']}: {run['scope_meaning']}"),
        ("Hardware", hardware_text(report)),
        ("Energy", f"{format_energy(total_j)} ({total_j:.1f} J, ±{_pct(unc['energy_pct'])}), "
                   "before PUE"),
        ("Location", _location_text(report)),
        ("Grid intensity", intensity_text(report)),
        ("PUE", f"{report['pue']['value']:g} ({report['pue'].get('source') or 'no source'})"),
        ("Operational emissions", _emissions_text(report)),
    ]
    emissions = report["emissions"]
    if emissions["embodied"] is not None:
        rows.append(("Embodied emissions (beside, not added)",
                     f"{format_mass(emissions['embodied']['value'])} CO2e "
                     f"(±{_pct(unc['embodied_pct'] or 0.0)}): the hardware's manufacturing, "
                     "amortised over its lifetime for this run's duration"))
    if emissions["water"] is not None:
        rows.append(("Water (beside)", f"{emissions['water']['value']:.3g} L "
                                       f"({emissions['water'].get('source') or 'no source'})"))
    if emissions["market_based"] is not None:
        rows.append(("Market-based emissions (beside)",
                     f"{format_mass(emissions['market_based']['value'])} CO2e "
                     f"({emissions['market_based'].get('source') or ''})"))
    return rows


def _ended(run: Mapping[str, Any]) -> str:
    if run["status"] in ("running", "interrupted"):
        return f"{run['status']}: records up to {run['ended']}"
    return f"ended {run['ended']}"


def _location_text(report: Mapping[str, Any]) -> str:
    loc = report["location"]
    how = loc["resolved_by"] or "default"
    detail = f": {loc['detail']}" if loc.get("detail") else ""
    cloud = f", {loc['cloud']}" if loc.get("cloud") else ""
    return f"{loc['place']}{cloud} (from {how}{detail})"


def device_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(component, device, method, energy, share of the run's energy, band)."""
    bands = {d["device"]: d for d in report["uncertainty"]["devices"]}
    rows = []
    for d in report["energy"]["devices"]:
        band = bands.get(d["device"], {})
        rows.append((d["component"], d["device"], d["method"], format_energy(d["energy"]["value"]),
                     f"{d['share_of_total']:.1%}", f"±{band.get('band_pct', 0):g}%"))
    return rows


def intensity_rows(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    i = report["intensity"]
    value = i["value"]["value"] if i["value"] else None
    rows = [
        ("Figure", f"{value:.2f} gCO2e/kWh" if value is not None else "none"),
        ("Zone", str(i["zone"] or "-")),
        ("Source", str(i["source"] or "-")),
        ("Year", str(i["year"] or "-")),
        ("Kind", str(i["kind"] or "-")),
        ("Basis / scope / gases", " / ".join(str(i[k] or "-") for k in ("basis", "scope", "gases"))),
        ("Live or bundled", "live (hourly, from a provider)" if i["live"]
         else "bundled (a yearly figure shipped with wattprint)"),
    ]
    if i["conversion"]:
        rows.append(("Made comparable", f"lifecycle-comparable, converted from the source's own: "
                                        f"{i['conversion']}"))
    if i["varied"]:
        rows.append(("Varied", "energy-weighted mean of the intervals' figures"))
    if i["note"]:
        rows.append(("Note", str(i["note"])))
    return rows


def rescore_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(provider, when, emissions, intensity) of each rescore, shown beside the original."""
    return [(str(r["provider"]), str(r["created"]),
             format_mass(r["emissions"]["value"]) + " CO2e" if r["emissions"] else "-",
             f"{r['intensity']['value']:.1f} gCO2e/kWh" if r["intensity"] else "-")
            for r in report["intensity"]["rescores"]]


def equivalent_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(what, factor, source, year)."""
    return [(e["what"], f"{e['factor']['value']:g} {e['factor']['unit']}",
             str(e["factor"].get("source") or ""), str(e["year"]))
            for e in report["equivalents"]]


def band_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(applies to, band, rationale, source, year) of each bundled band the report used."""
    return [(b["applies_to"], f"±{b['band_pct']:g}%", b["rationale"], b["source"],
             str(b["year"])) for b in report["uncertainty"]["bands"]]


def methodology(report: Mapping[str, Any]) -> list[str]:
    run, unc = report["run"], report["uncertainty"]
    methods = sorted({d["method"] for d in report["energy"]["devices"]})
    meanings = "; ".join(f"{m}: {report_meaning(report, m)}" for m in methods)
    paragraphs = [
        f"Energy was recorded by wattprint {run['measured_with'] or '(version not stored)'} "
        f"every {run['interval']['value']:g} s for {run['scope']} scope "
        f"({run['scope_meaning']}). Each device's energy carries how it was obtained: "
        f"{meanings or 'no device recorded'}.",
        "Operational emissions are energy x PUE x grid carbon intensity, computed record by "
        "record and summed (location-based). The intensity's zone, source, year, basis, scope "
        "and gases are stated above; a bundled figure is a yearly average, a live one an hourly "
        "figure from a provider. A rescore with a provider's hourly history is shown beside the "
        "original figure, never in its place.",
    ]
    if report["emissions"]["embodied"] is not None:
        paragraphs.append(
            "Embodied emissions (the hardware's manufacturing, amortised linearly over its "
            "lifetime for the run's duration) are reported beside the operational figure and "
            "are not added to it.")
    pue_note = (" The PUE is the default 1.0 (no data-centre overhead counted): for a machine "
                "in a data centre the true figure is higher, an understatement not inside the "
                "band." if unc["pue_one_sided"] else "")
    paragraphs.append(
        "Uncertainty: each figure's band is a stated assumption from wattprint's bundled table "
        "(one row per method, intensity kind and PUE, each with its rationale and source), not "
        "a measurement of this machine. The bands are combined in quadrature, assuming "
        "independent errors: the energy band is sqrt(sum((E_i x p_i)^2)) over the devices "
        f"(here ±{_pct(unc['energy_pct'])}); the emissions band is "
        "sqrt(r_energy^2 + r_intensity^2 + r_PUE^2) "
        f"(here ±{_pct(unc['emissions_pct'])}: "
        f"{format_mass(unc['emissions_low_g'])} to {format_mass(unc['emissions_high_g'])} CO2e)."
        + pue_note)
    return paragraphs


def report_meaning(report: Mapping[str, Any], method: str) -> str:
    for d in report["energy"]["devices"]:
        if d["method"] == method:
            return str(d["method_meaning"])
    return ""


def citation(report: Mapping[str, Any]) -> str:
    run, unc, energy = report["run"], report["uncertainty"], report["energy"]
    i = report["intensity"]
    ops = report["emissions"]["operational"]["value"]
    total_j = energy["total"]["value"]
    where = f"{i['zone']} grid, {i['source']}" if i["zone"] else str(i["source"])
    if i["counted"] and i["value"]:
        grid = (f"at {i['value']['value']:.0f} gCO2e/kWh ({where}"
                f"{', ' + str(i['year']) if i['year'] else ''}, "
                f"{i['scope'] or 'scope not stated'}, {'live' if i['live'] else 'yearly average'})")
    else:
        grid = "(no grid intensity was available, so no emissions were counted)"
    sentence = (
        f"The computation ran for {format_duration(run['duration']['value'])} on "
        f"{hardware_text(report)} and used {format_energy(total_j)} of electricity "
        f"(±{_pct(unc['energy_pct'])}), emitting an estimated {format_mass(ops)} CO2e "
        f"(±{_pct(unc['emissions_pct'])}) {grid} with a PUE of {report['pue']['value']:g}")
    embodied = report["emissions"]["embodied"]
    if embodied is not None:
        sentence += (f"; the hardware's embodied emissions for this time, reported separately, "
                     f"were about {format_mass(embodied['value'])} CO2e")
    version = run["measured_with"] or report["reproduce"]["wattprint_version"]
    return sentence + f". Measured with wattprint {version} ({which(report)})."
