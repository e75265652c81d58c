"""The summary so far of a run still running (or lost) on the team server, without reading
its records one by one.

A run has no summary until it ends; its page used to sum every record in Python (tens of
seconds at 10^6 records). :func:`summary_so_far` keeps that path for runs of up to
:data:`RECORD_PATH_MAX_RECORDS` records and otherwise builds the same summary from the
running sums the ingest keeps beside the records (see :mod:`..rollups` and
:mod:`..rollup_details`), reading no record:

- ``rollup_runs`` (one row per intensity kind): the record count, duration, energy per
  component class, emissions, the kinds and ``by_kind``'s records / duration / energy /
  emissions;
- ``rollup_run_devices``: each device's energy, duration-weighted share, share bases and first
  method, in the order the devices first appeared;
- ``rollup_run_intensities``: over the scored records, energy x PUE per kind (the mean
  intensity's denominator, whatever PUE each record had), the provenance labels, whether the
  intensity varied and its latest value;
- ``rollup_run_gaps`` and ``rollup_run_work``: the distinct gaps in the order first seen, and
  the work units.

Every figure is the record path's; sums agree to float rounding (the rollups add batch by
batch). :data:`LIVE_WARNING` says only that the summary is one so far.
"""

from __future__ import annotations

from typing import Any, Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from ...records import Record, RunInfo, RunSummary

__all__ = ["LIVE_WARNING", "RECORD_PATH_MAX_RECORDS", "summary_so_far"]

# Up to this many records the summary is summed record by record, every figure exact: 70-93 us
# a record on PostgreSQL (10^4 records: 0.71 s, 10^6: 93 s; load 3-6), so <= ~0.2 s here;
# beyond, from the rollups (the whole ServerData.run: 10 ms at 10^4 records, 26 ms at 10^6;
# benchmarks/bench_live_run_page.py).
RECORD_PATH_MAX_RECORDS = 2_000
LIVE_WARNING = ("summary so far, for a run still running: every figure is the server's running "
                "sum of the records received, and the final summary replaces it")
_CLASSES = ("cpu", "gpu", "ram", "other")


def summary_so_far(connection: Connection, run_id: str, info: RunInfo, *,
                   spans: tuple[Any, ...] | list[Any], status: str,
                   records: Callable[[], list[Record]],
                   max_records: int | None = None) -> RunSummary:
    """The run's summary so far; ``records`` reads all its records (the exact path, taken for
    a run of at most ``max_records`` records, default :data:`RECORD_PATH_MAX_RECORDS`)."""
    from sqlalchemy import select

    from ...records import summarize
    from ..models import RollupRun

    rollups = [dict(row._mapping) for row in connection.execute(
        select(RollupRun).where(RollupRun.run_id == run_id)
        .order_by(RollupRun.intensity_kind)).all()]
    count = sum(int(row["records"]) for row in rollups)
    if count <= (RECORD_PATH_MAX_RECORDS if max_records is None else max_records):
        return summarize(info, records(), spans=spans, status=status)
    return _from_rollups(connection, run_id, info, rollups, spans=spans, status=status)


def _rows(connection: Connection, model: Any, run_id: str) -> list[dict[str, Any]]:
    from sqlalchemy import select

    table = model.__table__
    keys = [column for column in table.primary_key.columns]
    return [dict(row._mapping) for row in connection.execute(
        select(table).where(table.c.run_id == run_id).order_by(*keys)).all()]


def _from_rollups(connection: Connection, run_id: str, info: RunInfo,
                  rollups: list[dict[str, Any]], *, spans: Any, status: str) -> RunSummary:
    from ...records import RunSummary, per_unit
    from ..models import RollupRunDevice, RollupRunGap, RollupRunIntensity, RollupRunWork

    def total(column: str) -> float:
        return sum(float(row[column]) for row in rollups)

    energy = {name: total(f"{name}_energy_j") for name in _CLASSES}
    energy["total"] = sum(energy[name] for name in _CLASSES)
    emissions_g = total("emissions_g")
    gaps = sorted(_rows(connection, RollupRunGap, run_id),
                  key=lambda row: (row["first_seq"], row["first_index"]))
    work = {str(row["unit"]): float(row["count"])
            for row in _rows(connection, RollupRunWork, run_id)}
    return RunSummary(
        run_id=info.run_id, project=info.project, experiment=info.experiment,
        started_s=info.started_s, duration_s=total("duration_s"), energy_j=energy,
        emissions_g=emissions_g,
        components=tuple(_components(info, _rows(connection, RollupRunDevice, run_id))),
        intensity=_intensity(rollups, _rows(connection, RollupRunIntensity, run_id)),
        location=dict(info.location), pue=info.pue, scope=info.scope,
        spans=tuple(s.to_dict() for s in spans),
        warnings=(*info.warnings, LIVE_WARNING),
        gaps=tuple(str(row["gap"]) for row in gaps),
        status=status, exit_code=None, records=sum(int(row["records"]) for row in rollups),
        job=dict(info.job) if info.job else None,
        work=tuple(per_unit(work, energy["total"], emissions_g)))


