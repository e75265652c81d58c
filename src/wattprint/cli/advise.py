"""``advise``: what a stored run (or an amount of energy) would have emitted elsewhere, and what
the run wasted.

Each section is one function that turns the parsed arguments into a JSON-able dict
(``_where_section``, ``_waste_section``) and one that prints it for people; ``cmd_advise``
collects the sections that apply, so a new section (``--when``) is one more pair. ``--json``
prints one object with a key per section.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from .common import print_json, reading_settings
from .options import add_json, positive, run_id_text

if TYPE_CHECKING:
    from ..records import RunSummary

CLOUD_CHOICES = "aws, gcp, azure, oci, ovhcloud, scaleway or any"


def add_advise(sub: Any) -> None:
    advise = sub.add_parser(
        "advise", help="where a run would have emitted less, and what it wasted",
        description="Rank cloud regions by what RUN_ID's energy (or --energy-kwh of it) would "
                    "emit there: IT energy x the region's PUE x its lifecycle-comparable carbon "
                    "intensity, cleanest first, with the saving against where the run ran (or "
                    "the --near region). For a stored run, also what it wasted: idle "
                    "accelerators, a GPU waiting on the CPU, machine energy other processes "
                    "used.")
    advise.add_argument("run_id", nargs="?", type=run_id_text, default=None,
                        help="run id or a unique prefix of it (see `wattprint runs`)")
    advise.add_argument("--energy-kwh", type=positive(float, "kWh"), default=None, metavar="X",
                        help="rank regions for this much IT energy instead of a stored run's")
    advise.add_argument("--cloud", default="any", metavar="NAME",
                        help=f"only this provider's regions: {CLOUD_CHOICES} (default: any)")
    advise.add_argument("--near", default=None, metavar="REGION",
                        help="only regions on the same continent as REGION (aws/eu-west-1, or "
                             "a region id of --cloud), and savings against it")
    advise.add_argument("--within-km", type=positive(float, "km"), default=None, metavar="KM",
                        help="with --near: regions within this great-circle distance of it "
                             "instead of its continent")
    advise.add_argument("--top", type=positive(int, "regions"), default=None, metavar="N",
                        help="print only the N cleanest regions (text; --json has all)")
    from .advise_when import add_when_flags

    add_when_flags(advise)
    add_json(advise, "print one JSON object (where, and waste for a stored run)")
    advise.set_defaults(handler=cmd_advise)


def _check(args: argparse.Namespace) -> None:
    from .common import UsageError

    if args.run_id is None and args.energy_kwh is None:
        raise UsageError("give a RUN_ID (see `wattprint runs`) or --energy-kwh X")
    if args.run_id is not None and args.energy_kwh is not None:
        raise UsageError("give a RUN_ID or --energy-kwh, not both (the run's energy is its own)")
    if args.within_km is not None and args.near is None:
        raise UsageError("--within-km needs --near REGION (the place to measure from)")


def _cloud(args: argparse.Namespace) -> str | None:
    from ..errors import LocationError
    from ..intensity.tables import normalize_cloud

    if args.cloud.strip().lower() in ("any", "all", ""):
        return None
    try:
        return normalize_cloud(args.cloud)
    except LocationError as exc:
        raise LocationError(f"{exc} Or `--cloud any`.") from None


def _load_run(run_id: str) -> tuple[RunSummary, list[Any], list[Any]]:
    """The run's summary, info devices and records (the store closed again)."""
    from .stored import _open_repository

    repo = _open_repository(reading_settings())
    try:
        full_id = repo.resolve_id(run_id)
        summary = repo.summary(full_id)
        info = repo.info(full_id)
        records: list[Any] = []
        since = None
        while True:
            page = repo.records(full_id, since_seq=since, limit=5000)
            records += page
            if len(page) < 5000:
                break
            since = page[-1].seq
    finally:
        repo.close()
    return summary, [info], records


def cmd_advise(args: argparse.Namespace) -> int:
    from .advise_when import check_when_flags, run_when

    _check(args)
    check_when_flags(args)
    if args.when:  # the "when" question alone: it needs a provider's history (network)
        return run_when(args)
    cloud = _cloud(args)
    summary = None
    data: dict[str, Any] = {"run_id": None}
    if args.run_id is not None:
        summary, infos, records = _load_run(args.run_id)
        data["run_id"] = summary.run_id
    data["where"] = _where_section(args, cloud, summary)
    if summary is not None:
        data["waste"] = _waste_section(summary, infos[0], records)
    if args.json:
        print_json(data)
        return 0
    _print_where(data["where"], args.top)
    if data.get("waste") is not None:
        print()
        _print_waste(data["waste"])
    return 0


