"""Where could a run have gone: regions ranked by what its energy would emit there.

A region's emissions are the run's IT energy x the region's PUE x the region's
lifecycle-comparable intensity (:mod:`wattprint.intensity.figures`): one basis for every source,
so Google's direct figures, eGRID's and Ember's lifecycle ones rank fairly. A run's own recorded
intensity may be on another basis (a live direct figure, the published one under
``intensity_figure = native``); the place it ran is then re-priced on the comparable basis, so
the saving compares like with like, and the advice says so.

PUE is the region's own where published, else its provider's fleet figure (``cloud_pue.csv``);
for a provider without one, the run's own PUE (or, with no run, the bundled any-data-centre
default) stands in, and the option says which.

``--near`` distances are great-circle (haversine) distances between the regions' city
coordinates in ``cloud_regions.csv`` (a source per row); a region without public coordinates
cannot be placed and is left out of a distance filter, with a note.
"""

from __future__ import annotations

import math
from functools import cache

from .._struct import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping, Sequence

    from ..intensity.figures import GridFigure
    from ..intensity.tables import RegionRow
    from ..records import RunSummary

__all__ = ["BASIS", "CAVEATS", "EARTH_RADIUS_KM", "PueFigure", "Reference", "RegionOption",
           "WhereAdvice", "great_circle_km", "rank_regions", "reference_for_location",
           "resolve_place", "run_regions", "where_advice"]

J_PER_KWH = 3_600_000.0
# IUGG mean Earth radius; the haversine error against the ellipsoid is under 0.5 %.
EARTH_RADIUS_KM = 6371.0088
BASIS = ("lifecycle-comparable gCO2e/kWh (lifecycle CO2e, one basis for every source; "
         "see `wattprint regions`)")
CAVEATS = (
    "latency: a distant region adds network round-trip time to data transfers and serving",
    "data residency: moving data across borders may be restricted (law, contracts, policy)",
    "price: instance, storage and egress prices differ between regions and providers",
)


@dataclass(frozen=True, slots=True)
class PueFigure:
    """The PUE an option uses and where it comes from."""

    pue: float
    level: str  # "region" | "provider" | "run" (the run's own) | "default" (any data centre)
    source: str
    year: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"pue": self.pue, "level": self.level, "source": self.source, "year": self.year}


@dataclass(frozen=True, slots=True)
class RegionOption:
    """One region a run's energy is re-priced in."""

    cloud: str
    region: str
    name: str
    country: str
    continent: str | None
    figure: GridFigure
    note: str | None  # why a better figure (Google's own) is missing, if it is
    pue: PueFigure
    cfe_share: float | None  # Google's carbon-free energy share (0-1), GCP regions only
    cfe_year: int | None
    emissions_g: float
    distance_km: float | None = None  # from the --near region
    saving_g: float | None = None  # against the reference; negative: more than there
    saving_pct: float | None = None

    @property
    def label(self) -> str:
        return f"{self.cloud} {self.region}"

    def to_dict(self) -> dict[str, Any]:
        f = self.figure
        return {
            "cloud": self.cloud, "region": self.region, "name": self.name,
            "country": self.country, "continent": self.continent, "zone": f.zone,
            "figure_from": f.region or f"zone {f.zone}",
            "comparable_g_per_kwh": f.comparable_g_per_kwh,
            "comparable_method": f.comparable_method,
            "published": {"g_per_kwh": f.g_per_kwh, "basis": f.basis, "scope": f.scope,
                          "gases": f.gases},
            "year": f.year, "source": f.source, "licence": f.licence, "stale": f.stale,
            "flag": f.flag or None, "note": self.note, "pue": self.pue.to_dict(),
            "cfe_share": self.cfe_share, "cfe_year": self.cfe_year,
            "emissions_g": self.emissions_g, "distance_km": self.distance_km,
            "saving_g": self.saving_g, "saving_pct": self.saving_pct,
        }


@dataclass(frozen=True, slots=True)
class Reference:
    """What the savings are measured against: where the run ran, or the --near region, priced
    on the comparable basis; and, for a run, what it recorded."""

    label: str
    figure: GridFigure
    pue: PueFigure
    emissions_g: float  # energy x pue x comparable figure
    kind: str  # "run" (where it ran) | "near" (the chosen region)
    recorded_g: float | None = None  # what the run recorded, on its own basis
    recorded: str | None = None  # that basis, in words, when it differs from the comparable one

    def to_dict(self) -> dict[str, Any]:
        f = self.figure
        return {"label": self.label, "kind": self.kind, "zone": f.zone,
                "figure_from": f.region or f"zone {f.zone}",
                "comparable_g_per_kwh": f.comparable_g_per_kwh,
                "comparable_method": f.comparable_method, "year": f.year, "source": f.source,
                "pue": self.pue.to_dict(), "emissions_g": self.emissions_g,
                "recorded_g": self.recorded_g, "recorded_basis_differs": self.recorded}