def _components(info: RunInfo, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The record path's device entries (see records._DeviceTotals) from each device's rows,
    one per share basis, in the order the devices first appeared."""
    from ...records import MIXED

    devices: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        devices.setdefault(str(row["device"]), []).append(row)
    first = {device: min(parts, key=lambda row: (row["first_seq"], row["first_index"]))
             for device, parts in devices.items()}
    details = {str(d.get("device")): d for d in info.devices}
    out = []
    for device in sorted(devices, key=lambda d: (first[d]["first_seq"], first[d]["first_index"])):
        parts = devices[device]

        def total(column: str, parts: list[dict[str, Any]] = parts) -> float:
            return sum(float(row[column]) for row in parts)

        seen_s = total("seen_s")
        share = total("share_s") / seen_s if seen_s > 0 else \
            total("share_sum") / sum(int(row["records"]) for row in parts)
        bases = {str(row["share_basis"]) or None for row in parts}
        entry: dict[str, Any] = {
            "component": first[device]["component"], "device": device,
            "method": first[device]["method"], "energy_j": total("energy_j"), "share": share,
            "share_basis": next(iter(bases)) if len(bases) == 1 else MIXED}
        if device in details:
            entry["detail"] = details[device].get("detail", "")
        out.append(entry)
    return out


def _intensity(rollups: list[dict[str, Any]],
               provenance: list[dict[str, Any]]) -> dict[str, Any]:
    """The record path's intensity figures (see records.RunAccumulator.intensity): kinds and
    sums from ``rollup_runs``, the rest from ``rollup_run_intensities``."""
    from ...records import J_PER_KWH, MIXED, join_notes, mixed_note, one_or_mixed

    weighted_kwh: dict[str, float] = {}
    for row in provenance:
        name = str(row["intensity_kind"])
        weighted_kwh[name] = weighted_kwh.get(name, 0.0) + float(row["pue_energy_j"]) / J_PER_KWH
    by_kind: list[dict[str, Any]] = []
    for row in sorted(rollups, key=lambda row: (row["intensity_kind"] == "",
                                                row["intensity_kind"])):
        row_kind = row["intensity_kind"] or None
        kwh = weighted_kwh.get(str(row_kind), 0.0) if row_kind is not None else 0.0
        by_kind.append({"kind": row_kind, "records": int(row["records"]),
                        "duration_s": float(row["duration_s"]),
                        "energy_j": float(row["energy_j"]),
                        "emissions_g": float(row["emissions_g"]),
                        "g_per_kwh": float(row["emissions_g"]) / kwh
                        if row_kind is not None and kwh > 0 else None})
    scored_rows = [row for row in by_kind if row["kind"] is not None]
    kind = one_or_mixed(str(row["kind"]) for row in scored_rows)
    kwh = sum(weighted_kwh.values())
    latest = max(provenance, key=lambda row: row["last_seq"]) if provenance else None
    if kind is None or kind == MIXED:
        g_per_kwh = None
    elif kwh > 0:
        g_per_kwh = sum(float(row["emissions_g"]) for row in scored_rows) / kwh
    else:  # scored records without energy: the value the latest one saw
        g_per_kwh = float(latest["last_g_per_kwh"]) if latest else 0.0
    values = {float(row[name]) for row in provenance
              for name in ("min_g_per_kwh", "max_g_per_kwh")}
    labels = {name: {str(row[name]) or None for row in provenance}
              for name in ("basis", "scope", "gases")}
    years = [int(row["max_year"]) for row in provenance if row["max_year"] is not None]
    sources = sorted({str(row["source"]) for row in provenance})
    intensity: dict[str, Any] = {
        "g_per_kwh": g_per_kwh,
        "zone": ",".join(sorted({str(row["zone"]) for row in provenance})),
        "source": "; ".join(sources) if sources else "unavailable",
        "year": max(years) if years else None,
        "kind": kind,
        "live": any(int(row["live"]) for row in provenance),
        **{name: None if not values_ else MIXED if len(values_) > 1 else next(iter(values_))
           for name, values_ in labels.items()},
        "varied": len(values) > 1,
        "by_kind": by_kind,
    }
    if kind == MIXED:
        intensity["note"] = join_notes(None, mixed_note(by_kind))
    return intensity
