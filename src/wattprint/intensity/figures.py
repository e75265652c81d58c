"""The bundled figure a place gets, and which of its two values a run uses.

Every bundled row has two values. ``g_per_kwh`` is the figure as its source publishes it, with
that source's basis, scope and gases (eGRID's direct emissions for US states, Ember's
lifecycle figures for countries, Google's direct figures for its regions...). The
``comparable_g_per_kwh`` is the same figure put on one basis for every row, lifecycle CO2e,
with ``comparable_method`` saying how (native, or the conversion factor and its source).

Rankings and comparisons of places always use the comparable value. A run uses the value the
``intensity_figure`` setting names: "lifecycle" (the default: the comparable value, so that
runs in different places can be compared) or "native" (the source's own figure, e.g. to report
against eGRID).

A cloud region gets the best figure for it: Google's own yearly figure for a GCP region that
Google publishes one for (latest year), else the region's zone (the most specific national or
sub-national row). Rows older than the data build's staleness policy are ``stale``; a doubtful
row carries a ``flag``. Both become a note on the intensity, which a run turns into a warning.
"""

from __future__ import annotations

from .._struct import dataclass
from ..errors import IntensityUnavailable
from . import Intensity
from .tables import GcpRegionRow, ZoneRow, cloud_regions, gcp_region_intensity, resolve_region
from .tables import zone as bundled_zone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .tables import RegionRow

__all__ = ["FIGURES", "STALE_AFTER_YEARS", "GridFigure", "google_figure", "ranked_regions",
           "region_figure", "split_source", "zone_figure"]

FIGURES = ("lifecycle", "native")
# The data build's staleness policy (tools/build_data/grid.py; a test keeps the two equal): a
# row whose year is more than this many years before the zone table's newest year is stale.
STALE_AFTER_YEARS = 4
# How a converted figure's source names its conversion (records keep it in intensity_source).
_CONVERTED = " [lifecycle-comparable: "


@dataclass(frozen=True, slots=True)
class GridFigure:
    """One bundled row (a zone's, or a cloud region's own) with its provenance."""

    zone: str  # the grid zone (zones.csv id) the figure is for
    region: str  # "gcp us-east1" where the figure is a cloud region's own; "" for a zone's
    g_per_kwh: float  # as the source publishes it (its basis, scope and gases below)
    year: int
    basis: str
    scope: str
    gases: str
    source: str
    licence: str
    comparable_g_per_kwh: float  # lifecycle CO2e, for ranking and comparing places
    comparable_method: str  # "native lifecycle", or the conversion and its source
    stale: bool
    flag: str  # empty, or why the row is doubtful

    @property
    def converted(self) -> bool:
        """Whether the comparable value differs in kind from the published one."""
        return not self.comparable_method.startswith("native")

    @property
    def label(self) -> str:
        return f"{self.region} (grid zone {self.zone})" if self.region else self.zone

    def used_g_per_kwh(self, figure: str) -> float:
        """The value a run uses under ``intensity_figure = figure``."""
        return self.comparable_g_per_kwh if figure == "lifecycle" else self.g_per_kwh

    def problems(self) -> list[str]:
        """What a user must be told about this row: stale, doubtful."""
        out = []
        if self.stale:
            out.append(f"the bundled figure for {self.label} is from {self.year}, stale (more "
                       f"than {STALE_AFTER_YEARS} years older than the newest bundled figures)")
        if self.flag:
            out.append(f"the bundled figure for {self.label} is doubtful: {self.flag}")
        return out

    def intensity(self, figure: str, note: str | None = None) -> Intensity:
        """The intensity a run records: the comparable value under "lifecycle" (labelled
        lifecycle CO2e, its conversion named in the source), the published one under "native";
        stale and doubtful rows say so in the note."""
        notes = [n for n in (note, *self.problems()) if n]
        if figure == "lifecycle" and self.converted:
            value, scope, gases = self.comparable_g_per_kwh, "lifecycle", "CO2e"
            source = f"{self.source}{_CONVERTED}{self.comparable_method}]"
        else:
            value, scope, gases, source = self.g_per_kwh, self.scope, self.gases, self.source
        return Intensity(g_per_kwh=value, zone=self.zone, source=source, year=self.year,
                         kind="average", live=False, basis=self.basis, scope=scope, gases=gases,
                         note="; ".join(notes) or None)


def split_source(source: str) -> tuple[str, str | None]:
    """(the source, the conversion to lifecycle-comparable or None) of an intensity source
    that :meth:`GridFigure.intensity` wrote."""
    if source.endswith("]") and source.count(_CONVERTED) == 1:
        head, _, method = source[:-1].partition(_CONVERTED)
        return head, method
    return source, None


def zone_figure(row: ZoneRow) -> GridFigure:
    return GridFigure(
        zone=row.zone, region="", g_per_kwh=row.g_per_kwh, year=row.year, basis=row.basis,
        scope=row.scope, gases=row.gases, source=row.source, licence=row.licence,
        comparable_g_per_kwh=row.comparable_g_per_kwh, comparable_method=row.comparable_method,
        stale=row.stale, flag=row.flag,
    )


def google_figure(row: GcpRegionRow, zone: str) -> GridFigure:
    return GridFigure(
        zone=zone, region=f"gcp {row.region}", g_per_kwh=row.g_per_kwh, year=row.year,
        basis=row.basis, scope=row.scope, gases=row.gases,
        source=f"{row.source} for {row.region}", licence=row.licence,
        comparable_g_per_kwh=row.comparable_g_per_kwh, comparable_method=row.comparable_method,
        stale=row.stale, flag="",
    )


def region_figure(cloud: str, region: str) -> tuple[GridFigure, str | None]:
    """The best bundled figure for a cloud region, and a note when the better one (Google's
    own, for a GCP region) is missing and the zone's stands in. An unknown cloud or region
    raises :class:`~wattprint.errors.LocationError` with close matches."""
    row = resolve_region(cloud, region)
    note = None
    if row.cloud == "gcp":
        try:
            return google_figure(gcp_region_intensity(row.region), row.zone), None
        except IntensityUnavailable as exc:
            note = str(exc)
    found = bundled_zone(row.zone)
    if found is None:  # the data build checks every region's zone exists; guard a broken install
        raise IntensityUnavailable(f"bundled tables have no {row.zone} row for {cloud} {region}; "
                                   "reinstall wattprint")
    return zone_figure(found), note


def ranked_regions(cloud: str | None = None) -> list[tuple[RegionRow, GridFigure, str | None]]:
    """Every bundled region (or one cloud's) with its best figure and fallback note, ranked by
    the lifecycle-comparable figure, cleanest first (ties by cloud and region id)."""
    found = []
    for (name, region), row in cloud_regions(cloud).items():
        figure, note = region_figure(name, region)
        found.append((row, figure, note))
    found.sort(key=lambda item: (item[1].comparable_g_per_kwh, item[0].cloud, item[0].region))
    return found