@dataclass(frozen=True, slots=True)
class WhereAdvice:
    energy_j: float  # IT energy (before PUE)
    options: tuple[RegionOption, ...]
    reference: Reference | None
    basis: str = BASIS
    caveats: tuple[str, ...] = CAVEATS
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"energy_j": self.energy_j, "energy_kwh": self.energy_j / J_PER_KWH,
                "ranked_by": "emissions_g = energy x PUE x comparable_g_per_kwh, cleanest first",
                "basis": self.basis, "caveats": list(self.caveats), "notes": list(self.notes),
                "reference": self.reference.to_dict() if self.reference else None,
                "regions": [o.to_dict() for o in self.options]}


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a sphere of the mean Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def pue_for(cloud: str, region: str, fallback: PueFigure | None) -> PueFigure:
    """The region's PUE, else its provider's, else ``fallback`` (the run's own), else the
    bundled any-data-centre default."""
    from ..intensity.tables import cloud_pue

    row = cloud_pue(cloud, region)
    if row.cloud != "*":
        level = "region" if row.region != "*" else "provider"
        return PueFigure(pue=row.pue, level=level, source=row.source, year=row.year)
    if fallback is not None:
        return fallback
    return PueFigure(pue=row.pue, level="default", source=row.source, year=row.year)


def resolve_place(text: str, cloud: str | None = None) -> RegionRow:
    """A region from "aws/eu-west-1", "aws:eu-west-1", "aws eu-west-1", or "eu-west-1" alone
    (looked up in ``cloud``, else in every cloud: it must then be one cloud's). Unknown or
    ambiguous names raise :class:`~wattprint.errors.LocationError` naming the choices."""
    from ..errors import LocationError
    from ..intensity.tables import CLOUDS, normalize_cloud, resolve_region

    for sep in ("/", ":", " "):
        head, found, tail = text.strip().partition(sep)
        if found and tail.strip():
            try:
                name = normalize_cloud(head)
            except LocationError:
                if sep == " ":  # "West Europe": a region name with a space
                    break
                raise
            return resolve_region(name, tail.strip())
    if cloud is not None:
        return resolve_region(cloud, text)
    hits = []
    for name in CLOUDS:
        try:
            hits.append(resolve_region(name, text))
        except LocationError:
            continue
    if len(hits) == 1:
        return hits[0]
    if hits:
        names = ", ".join(f"{h.cloud}/{h.region}" for h in hits)
        raise LocationError(f"region {text!r} is in more than one cloud ({names}): name the "
                            "cloud, e.g. --near " + f"{hits[0].cloud}/{hits[0].region}",
                            suggestions=tuple(f"{h.cloud}/{h.region}" for h in hits))
    raise LocationError(f"unknown region {text!r} in every cloud ({', '.join(CLOUDS)}); give it "
                        "as CLOUD/REGION (e.g. aws/eu-west-1); `wattprint regions` lists them")


@cache
def _region_facts(cloud: str, region: str) -> tuple[GridFigure, str | None, PueFigure | None,
                                                    float | None, int | None]:
    """What the bundled tables say of a region, whatever the energy: its figure and fallback
    note, its published PUE (None: its provider publishes none) and Google's CFE share. The
    tables never change in a process, so this is worked out once a region (a page re-prices
    every region)."""
    from ..errors import IntensityUnavailable
    from ..intensity.figures import region_figure
    from ..intensity.tables import gcp_region_intensity

    figure, note = region_figure(cloud, region)
    pue = pue_for(cloud, region, None)
    published = pue if pue.level in ("region", "provider") else None
    cfe_share = cfe_year = None
    if cloud == "gcp":
        try:
            google = gcp_region_intensity(region)
        except IntensityUnavailable:
            google = None
        if google is not None and google.cfe_share is not None:
            cfe_share, cfe_year = google.cfe_share, google.year
    return figure, note, published, cfe_share, cfe_year


def _option(row: RegionRow, energy_j: float, fallback: PueFigure | None) -> RegionOption:
    from ..intensity.continents import continent_of

    figure, note, published, cfe_share, cfe_year = _region_facts(row.cloud, row.region)
    pue = published or pue_for(row.cloud, row.region, fallback)
    grams = energy_j * pue.pue * figure.comparable_g_per_kwh / J_PER_KWH
    return RegionOption(cloud=row.cloud, region=row.region, name=row.name, country=row.country,
                        continent=continent_of(row.country), figure=figure, note=note, pue=pue,
                        cfe_share=cfe_share, cfe_year=cfe_year, emissions_g=grams)