# -- where -----------------------------------------------------------------------------------
def _where_section(args: argparse.Namespace, cloud: str | None,
                   summary: RunSummary | None) -> dict[str, Any]:
    from ..advice.where import where_advice

    energy_j = args.energy_kwh * 3_600_000.0 if args.energy_kwh is not None else None
    advice = where_advice(energy_j, run=summary, cloud=cloud, near=args.near,
                          within_km=args.within_km)
    return advice.to_dict()


def _signed_mass(grams: float) -> str:
    from ..report import format_mass

    return ("-" if grams < 0 else "") + format_mass(abs(grams))


def _print_where(where: dict[str, Any], top: int | None) -> None:
    from ..report import format_energy, format_mass

    rows = where["regions"]
    print(f"Where could it have run? {format_energy(where['energy_j'])} of IT energy re-priced "
          f"in {len(rows)} region{'s' if len(rows) != 1 else ''}, cleanest first.")
    print(f"Basis: {where['basis']}; emissions = energy x PUE x that figure.")
    ref = where["reference"]
    if ref is not None:
        whose = "where the run ran" if ref["kind"] == "run" else "the --near region"
        print(f"Savings against {ref['label']} ({whose}): {format_mass(ref['emissions_g'])} CO2e "
              f"at {ref['comparable_g_per_kwh']:.1f} gCO2e/kWh x PUE {ref['pue']['pue']:g} "
              f"({ref['figure_from']}, {ref['year']}).")
        if ref["recorded_basis_differs"]:
            print(f"  note: {ref['recorded_basis_differs']} (recorded: "
                  f"{format_mass(ref['recorded_g'])} CO2e).")
    if not rows:
        print("no regions match")
    else:
        print(f"{'rank':>4} {'cloud':<8} {'region':<22} {'g/kWh':>6} {'PUE':>5} {'CO2e':>10} "
              f"{'saving':>11} {'%':>5} {'CFE':>4} {'year':<4} {'source':<31} name")
    shown = rows if top is None else rows[:top]
    for rank, r in enumerate(shown, 1):
        saving = _signed_mass(r["saving_g"]) if r["saving_g"] is not None else "-"
        pct = f"{r['saving_pct']:.0f}" if r["saving_pct"] is not None else "-"
        cfe = f"{100 * r['cfe_share']:.0f}%" if r["cfe_share"] is not None else "-"
        pue = f"{r['pue']['pue']:g}" + ("*" if r["pue"]["level"] in ("run", "default") else "")
        source = r["source"].split(",")[0].split(" via ")[0][:31]
        marks = " (stale)" if r["stale"] else ""
        print(f"{rank:>4} {r['cloud']:<8} {r['region']:<22} {r['comparable_g_per_kwh']:>6.0f} "
              f"{pue:>5} {format_mass(r['emissions_g']):>10} {saving:>11} {pct:>5} {cfe:>4} "
              f"{r['year']:<4} {source:<31} {r['name']}{marks}")
    if len(shown) < len(rows):
        print(f"... {len(rows) - len(shown)} more (without --top, or --json)")
    print("CFE: Google's carbon-free energy share for its region (GCP only). PUE: the region's "
          "or its provider's published figure; * the stand-in named below.")
    for note in where["notes"]:
        print(f"note: {note}")
    print("Caveats: " + "; ".join(where["caveats"]) + ".")


# -- waste -----------------------------------------------------------------------------------
_TITLES = {"idle_accelerator": "accelerator allocated but idle",
           "gpu_waiting_on_cpu": "GPU waiting on the CPU",
           "other_processes": "machine energy other processes used"}


def _waste_section(summary: RunSummary, info: Any, records: list[Any]) -> dict[str, Any]:
    from ..advice.waste import waste_report

    return waste_report(info, records).to_dict()


def _print_waste(waste: dict[str, Any]) -> None:
    from ..report import format_duration, format_energy, format_mass

    findings = waste["findings"]
    print(f"What was wasted ({format_duration(waste['duration_s'])}, "
          f"{format_energy(waste['energy_j'])} of IT energy):")
    if not findings:
        print("  nothing found")
    for f in findings:
        device_share = (f", {100 * f['share_of_device_energy']:.0f}% of its energy"
                        if f["share_of_device_energy"] is not None else "")
        print(f"  {_TITLES.get(f['kind'], f['kind'])}: {f['device']}, "
              f"{format_duration(f['seconds'])} ({100 * f['share_of_time']:.0f}% of the run), "
              f"{format_energy(f['energy_j'])}{device_share} (inferred from {f['inferred_from']})")
        print(f"    change: {f['change']}")
        print(f"    saving: {format_energy(f['saving_j'])} of IT energy, "
              f"{format_mass(f['saving_g'])} CO2e")
        print(f"    based on: {f['based_on']}")
    if findings:
        print(f"  total saving at most {format_energy(waste['saving_j'])}, "
              f"{format_mass(waste['saving_g'])} CO2e: {waste['saving_note']}")
    for note in waste["notes"]:
        print(f"  note: {note}")
