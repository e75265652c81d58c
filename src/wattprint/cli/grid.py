"""``intensity`` and ``regions``: what the grid looks like from here, before any run.

``intensity`` answers with the source a run would use, built the way the tracker builds it: the
configured live provider (``provider`` setting, ``--provider``) polled off the caller's thread,
or the bundled tables. When a live provider has no value, the bundled value is shown labelled
as its fallback, as a run would record it; a marginal provider (WattTime) has no such fallback
(an average cannot stand in for a marginal figure), so the command says so and exits 1.

Bundled figures come in two values (see :mod:`wattprint.intensity.figures`): the source's own
and the lifecycle-comparable one. ``intensity`` shows both, with the one a run uses (the
``intensity_figure`` setting); ``regions`` ranks by the comparable one, cleanest first, and
says so. A GCP region's figure is Google's own per-region value where Google publishes one.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import IntensityUnavailable
from .common import EXIT_FAILURE, print_json, reading_settings, say, strict_settings
from .options import LOCATION, add_json, add_settings, positive, setting_help, setting_overrides

_LIVE_WAIT_S = 10.0


def add_intensity(sub: Any) -> None:
    intensity = sub.add_parser(
        "intensity", help="the carbon intensity a run would use now, and why",
        description="The carbon intensity a run started now would use, from the configured "
                    "source (a live provider or the bundled tables), and how the location was "
                    "found. A live provider's fallback to the bundled tables is labelled.")
    add_settings(intensity, LOCATION)
    intensity.add_argument("--provider", default=None, metavar="NAME",
                           help=setting_help("provider"))
    intensity.add_argument("--intensity-figure", default=None, metavar="FIGURE",
                           help=setting_help("intensity_figure"))
    intensity.add_argument("--wait", type=positive(float, "seconds"), default=_LIVE_WAIT_S,
                           metavar="S",
                           help="longest wait for a live provider's first answer before its "
                                f"fallback is shown (default: {_LIVE_WAIT_S:g})")
    add_json(intensity, "print one JSON object")
    intensity.set_defaults(handler=cmd_intensity)


def add_regions(sub: Any) -> None:
    regions = sub.add_parser(
        "regions", help="cloud regions ranked by carbon intensity, cleanest first",
        description="Cloud regions ranked by their lifecycle-comparable carbon intensity "
                    "(gCO2e/kWh, one basis for every source), cleanest first, with the figure a "
                    "run there would use, its basis, year and source. A GCP region uses Google's "
                    "own per-region figure; other regions their grid zone's. Stale and doubtful "
                    "figures are marked. A filter that matches nothing gives an empty list (`[]` "
                    "with --json), exit 0.")
    regions.add_argument("--cloud", default=None, metavar="NAME",
                         help="only this provider's regions: aws, gcp, azure, oci, ovhcloud or "
                              "scaleway (default: all)")
    regions.add_argument("--country", default=None, metavar="CODE",
                         help="only regions in this country, a code or name (default: all)")
    regions.add_argument("--continent", default=None, metavar="NAME",
                         help="only regions on this continent (UN M49): africa, asia, europe, "
                              "north-america, oceania or south-america (default: all)")
    regions.add_argument("--intensity-figure", default=None, metavar="FIGURE",
                         help=setting_help("intensity_figure"))
    add_json(regions, "print a JSON array, ranked (each row says what it is ranked by)")
    regions.set_defaults(handler=cmd_regions)


def _lookup(config: Any, location: Any, wait_s: float) -> Any:
    """The value a run started now would get, from the source the tracker would build."""
    from datetime import datetime, timezone

    from ..tracker import _intensity_source, _make_provider

    provider = _make_provider(config)  # None: the bundled tables
    source: Any = _intensity_source(provider, config, location)  # LiveSource when live
    try:
        if provider is not None:
            source.wait_ready(wait_s)  # the tracker waits 1 s; a person asking can wait more
        now = datetime.now(timezone.utc)
        return source.lookup(location, now, now)
    finally:
        if provider is not None:
            source.close()


def cmd_intensity(args: argparse.Namespace) -> int:
    from ..host import HostPaths
    from ..intensity.locate import DEFAULT_WARNING, locate

    overrides = setting_overrides(args)
    for key in ("provider", "intensity_figure"):
        if getattr(args, key):
            overrides[key] = getattr(args, key)
    config = strict_settings(overrides)
    location = locate(config, HostPaths())
    live = config.provider != "bundled"
    try:
        found = _lookup(config, location, args.wait)
    except IntensityUnavailable as exc:
        say(f"intensity: {exc}; a run would record these intervals as gaps (no emissions) "
            "until the provider answers")
        return EXIT_FAILURE
    fallback = live and not found.live
    figure = None if found.live else _bundled_figure(config, location)
    data = {"g_per_kwh": found.g_per_kwh, "zone": found.zone, "source": found.source,
            "year": found.year, "kind": found.kind, "live": found.live, "basis": found.basis,
            "scope": found.scope, "gases": found.gases, "note": found.note,
            "provider": config.provider, "fallback": fallback,
            "intensity_figure": config.intensity_figure, **_figure_fields(figure),
            "location": location.to_dict()}
    if args.json:
        print_json(data)
        return 0
    where = location.zone or location.country or "WORLD"
    label = figure.label if figure is not None else found.zone
    print(f"{found.g_per_kwh:.1f} gCO2e/kWh for {label} ({found.kind}, {found.scope}, "
          f"{found.gases}, {found.basis} basis)")
    origin = "live" if found.live else ("bundled fallback" if fallback else "bundled")
    source = figure.source if figure is not None else found.source
    print(f"  source    {source}, {found.year} ({origin})")
    if figure is not None:
        _print_figure(figure, config)
    if live:
        print(f"  provider  {config.provider} (from {config.source_of('provider')})")
    print(f"  location  {where}, resolved by {location.resolved_by}"
          f"{f' ({location.detail})' if location.detail else ''}")
    if location.cloud:
        print(f"  cloud     {location.cloud} {location.cloud_region}")
    note = found.note or ""
    for problem in figure.problems() if figure is not None else ():
        note = note.replace(problem, "")  # said on their own lines
    note = "; ".join(part for part in note.split("; ") if part.strip())
    if note:
        print(f"  note      {note}")
    if location.is_default:
        print(f"  WARNING   {DEFAULT_WARNING}")
    return 0


def _print_figure(figure: Any, config: Any) -> None:
    used = "lifecycle-comparable" if config.intensity_figure == "lifecycle" else "published"
    print(f"  figure    the {used} one, as a run records it (intensity_figure = "
          f"{config.intensity_figure}, from {config.source_of('intensity_figure')})")
    print(f"  published {figure.g_per_kwh:.1f} gCO2e/kWh, {figure.scope}, {figure.gases}, "
          f"{figure.basis} basis ({'Google' if figure.region else 'zone'} figure)")
    print(f"  compare   {figure.comparable_g_per_kwh:.1f} gCO2e/kWh lifecycle-comparable: "
          f"{figure.comparable_method}")
    if figure.stale:
        print(f"  STALE     the {figure.year} figure is more than {_stale_years()} years older "
              "than the newest bundled figures: treat it with care")
    if figure.flag:
        print(f"  DOUBTFUL  {figure.flag}")


def _bundled_figure(config: Any, location: Any) -> Any:
    """The bundled row behind a bundled answer (or a live provider's bundled fallback)."""
    from ..intensity.bundled import BundledSource

    figure, _ = BundledSource(figure=config.intensity_figure).figure_for(location)
    return figure


def _figure_fields(figure: Any) -> dict[str, Any]:
    """What a bundled figure adds to the intensity JSON; nulls for a live value."""
    if figure is None:
        return {"figure_from": None, "published": None, "comparable_g_per_kwh": None,
                "comparable_method": None, "stale": None, "flag": None}
    return {"figure_from": figure.region or f"zone {figure.zone}",
            "published": {"g_per_kwh": figure.g_per_kwh, "basis": figure.basis,
                          "scope": figure.scope, "gases": figure.gases},
            "comparable_g_per_kwh": figure.comparable_g_per_kwh,
            "comparable_method": figure.comparable_method, "stale": figure.stale,
            "flag": figure.flag or None}


RANKED_BY = "comparable_g_per_kwh (lifecycle CO2e, one basis for every source), cleanest first"


def cmd_regions(args: argparse.Namespace) -> int:
    from ..intensity.continents import continent_of, normalize_continent
    from ..intensity.figures import ranked_regions
    from ..intensity.tables import normalize_cloud, normalize_country

    cloud = normalize_cloud(args.cloud) if args.cloud else None
    country = normalize_country(args.country) if args.country else None
    continents = normalize_continent(args.continent) if args.continent else None
    overrides = {"intensity_figure": args.intensity_figure} if args.intensity_figure else {}
    figure_setting = reading_settings(overrides).intensity_figure
    rows: list[dict[str, Any]] = []
    for region, figure, note in ranked_regions(cloud):
        continent = continent_of(region.country)
        if country is not None and region.country != country:
            continue
        if continents is not None and continent not in continents:
            continue
        used = figure.intensity(figure_setting, note)
        rows.append({
            "rank": len(rows) + 1, "ranked_by": RANKED_BY,
            "cloud": region.cloud, "region": region.region, "name": region.name,
            "country": region.country, "subdivision": region.subdivision or None,
            "continent": continent, "zone": region.zone,
            "figure_from": figure.region or f"zone {figure.zone}",
            "g_per_kwh": used.g_per_kwh, "intensity_figure": figure_setting,
            "basis": used.basis, "scope": used.scope, "gases": used.gases,
            "comparable_g_per_kwh": figure.comparable_g_per_kwh,
            "comparable_method": figure.comparable_method,
            "published": {"g_per_kwh": figure.g_per_kwh, "basis": figure.basis,
                          "scope": figure.scope, "gases": figure.gases},
            "year": figure.year, "source": figure.source, "licence": figure.licence,
            "stale": figure.stale, "flag": figure.flag or None, "note": used.note,
        })
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no regions match")
        return 0
    _print_regions(rows, figure_setting)
    return 0


def _print_regions(rows: list[dict[str, Any]], figure_setting: str) -> None:
    native = figure_setting == "native"
    print("Ranked by the lifecycle-comparable gCO2e/kWh (`compare`: one basis for every "
          "source), cleanest first.")
    print("`published` is the source's own figure and scope; `from` is whose figure it is "
          "(Google: Google's own for that GCP region; else the grid zone's). A run there uses "
          + ("the published figure (intensity_figure = native: column `run`)." if native else
             "the `compare` figure (intensity_figure = lifecycle)."))
    run = f" {'run':>5}" if native else ""
    print(f"{'rank':>4} {'cloud':<8} {'region':<23} {'compare':>7}{run} {'published':<22} "
          f"{'year':<4} {'check':<6} {'from':<7} {'source':<31} name")
    for r in rows:
        pub = r["published"]
        marks = ",".join(m for m, on in (("stale", r["stale"]), ("?", r["flag"])) if on)
        origin = "Google" if r["figure_from"].startswith("gcp ") else r["zone"]
        source = r["source"].split(",")[0].split(" via ")[0][:31]
        used = f" {r['g_per_kwh']:>5.0f}" if native else ""
        print(f"{r['rank']:>4} {r['cloud']:<8} {r['region']:<23} "
              f"{r['comparable_g_per_kwh']:>7.0f}{used} {pub['g_per_kwh']:>6.0f} "
              f"{pub['scope']:<15} {r['year']:<4} {marks:<6} {origin:<7} {source:<31} "
              f"{r['name']}")
    stale = sorted({f"{r['zone']} {r['year']}" for r in rows if r["stale"]})
    if stale:
        print(f"stale: older than {_stale_years()} years before the newest bundled figures "
              f"({', '.join(stale)}): treat their rank with care")
    for line in sorted({f"{r['zone']}: {r['flag']}" for r in rows if r["flag"]}):
        print(f"?: doubtful figure, {line}")


def _stale_years() -> int:
    from ..intensity.figures import STALE_AFTER_YEARS

    return STALE_AFTER_YEARS