def _with_saving(option: RegionOption, reference_g: float | None,
                 distance_km: float | None) -> RegionOption:
    from .._struct import replace

    if reference_g is None:
        return replace(option, distance_km=distance_km)
    saving = reference_g - option.emissions_g
    pct = 100.0 * saving / reference_g if reference_g > 0 else None
    return replace(option, distance_km=distance_km, saving_g=saving, saving_pct=pct)


def rank_regions(energy_j: float, *, cloud: str | None = None, near: RegionRow | None = None,
                 within_km: float | None = None, pue: PueFigure | None = None,
                 reference_g: float | None = None,
                 only: Iterable[RegionRow] | None = None) -> list[RegionOption]:
    """Regions ranked by what ``energy_j`` of IT energy would emit there, cleanest first.

    ``cloud`` limits to one provider; ``near`` to the regions on its continent, or within
    ``within_km`` of it (great-circle) when given; ``only`` to the regions listed. ``pue`` is the
    PUE for regions whose provider publishes none (the run's own). With ``reference_g`` each
    option carries its saving against it (g and %).
    """
    from ..intensity.continents import continent_of
    from ..intensity.tables import cloud_regions

    if energy_j < 0 or not math.isfinite(energy_j):
        raise ValueError(f"energy must be a finite number of joules >= 0, not {energy_j!r}")
    rows: Iterable[RegionRow] = only if only is not None else cloud_regions(cloud).values()
    near_continent = continent_of(near.country) if near is not None else None
    out = []
    for row in rows:
        if cloud is not None and row.cloud != cloud:
            continue
        distance = None
        if near is not None and None not in (near.lat, near.lon, row.lat, row.lon):
            distance = great_circle_km(near.lat, near.lon, row.lat, row.lon)  # type: ignore[arg-type]
        if near is not None:
            if within_km is not None:
                if distance is None or distance > within_km:
                    continue
            elif continent_of(row.country) != near_continent:
                continue
        out.append(_with_saving(_option(row, energy_j, pue), reference_g, distance))
    out.sort(key=lambda o: (o.emissions_g, o.figure.comparable_g_per_kwh, o.cloud, o.region))
    return out


def _run_pue(summary: RunSummary) -> PueFigure:
    return PueFigure(pue=summary.pue, level="run",
                     source=f"the run's own PUE ({summary.pue_source or 'as recorded'})",
                     year=None)


def reference_for_location(location: Mapping[str, Any], energy_j: float,
                           fallback: PueFigure | None) -> tuple[Reference | None, str | None]:
    """Where a run ran, priced on the comparable basis; or None and why not."""
    from ..errors import LocationError
    from ..intensity.figures import region_figure, zone_figure
    from ..intensity.tables import zone as bundled_zone

    cloud, region = location.get("cloud"), location.get("cloud_region")
    if cloud and region:
        try:
            row = resolve_place(f"{cloud}/{region}")
        except LocationError:
            row = None
        if row is not None:
            figure, _ = region_figure(row.cloud, row.region)
            pue = pue_for(row.cloud, row.region, fallback)
            grams = energy_j * pue.pue * figure.comparable_g_per_kwh / J_PER_KWH
            return Reference(label=f"{row.cloud} {row.region}", figure=figure, pue=pue,
                             emissions_g=grams, kind="run"), None
    for key in (location.get("zone"), location.get("country")):
        found = bundled_zone(str(key)) if key else None
        if found is not None:
            figure = zone_figure(found)
            pue = fallback or PueFigure(pue=1.0, level="run", source="no PUE known", year=None)
            grams = energy_j * pue.pue * figure.comparable_g_per_kwh / J_PER_KWH
            return Reference(label=f"zone {figure.zone}", figure=figure, pue=pue,
                             emissions_g=grams, kind="run"), None
    return None, ("the run's location has no bundled figure (zone "
                  f"{location.get('zone') or 'unknown'}), so no saving can be computed")


def _recorded_basis(summary: RunSummary, reference: Reference) -> str | None:
    """How the run's own intensity differs from the comparable figure, in words; None when
    it is the same figure."""
    intensity = summary.intensity or {}
    value = intensity.get("g_per_kwh")
    scope, live = intensity.get("scope"), intensity.get("live")
    same = (not live and scope == "lifecycle" and isinstance(value, (int, float))
            and abs(value - reference.figure.comparable_g_per_kwh) < 0.005)
    if same:
        return None
    what = ", ".join(str(p) for p in (
        "live" if live else "bundled", intensity.get("kind"), scope, intensity.get("basis"),
        intensity.get("source")) if p)
    shown = f"{value:.1f} gCO2e/kWh" if isinstance(value, (int, float)) else "no intensity"
    return (f"the run recorded {shown} ({what}); for the savings its location is re-priced at "
            f"{reference.figure.comparable_g_per_kwh:.1f} gCO2e/kWh, the comparable figure")


