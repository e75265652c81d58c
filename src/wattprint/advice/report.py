"""A paper-ready statement of one stored run (``wattprint report``): the model and its formats.

:func:`build_report` reads one run through the read API (run info, summary, records, rescores)
and returns a plain dict, the ``json`` format itself: every number with its unit and where it
came from. :func:`render` lays that dict out as GitHub Markdown, one self-contained HTML file or
a LaTeX document (or a LaTeX table to paste); the renderers compute nothing of their own, so the
four formats always state the same figures.

What a report states and why:

- hardware from the run's devices, energy per device with its method and what that method
  means (measured counter, sampled power, modelled estimate);
- the intensity with zone, source, basis, scope, gases, year, live or bundled, and any rescore
  beside it (never in its place); PUE with its source;
- operational emissions, with embodied emissions and water beside them, never added;
- equivalents from the bundled table, each with its factor, source and year;
- an uncertainty band per figure from the bundled bands (:mod:`.report_uncertainty`);
- a citation sentence and the exact command, version, store and run id that reproduce it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from operator import itemgetter

from ..records import J_PER_KWH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

    from ..records import RunSummary
    from ..store.repository import Repository

__all__ = ["FORMATS", "REPORT_VERSION", "build_report", "render"]

FORMATS = ("md", "html", "latex", "json")
REPORT_VERSION = 1
# The chart series keeps at most this many points (bucket averages): a week of 5 s records
# would otherwise make a report of megabytes.
MAX_SERIES_POINTS = 480
COMPONENT_ORDER = ("gpu", "cpu", "ram", "soc", "system", "other")

# What each method means, in a sentence a reader of a paper can follow.
METHOD_MEANING = {
    "measured": "read from the device's own hardware energy counter (e.g. RAPL, NVML total "
                "energy): energy the hardware accumulated itself",
    "sampled": "instantaneous power read at each sample and integrated over time: what happens "
               "between samples is not seen",
    "modelled": "estimated from a power model (TDP, utilisation or memory size), not measured "
                "on this machine",
}
SCOPE_MEANING = {
    "machine": "the whole machine's devices, including other processes running at the time",
    "process": "the traced process tree's share of each device",
}


def _q(value: float | None, unit: str, source: str | None = None) -> dict[str, Any] | None:
    """A number with its unit (and where it came from)."""
    if value is None:
        return None
    out: dict[str, Any] = {"value": value, "unit": unit}
    if source:
        out["source"] = source
    return out


def _utc(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _hardware(devices: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per component and model: "2 x NVIDIA A100", the CPU model, the RAM size."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for device in devices:
        attributes = dict(device.get("attributes") or {})
        component = str(device.get("component", "other"))
        # the model name where the sensor recorded one (NVML "name", the CPU model's
        # "model_name"), else the first clause of the sensor's description ("RAPL package-0
        # (intel-rapl:0)"): a RAPL counter does not record the CPU's model
        model = str(attributes.get("name") or attributes.get("model_name") or "")
        if component == "ram" and attributes.get("size_bytes"):
            model = f"{int(attributes['size_bytes']) / 2**30:.3g} GiB"
        if not model:
            model = str(device.get("detail") or device.get("device") or "").split(", ")[0][:80]
        key = (component, model)
        row = groups.setdefault(key, {"component": component, "model": key[1], "count": 0,
                                      "devices": [], "methods": []})
        row["count"] += 1
        row["devices"].append(device.get("device"))
        if device.get("method") not in row["methods"]:
            row["methods"].append(device.get("method"))
    return sorted(groups.values(), key=lambda r: (_order(r["component"]), r["model"]))


def _order(component: str) -> int:
    return COMPONENT_ORDER.index(component) if component in COMPONENT_ORDER else len(
        COMPONENT_ORDER)


def _energy(summary: RunSummary) -> dict[str, Any]:
    total_j = float(summary.energy_j.get("total", 0.0))
    devices = []
    for comp in sorted(summary.components,
                       key=lambda c: (_order(str(c["component"])), str(c["device"]))):
        energy_j = float(comp["energy_j"])
        devices.append({
            "component": comp["component"], "device": comp["device"], "method": comp["method"],
            "method_meaning": METHOD_MEANING.get(str(comp["method"]), "unknown method"),
            "energy": _q(energy_j, "J"), "share_of_total": energy_j / total_j if total_j else 0.0,
            "attributed_share": comp.get("share"), "share_basis": comp.get("share_basis"),
        })
    return {"total": _q(total_j, "J"), "total_kwh": _q(total_j / J_PER_KWH, "kWh"),
            "by_component": {k: _q(float(v), "J") for k, v in sorted(summary.energy_j.items())
                             if k != "total" and v},
            "devices": devices,
            "before_pue": True}


def _intensity(summary: RunSummary, rescores: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    from ..intensity.figures import split_source

    raw = dict(summary.intensity or {})
    source, conversion = split_source(str(raw.get("source") or ""))
    out = {
        "value": _q(raw.get("g_per_kwh"), "gCO2e/kWh"),
        "zone": raw.get("zone"), "source": source or None, "conversion": conversion,
        "basis": raw.get("basis"), "scope": raw.get("scope"), "gases": raw.get("gases"),
        "year": raw.get("year"), "kind": raw.get("kind"),
        "live": bool(raw.get("live")), "varied": bool(raw.get("varied")),
        "note": raw.get("note"),
        "counted": raw.get("kind") is not None,
        "rescores": [{"provider": r.get("provider"), "created": _utc(r.get("created_s")),
                      "emissions": _q(r.get("emissions_g"), "gCO2e"),
                      "intensity": _q(r.get("intensity_g_per_kwh"), "gCO2e/kWh"),
                      "kind": r.get("kind")} for r in rescores],
    }
    return out


def _location(summary: RunSummary) -> dict[str, Any]:
    loc = dict(summary.location or {})
    where = loc.get("country") or "WORLD"
    if loc.get("subdivision"):
        where += f"-{loc['subdivision']}"
    cloud = " ".join(str(loc[k]) for k in ("cloud", "cloud_region") if loc.get(k))
    return {"place": where, "cloud": cloud or None, "resolved_by": loc.get("resolved_by"),
            "detail": loc.get("detail")}


def _status_warnings(summary: RunSummary) -> list[str]:
    """A report of a run that has not finished says so first: its figures are partial."""
    upto = _utc(summary.started_s + summary.duration_s)
    if summary.status == "running":
        return [f"the run is still running: these figures cover its records up to {upto}; "
                "report it again once it has finished"]
    if summary.status == "interrupted":
        return [f"the run was interrupted (its tracker stopped without finishing): these "
                f"figures cover its records up to {upto}"]
    return []


def _embodied(summary: RunSummary) -> dict[str, Any] | None:
    """Embodied emissions beside the operational figure, never added to it."""
    if summary.embodied_g is None:
        return None
    source = (summary.embodied or {}).get("source")
    return {"value": summary.embodied_g, "unit": "gCO2e", "source": source,
            "added_to_operational": False}


def _series(rows: Sequence[tuple[float, float, float, float, float, float]]
            ) -> list[dict[str, Any]]:
    """Mean power per component over the run from (start_s, duration_s, cpu_j, gpu_j, ram_j,
    other_j) rows in time order, at most MAX_SERIES_POINTS points."""
    if not rows:
        return []
    size = max(1, -(-len(rows) // MAX_SERIES_POINTS))
    t0 = rows[0][0]
    out = []
    for i in range(0, len(rows), size):
        _start_s, duration_s, cpu_j, gpu_j, ram_j, other_j = (
            sum(column) for column in zip(*rows[i:i + size], strict=True))
        if duration_s <= 0:
            continue
        out.append({"t_s": rows[i][0] - t0, "duration_s": duration_s,
                    "cpu_w": cpu_j / duration_s, "gpu_w": gpu_j / duration_s,
                    "ram_w": ram_j / duration_s, "other_w": other_j / duration_s})
    return out


_CHART_COLUMNS = ("start_s", "duration_s", "cpu_energy_j", "gpu_energy_j", "ram_energy_j",
                  "other_energy_j")


def _energy_rows(repo: Repository, run_id: str
                 ) -> list[tuple[float, float, float, float, float, float]]:
    """(start_s, duration_s, cpu_j, gpu_j, ram_j, other_j) over the run, in time order: one
    row per record, or for a long run in a local store one per time bucket summed by SQLite
    (at most about MAX_SERIES_POINTS rows read); any other repository through the read API's
    records."""
    bounds = getattr(repo, "record_bounds", None)
    buckets = getattr(repo, "record_buckets", None)
    figures = getattr(repo, "record_figures", None)
    if bounds is not None and buckets is not None:
        count, first_s, end_s = bounds(run_id)
        if count > MAX_SERIES_POINTS and first_s is not None and end_s is not None:
            from ..store.buckets import BUCKET_COLUMNS

            width_s = max((end_s - first_s) / MAX_SERIES_POINTS, 1e-3)
            pick = itemgetter(*(BUCKET_COLUMNS.index(c) for c in _CHART_COLUMNS))
            return [pick(row) for row in buckets(run_id, origin_s=first_s, width_s=width_s)]
    if figures is not None:
        from ..store.repository import FIGURE_COLUMNS

        # the columns are NOT NULL REALs: picked as they are (a tuple per record, no copy)
        pick = itemgetter(*(FIGURE_COLUMNS.index(c) for c in _CHART_COLUMNS))
        return [pick(row) for row in figures(run_id)]
    return [(r.start_s, r.duration_s, r.cpu_energy_j, r.gpu_energy_j, r.ram_energy_j,
             r.other_energy_j) for r in repo.records(run_id, limit=None)]


def _equivalents(emissions_g: float, keys: Sequence[str] | None) -> list[dict[str, Any]]:
    from ..report import equivalent_rows

    return [{"key": r["key"], "what": r["what"], "amount": _q(r["amount"], r["unit"] or "count"),
             "factor": _q(r["factor"], r["factor_unit"], r["source"]), "year": r["year"],
             "description": r["description"]}
            for r in equivalent_rows(emissions_g, keys)]


def build_report(repo: Repository, run_id: str, *, store: str, version: str, fmt: str = "md",
                 equivalents: Sequence[str] | None = None, job: bool = False) -> dict[str, Any]:
    """The report of one run (``run_id`` or a unique prefix), as a JSON-ready dict.

    ``store`` and ``version`` go into the reproduction line (tests pin them); ``fmt`` is the
    format the command reproduces; ``equivalents`` picks the table's rows (default: the two a
    summary shows); ``job``: ``run_id`` is a distributed job's id, reported as the sum of its
    ranks (:mod:`.report_job`). Raises :class:`~wattprint.errors.StoreError` for an unknown
    run or job.
    """
    from . import report_uncertainty

    devices: Sequence[Mapping[str, Any]]
    if job:
        from .report_job import job_parts, series_by_time

        full_id = run_id
        info, summary, devices, rows = job_parts(repo, run_id, energy_rows=_energy_rows)
        series = series_by_time(rows, MAX_SERIES_POINTS)
        rescores: list[dict[str, Any]] = []
    else:
        full_id = repo.resolve_id(run_id)
        info, summary = repo.info(full_id), repo.summary(full_id)
        devices = info.devices
        series = _series(_energy_rows(repo, full_id))
        rescores = repo.rescores(full_id)
    energy = _energy(summary)
    intensity = _intensity(summary, rescores)
    pue_default = summary.pue_source.startswith("default")
    uncertainty = report_uncertainty.combine(
        components=summary.components, total_energy_j=energy["total"]["value"],
        intensity=summary.intensity or {}, pue_default=pue_default,
        emissions_g=summary.emissions_g, embodied_g=summary.embodied_g)
    command = f"wattprint report {full_id}{' --job' if job else ''} --format {fmt}"
    if equivalents is not None:
        command += f" --equivalents {','.join(equivalents)}"
    report: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "run": {
            "run_id": full_id, "project": summary.project, "experiment": summary.experiment,
            "status": summary.status, "exit_code": summary.exit_code,
            "started": _utc(summary.started_s),
            "ended": _utc(summary.started_s + summary.duration_s),
            "duration": _q(summary.duration_s, "s"), "records": summary.records,
            "scope": summary.scope, "scope_meaning": SCOPE_MEANING.get(summary.scope, ""),
            "interval": _q(info.interval_s, "s"), "tags": dict(info.tags or {}),
            "measured_with": info.wattprint_version or None,
            "job": dict(summary.job) if summary.job else None,
        },
        "hardware": _hardware(devices),
        "energy": energy,
        "location": _location(summary),
        "intensity": intensity,
        "pue": _q(summary.pue, "1", summary.pue_source or None),
        "emissions": {
            "operational": _q(summary.emissions_g, "gCO2e",
                              "energy x PUE x intensity, record by record (location-based)"),
            "embodied": _embodied(summary),
            "water": (None if summary.water_l is None else
                      _q(summary.water_l, "L", (summary.water or {}).get("source"))),
            "market_based": (None if not summary.market_based else
                             _q(summary.market_based.get("emissions_g"), "gCO2e",
                                summary.market_based.get("note"))),
        },
        "equivalents": _equivalents(summary.emissions_g, equivalents),
        "uncertainty": uncertainty,
        "warnings": [*_status_warnings(summary), *summary.warnings,
                     *(f"gap: {g}" for g in summary.gaps)],
        "series": series,
        "reproduce": {"command": command, "wattprint_version": version, "store": store,
                      "run_id": full_id},
    }
    from .report_text import citation, methodology

    report["methodology"] = methodology(report)
    report["citation"] = citation(report)
    return report


def render(report: Mapping[str, Any], fmt: str, *, fragment: bool = False) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`); ``fragment``: LaTeX table only."""
    if fmt == "json":
        import json

        return json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if fmt == "md":
        from .report_md import render_md

        return render_md(report)
    if fmt == "html":
        from .report_html import render_html

        return render_html(report)
    if fmt == "latex":
        from .report_latex import render_latex

        return render_latex(report, fragment=fragment)
    raise ValueError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
