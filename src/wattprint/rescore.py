"""Recompute a stored run's emissions later, from a provider's hourly history.

A run tracked offline (or with annual averages) is scored again with the intensity each of its
intervals actually saw: every record's energy is multiplied by the time-weighted mean of the
provider's hourly values overlapping that record. The result is stored beside the original
numbers (table ``rescores``), never over them. Records the history does not cover keep their
original intensity, and their own kind, and are counted, so partial coverage is visible.

The run-level figures are those of :class:`~wattprint.records.RunAccumulator` over the rescored
records: a marginal provider whose history misses some average-scored records gives kind
``mixed``, emissions per kind, and no single mean intensity.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

from ._struct import dataclass, field, replace
from .intensity.providers import average_over
from .records import Record, RunAccumulator, emissions_g

if TYPE_CHECKING:
    from .intensity import Location
    from .intensity.providers import IntensityPoint, Labels, Provider  # noqa: F401
    from .store import Store

__all__ = ["Rescore", "rescore_records", "rescore_run"]


@dataclass(frozen=True)
class Rescore:
    run_id: str
    provider: str
    kind: str | None  # of the rescored run: "average", "marginal", "mixed"; None: no intensity
    original_emissions_g: float
    emissions_g: float  # the sum over records; per kind in by_kind
    intensity_g_per_kwh: float | None  # over scored records; None when kinds are mixed
    covered_records: int
    total_records: int
    per_record: list[dict[str, Any]] = field(default_factory=list)
    provider_kind: str = ""
    by_kind: list[dict[str, Any]] = field(default_factory=list)
    # What the rescored intensities count, over scored records ("mixed" where they differ)
    basis: str | None = None
    scope: str | None = None
    gases: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "provider": self.provider, "kind": self.kind,
            "provider_kind": self.provider_kind,
            "original_emissions_g": self.original_emissions_g, "emissions_g": self.emissions_g,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "covered_records": self.covered_records, "total_records": self.total_records,
            "basis": self.basis, "scope": self.scope, "gases": self.gases,
            "by_kind": self.by_kind, "per_record": self.per_record,
        }


def rescore_records(
    records: Sequence[Record], points: Sequence[IntensityPoint], *, provider: str, kind: str,
    labels: Labels | None = None,
) -> Rescore:
    """Each record scored with the provider's value over its span where ``points`` cover it.

    ``kind`` and ``labels`` (basis, scope, gases) are the provider's; an uncovered record keeps
    its own intensity and labels, so the run level never passes one kind off as another.
    """
    from .intensity.providers import Labels

    labels = labels or Labels(kind=kind)
    acc = RunAccumulator()
    per_record = []
    old_total = 0.0
    covered = 0
    for record in records:
        start = datetime.fromtimestamp(record.start_s, timezone.utc)
        end = datetime.fromtimestamp(record.start_s + max(record.duration_s, 1e-6), timezone.utc)
        value = average_over(points, start, end)
        if value is None:
            rescored, source = record, "original"
        else:
            rescored = replace(
                record, emissions_g=emissions_g(record.energy_j, value, record.pue),
                intensity_g_per_kwh=value, intensity_source=provider, intensity_kind=kind,
                intensity_live=True, intensity_basis=labels.basis,
                intensity_scope=labels.scope, intensity_gases=labels.gases)
            source = provider
            covered += 1
        acc.add(rescored)
        old_total += record.emissions_g
        per_record.append({"seq": record.seq, "g_per_kwh": rescored.intensity_g_per_kwh,
                           "emissions_g": rescored.emissions_g,
                           "original_emissions_g": record.emissions_g, "source": source,
                           "kind": rescored.intensity_kind})
    run = acc.intensity()
    return Rescore(
        run_id=records[0].run_id if records else "", provider=provider, kind=run.get("kind"),
        original_emissions_g=old_total, emissions_g=acc.totals.emissions_g,
        intensity_g_per_kwh=run.get("g_per_kwh"), covered_records=covered,
        total_records=len(records), per_record=per_record, provider_kind=kind,
        by_kind=run.get("by_kind", []), basis=run.get("basis"), scope=run.get("scope"),
        gases=run.get("gases"),
    )


def rescore_run(store: Store, run_id: str, provider: Provider, *,
                where: Location | None = None) -> Rescore:
    """Fetch hourly history for the run's span and location, rescore it, and store the result."""
    from .intensity import Location
    from .intensity.live import hourly_history

    records = store.records(run_id)
    if not records:
        from .errors import StoreError

        raise StoreError(f"run {run_id} has no records to rescore")
    if where is None:
        where = Location.from_dict(store.info(run_id).location)
    start = datetime.fromtimestamp(records[0].start_s, timezone.utc)
    end = datetime.fromtimestamp(records[-1].start_s + records[-1].duration_s, timezone.utc)
    points = hourly_history(provider, where, start, end)
    result = rescore_records(records, points, provider=provider.name, kind=provider.kind,
                             labels=getattr(provider, "labels", None))
    store.add_rescore(run_id, provider.name, created_s=time.time(),
                      emissions_g=result.emissions_g,
                      intensity_g_per_kwh=result.intensity_g_per_kwh, kind=result.kind,
                      detail_json=json.dumps(result.to_json()))
    return result