def run_regions(summary: RunSummary) -> tuple[str | None, str]:
    """The regions a run's page re-prices it in by default: its provider's (None: every
    provider's) and a sentence saying which."""
    cloud = (summary.location or {}).get("cloud")
    from ..errors import LocationError
    from ..intensity.tables import normalize_cloud

    if cloud:
        try:
            name = normalize_cloud(str(cloud))
        except LocationError:
            name = None
        if name is not None:
            return name, f"every {name} region (the run ran on {name})"
    return None, "every bundled cloud region (the run's cloud is not known)"


def where_advice(energy_j: float | None = None, *, run: RunSummary | None = None,
                 cloud: str | None = None, near: str | None = None,
                 within_km: float | None = None,
                 extra: Sequence[str] = ()) -> WhereAdvice:
    """The whole answer for a run (its IT energy, location and PUE) or an amount of energy:
    ranked options, the reference the savings are against (the --near region if given, else
    where the run ran), the basis and caveats. ``extra`` adds regions ("aws/eu-west-1") to
    the ranking whatever the filters."""
    from ..intensity.tables import normalize_cloud

    if energy_j is None:
        if run is None:
            raise ValueError("give a run or an amount of energy")
        energy_j = float(run.energy_j.get("total", 0.0))
    cloud_id = normalize_cloud(cloud) if cloud else None
    near_row = resolve_place(near, cloud_id) if near else None
    if within_km is not None and near_row is None:
        raise ValueError("within_km needs a near region")
    fallback = _run_pue(run) if run is not None else None
    notes: list[str] = []
    reference: Reference | None = None
    if near_row is not None:
        figure, _ = _figure_of(near_row)
        pue = pue_for(near_row.cloud, near_row.region, fallback)
        reference = Reference(label=f"{near_row.cloud} {near_row.region}", figure=figure,
                              pue=pue, kind="near",
                              emissions_g=energy_j * pue.pue * figure.comparable_g_per_kwh
                              / J_PER_KWH)
    elif run is not None:
        reference, why = reference_for_location(run.location or {}, energy_j, fallback)
        if why:
            notes.append(why)
        if (run.location or {}).get("resolved_by") == "default" and reference is not None:
            notes.append("the run's location was not known, so it was priced at the world "
                         "average: the savings are against that, not against where it ran; "
                         "give --near REGION to compare with a place")
    else:
        notes.append("no reference place: give a run or --near REGION for savings")
    if run is not None and reference is not None and reference.kind == "run":
        from .._struct import replace

        reference = replace(reference, recorded_g=run.emissions_g,
                            recorded=_recorded_basis(run, reference))
    reference_g = reference.emissions_g if reference is not None else None
    options = rank_regions(energy_j, cloud=cloud_id, near=near_row, within_km=within_km,
                           pue=fallback, reference_g=reference_g)
    if extra:
        have = {(o.cloud, o.region) for o in options}
        rows = [r for r in (resolve_place(t) for t in extra) if (r.cloud, r.region) not in have]
        options += rank_regions(energy_j, pue=fallback, reference_g=reference_g, near=None,
                                only=rows)
        options.sort(key=lambda o: (o.emissions_g, o.figure.comparable_g_per_kwh, o.cloud,
                                    o.region))
    if near_row is not None and within_km is not None:
        from ..intensity.tables import cloud_regions

        unplaced = [r for r in cloud_regions(cloud_id).values() if r.lat is None]
        if unplaced:
            notes.append(f"{len(unplaced)} region(s) have no public coordinates and cannot be "
                         f"placed within {within_km:g} km: "
                         + ", ".join(f"{r.cloud}/{r.region}" for r in unplaced[:5])
                         + (" ..." if len(unplaced) > 5 else ""))
    if any(o.pue.level in ("run", "default") for o in options):
        stand_in = fallback or next(o.pue for o in options if o.pue.level == "default")
        notes.append(f"regions whose provider publishes no PUE use {stand_in.pue:g}: "
                     f"{stand_in.source}")
    return WhereAdvice(energy_j=energy_j, options=tuple(options), reference=reference,
                       notes=tuple(notes))


def _figure_of(row: RegionRow) -> tuple[GridFigure, str | None]:
    from ..intensity.figures import region_figure

    return region_figure(row.cloud, row.region)
