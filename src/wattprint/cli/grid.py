"""``intensity`` and ``regions``: what the grid looks like from here, before any run.

``intensity`` answers with the source a run would use, built the way the tracker builds it: the
configured live provider (``provider`` setting, ``--provider``) polled off the caller's thread,
or the bundled tables. When a live provider has no value, the bundled value is shown labelled
as its fallback, as a run would record it; a marginal provider (WattTime) has no such fallback
(an average cannot stand in for a marginal figure), so the command says so and exits 1.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import IntensityUnavailable
from .common import EXIT_FAILURE, print_json, say, strict_settings
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
    intensity.add_argument("--wait", type=positive(float, "seconds"), default=_LIVE_WAIT_S,
                           metavar="S",
                           help="longest wait for a live provider's first answer before its "
                                f"fallback is shown (default: {_LIVE_WAIT_S:g})")
    add_json(intensity, "print one JSON object")
    intensity.set_defaults(handler=cmd_intensity)


def add_regions(sub: Any) -> None:
    regions = sub.add_parser("regions", help="cloud regions with their carbon intensity",
                             description="Cloud regions with their grid zone and its bundled "
                                         "carbon intensity. A filter that matches nothing "
                                         "gives an empty list (`[]` with --json), exit 0.")
    regions.add_argument("--cloud", default=None, metavar="NAME",
                         help="only this provider's regions: aws, gcp, azure, oci, ovhcloud or "
                              "scaleway (default: all)")
    regions.add_argument("--country", default=None, metavar="CODE",
                         help="only regions in this country, a code or name (default: all)")
    add_json(regions, "print a JSON array")
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
    if args.provider:
        overrides["provider"] = args.provider
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
    data = {"g_per_kwh": found.g_per_kwh, "zone": found.zone, "source": found.source,
            "year": found.year, "kind": found.kind, "live": found.live, "basis": found.basis,
            "scope": found.scope, "gases": found.gases, "note": found.note,
            "provider": config.provider, "fallback": fallback,
            "location": location.to_dict()}
    if args.json:
        print_json(data)
        return 0
    where = location.zone or location.country or "WORLD"
    print(f"{found.g_per_kwh:.1f} gCO2e/kWh for {found.zone} ({found.kind}, {found.scope}, "
          f"{found.gases}, {found.basis} basis)")
    label = "live" if found.live else ("bundled fallback" if fallback else "bundled")
    print(f"  source    {found.source}, {found.year} ({label})")
    if live:
        print(f"  provider  {config.provider} (from {config.source_of('provider')})")
    print(f"  location  {where}, resolved by {location.resolved_by}"
          f"{f' ({location.detail})' if location.detail else ''}")
    if location.cloud:
        print(f"  cloud     {location.cloud} {location.cloud_region}")
    if found.note:
        print(f"  note      {found.note}")
    if location.is_default:
        print(f"  WARNING   {DEFAULT_WARNING}")
    return 0


def cmd_regions(args: argparse.Namespace) -> int:
    from ..intensity.tables import cloud_regions, normalize_cloud, normalize_country, zones

    cloud = normalize_cloud(args.cloud) if args.cloud else None
    country = normalize_country(args.country) if args.country else None
    table = zones()
    rows = []
    for (name, region), row in sorted(cloud_regions(cloud).items()):
        if country is not None and row.country != country:
            continue
        zone = table[row.zone]
        rows.append({"cloud": name, "region": region, "name": row.name,
                     "country": row.country, "subdivision": row.subdivision or None,
                     "zone": row.zone, "g_per_kwh": zone.g_per_kwh, "year": zone.year,
                     "scope": zone.scope, "gases": zone.gases, "source": zone.source})
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no regions match")
        return 0
    print(f"{'cloud':<9} {'region':<22} {'zone':<8} {'gCO2e/kWh':>9}  {'year':<5} name")
    for r in rows:
        print(f"{r['cloud']:<9} {r['region']:<22} {r['zone']:<8} {r['g_per_kwh']:>9.0f}  "
              f"{r['year']:<5} {r['name']}")
    return 0
