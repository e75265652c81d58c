"""The summary so far of a run still running (or lost) on the team server, without reading
its records one by one.

A run has no summary until it ends; its page used to sum every record in Python (tens of
seconds at 10^6 records). :func:`summary_so_far` keeps that exact path for runs of up to
:data:`RECORD_PATH_MAX_RECORDS` records and otherwise builds the summary from:

- its rows of ``rollup_runs`` (one per intensity kind, kept exact by the ingest, see
  :mod:`..rollups`): the record count, duration, energy per component class, emissions, the
  kind, and ``by_kind``'s records / duration / energy / emissions;
- its first and last records, two reads by primary key: what the rollups do not hold.

The figures from those two records are named in :data:`LIVE_WARNING`, which the summary
carries among its warnings (shown on the page): they equal the record path's whenever they
did not change in the middle of the run (one device per component class, constant shares and
PUE, provenance and gaps seen at the start or at the end), and the final summary replaces them.
Sums agree with the record path to float rounding (the rollups add batch by batch).
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
LIVE_WARNING = ("summary so far, for a run still running: records, duration, energy and "
                "emissions are the server's exact running sums; the devices' methods, shares "
                "and split within a component class, the intensity's provenance, the gaps and "
                "the mean intensity's PUE come from the run's first and last records, and "
                "work units are counted in the final summary only")
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
    first, last = _edge_records(connection, run_id)
    return _from_rollups(info, rollups, first, last, spans=spans, status=status)


def _edge_records(connection: Connection, run_id: str) -> tuple[Record, Record]:
    """The run's first and last records by sequence number (primary key reads)."""
    from sqlalchemy import select

    from ...records import Record
    from ..models import IntervalRecord as r

    def one(order: Any) -> Record:
        row = connection.execute(select(r.__table__).where(r.run_id == run_id)
                                 .order_by(order).limit(1)).one()
        return Record.from_row(dict(row._mapping))

    return one(r.seq.asc()), one(r.seq.desc())


def _from_rollups(info: RunInfo, rollups: list[dict[str, Any]], first: Record, last: Record,
                  *, spans: Any, status: str) -> RunSummary:
    from ...records import RunSummary

    def total(column: str) -> float:
        return sum(float(row[column]) for row in rollups)

    energy = {name: total(f"{name}_energy_j") for name in _CLASSES}
    energy["total"] = sum(energy[name] for name in _CLASSES)
    edges = (first, last) if first.seq != last.seq else (last,)
    return RunSummary(
        run_id=info.run_id, project=info.project, experiment=info.experiment,
        started_s=info.started_s, duration_s=total("duration_s"), energy_j=energy,
        emissions_g=total("emissions_g"),
        components=tuple(_components(info, energy, edges)),
        intensity=_intensity(rollups, edges),
        location=dict(info.location), pue=info.pue, scope=info.scope,
        spans=tuple(s.to_dict() for s in spans),
        warnings=(*info.warnings, LIVE_WARNING),
        gaps=tuple(dict.fromkeys(g for record in edges for g in record.gaps)),
        status=status, exit_code=None, records=sum(int(row["records"]) for row in rollups),
        job=dict(info.job) if info.job else None)


def _components(info: RunInfo, energy: dict[str, float],
                edges: tuple[Record, ...]) -> list[dict[str, Any]]:
    """The devices of the first and last records; each class's exact energy (the rollup's)
    given whole to its one device, or split between several by the last record's energies."""
    from ...records import MIXED

    seen: dict[str, Any] = {}  # device -> its first appearance (the record path keeps its method)
    bases: dict[str, set[str | None]] = {}
    for record in edges:
        for comp in record.components:
            seen.setdefault(comp.device, comp)
            bases.setdefault(comp.device, set()).add(comp.share_basis)
    latest = {comp.device: comp for record in edges for comp in record.components}
    details = {str(d.get("device")): d for d in info.devices}
    out = []
    for device, comp in seen.items():
        klass = comp.component if comp.component in _CLASSES else "other"
        peers = [c for c in latest.values()
                 if (c.component if c.component in _CLASSES else "other") == klass]
        peer_j = sum(c.energy_j for c in peers)
        own_j = latest[device].energy_j
        fraction = (own_j / peer_j if peer_j > 0 else 1.0 / len(peers)) if len(peers) > 1 \
            else 1.0
        basis = bases[device]
        entry: dict[str, Any] = {
            "component": comp.component, "device": device, "method": comp.method,
            "energy_j": energy[klass] * fraction, "share": latest[device].share,
            "share_basis": next(iter(basis)) if len(basis) == 1 else MIXED}
        if device in details:
            entry["detail"] = details[device].get("detail", "")
        out.append(entry)
    return out


def _intensity(rollups: list[dict[str, Any]], edges: tuple[Record, ...]) -> dict[str, Any]:
    """The record path's intensity figures: kinds and sums from the rollups, the PUE and the
    provenance from the edge records (see the module's docstring)."""
    from ...records import J_PER_KWH, MIXED, join_notes, mixed_note, one_or_mixed

    pue = edges[-1].pue
    by_kind: list[dict[str, Any]] = []
    for row in sorted(rollups, key=lambda row: (row["intensity_kind"] == "",
                                                row["intensity_kind"])):
        kind = row["intensity_kind"] or None
        weighted_kwh = float(row["energy_j"]) * pue / J_PER_KWH
        scored = kind is not None and weighted_kwh > 0
        by_kind.append({"kind": kind, "records": int(row["records"]),
                        "duration_s": float(row["duration_s"]),
                        "energy_j": float(row["energy_j"]),
                        "emissions_g": float(row["emissions_g"]),
                        "g_per_kwh": float(row["emissions_g"]) / weighted_kwh
                        if scored else None})
    scored_rows = [row for row in by_kind if row["kind"] is not None]
    kind = one_or_mixed(str(row["kind"]) for row in scored_rows)
    scored_edges = [record for record in edges if record.scored]
    last_g = scored_edges[-1].intensity_g_per_kwh if scored_edges else 0.0
    kwh = sum(float(row["energy_j"]) for row in scored_rows) * pue / J_PER_KWH
    if kind is None or kind == MIXED:
        g_per_kwh = None
    elif kwh > 0:
        g_per_kwh = sum(float(row["emissions_g"]) for row in scored_rows) / kwh
    else:
        g_per_kwh = last_g
    # varied: the edges differ, or the mean over the run is not the last value seen
    varied = len({r.intensity_g_per_kwh for r in scored_edges}) > 1 or (
        g_per_kwh is not None and abs(g_per_kwh - last_g) > 1e-9 * max(abs(last_g), 1.0))
    labels: dict[str, set[str | None]] = {
        "basis": {r.intensity_basis for r in scored_edges},
        "scope": {r.intensity_scope for r in scored_edges},
        "gases": {r.intensity_gases for r in scored_edges}}
    sources = sorted({r.intensity_source for r in scored_edges})
    years = [r.intensity_year for r in scored_edges if r.intensity_year is not None]
    intensity: dict[str, Any] = {
        "g_per_kwh": g_per_kwh,
        "zone": ",".join(sorted({r.intensity_zone for r in scored_edges})),
        "source": "; ".join(sources) if sources else "unavailable",
        "year": max(years) if years else None,
        "kind": kind,
        "live": any(r.intensity_live for r in scored_edges),
        **{name: None if not values else MIXED if len(values) > 1 else next(iter(values))
           for name, values in labels.items()},
        "varied": varied,
        "by_kind": by_kind,
    }
    if kind == MIXED:
        intensity["note"] = join_notes(None, mixed_note(by_kind))
    return intensity
