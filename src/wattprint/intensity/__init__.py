"""Where and when -> grams CO2e per kWh. No energy arithmetic here.

A :class:`Location` says where the machine is and how we know; an :class:`IntensitySource`
turns a location and a time window into an :class:`Intensity` that carries its own provenance
(zone, source, year, kind, live or bundled). A live source that cannot answer falls back to the
bundled tables only where they give the same kind of figure, and says so in the intensity's
``note`` (:mod:`~wattprint.intensity.live`); kinds are never mixed.
"""

from __future__ import annotations

from .._struct import dataclass, field_names, replace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

    from .source import IntensitySource

__all__ = ["Intensity", "IntensitySource", "Location"]


@dataclass(frozen=True, slots=True)
class Location:
    """Where the energy was used.

    ``resolved_by`` is how we know: "config" (the user said so), "cloud-metadata" (the cloud
    provider's instance metadata), "timezone" (the OS time zone, a reasonable guess), "ip"
    (IP geolocation, opt-in), or "default" (nothing known: the world average, flagged loudly).
    ``notes`` say why earlier steps found nothing. ``instance_type`` is the cloud instance type
    the metadata named (it describes the machine rather than the place: it is not part of the
    wire location, and reaches the record through the CPU device and the embodied figures).
    """

    country: str | None  # ISO 3166-1 alpha-2
    subdivision: str | None = None
    resolved_by: str = "default"
    detail: str = ""
    zone: str | None = None
    cloud: str | None = None
    cloud_region: str | None = None
    lat: float | None = None
    lon: float | None = None
    postcode: str | None = None
    notes: tuple[str, ...] = ()
    instance_type: str | None = None

    @property
    def is_default(self) -> bool:
        return self.resolved_by == "default"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        """The inverse of :meth:`to_dict` (unknown keys, from newer versions, are ignored)."""
        known = {k: v for k, v in data.items() if k in field_names(cls)}
        known["notes"] = tuple(known.get("notes") or ())
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return {
            "country": self.country,
            "subdivision": self.subdivision,
            "resolved_by": self.resolved_by,
            "detail": self.detail,
            "zone": self.zone,
            "cloud": self.cloud,
            "cloud_region": self.cloud_region,
            "lat": self.lat,
            "lon": self.lon,
            "postcode": self.postcode,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class Intensity:
    """Grams CO2e per kWh for a zone, with where the number came from."""

    g_per_kwh: float
    zone: str
    source: str
    year: int | None
    kind: str = "average"  # "average" (attributional) or "marginal" (e.g. WattTime MOER)
    live: bool = False
    basis: str = "generation"  # or "consumption"
    scope: str = "lifecycle"  # or "direct" (combustion only)
    gases: str = "CO2e"  # or "CO2" where a source reports carbon dioxide only
    note: str | None = None  # a visible fallback ("no data for XK: world average used")

    def with_note(self, note: str) -> Intensity:
        return replace(self, note=f"{self.note}; {note}" if self.note else note)


def __getattr__(name: str) -> object:
    # The protocol needs ``typing`` (a few ms to import); only type checks and isinstance use it.
    if name == "IntensitySource":
        from .source import IntensitySource

        return IntensitySource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
