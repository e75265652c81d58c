"""Recompute a stored run's emissions later, from a provider's hourly history.

A run tracked offline (or with annual averages) is scored again with the intensity each of its
intervals actually saw: every record's energy is multiplied by the time-weighted mean of the
provider's hourly values overlapping that record. The result is stored beside the original
numbers (table ``rescores``), never over them. Records the history does not cover keep their
original intensity and are counted, so partial coverage is visible.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Sequence

from .intensity.providers import average_over
from .records import Record, emissions_g

if TYPE_CHECKING:
    from .intensity import Location
    from .intensity.providers import IntensityPoint, Provider  # noqa: F401
    from .store import Store

__all__ = ["Rescore", "rescore_records", "rescore_run"]


@dataclass(frozen=True)
class Rescore:
    run_id: str
    provider: str
    kind: str
    original_emissions_g: float
    emissions_g: float
    intensity_g_per_kwh: float
    covered_records: int
    total_records: int
    per_record: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "provider": self.provider, "kind": self.kind,
            "original_emissions_g": self.original_emissions_g, "emissions_g": self.emissions_g,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "covered_records": self.covered_records, "total_records": self.total_records,
            "per_record": self.per_record,
        }


def rescore_records(
    records: Sequence[Record], points: Sequence[IntensityPoint], *, provider: str, kind: str
) -> Rescore:
    per_record = []
    new_total = old_total = kwh = 0.0
    covered = 0
    for record in records:
        start = datetime.fromtimestamp(record.start_s, timezone.utc)
        end = datetime.fromtimestamp(record.start_s + max(record.duration_s, 1e-6), timezone.utc)
        value = average_over(points, start, end)
        if value is None:
            grams, used, source = record.emissions_g, record.intensity_g_per_kwh, "original"
        else:
            grams, used, source = emissions_g(record.energy_j, value, record.pue), value, provider
            covered += 1
        new_total += grams
        old_total += record.emissions_g
        kwh += record.energy_j * record.pue / 3_600_000.0
        per_record.append({"seq": record.seq, "g_per_kwh": used, "emissions_g": grams,
                           "original_emissions_g": record.emissions_g, "source": source})
    run_id = records[0].run_id if records else ""
    return Rescore(
        run_id=run_id, provider=provider, kind=kind, original_emissions_g=old_total,
        emissions_g=new_total, intensity_g_per_kwh=new_total / kwh if kwh > 0 else 0.0,
        covered_records=covered, total_records=len(records), per_record=per_record,
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
    result = rescore_records(records, points, provider=provider.name, kind=provider.kind)
    store.add_rescore(run_id, provider.name, created_s=time.time(),
                      emissions_g=result.emissions_g,
                      intensity_g_per_kwh=result.intensity_g_per_kwh, kind=provider.kind,
                      detail_json=json.dumps(result.to_json()))
    return result
