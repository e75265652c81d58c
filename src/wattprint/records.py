"""The objects a run emits, one schema for every sink (SQLite store, CSV, JSON Lines, memory)
and, as :mod:`wattprint.wire`'s versioned JSON, for anything that reads them. SI units in every
name (J, W, s, g); kWh and kg appear only at presentation.

- :class:`RunInfo` is the static context of a run, sent once, before its records.
- :class:`Record` is one measured interval: energy per component with per-device provenance,
  the intensity used for that interval and the resulting emissions.
- :class:`SpanRecord` is every closed instance of one span name under one parent, aggregated
  (count, sums, extremes), so a loop's millions of spans are one row.
- :class:`Heartbeat` is a live tracker saying it is still there.
- :class:`RunSummary` totals a run (:class:`RunAccumulator` builds it from the records);
  ``to_json()`` is the documented summary format.
"""

from __future__ import annotations

from ._struct import asdict, dataclass, field, field_names

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping, Sequence

__all__ = [
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "ComponentEnergy",
    "Prediction",
    "Record",
    "RunInfo",
    "RunSummary",
    "SpanRecord",
    "emissions_g",
]

SCHEMA_VERSION = 1
J_PER_KWH = 3_600_000.0
# Per-component totals kept as columns; soc/system land in "other" and stay visible per device.
TOTAL_COMPONENTS = ("cpu", "gpu", "ram", "other")


def emissions_g(energy_j: float, g_per_kwh: float, pue: float) -> float:
    """Grams CO2e for ``energy_j`` of IT energy at intensity ``g_per_kwh`` and overhead ``pue``."""
    return energy_j * pue * g_per_kwh / J_PER_KWH


def component_bucket(component: str) -> str:
    return component if component in ("cpu", "gpu", "ram") else "other"


@dataclass(frozen=True, slots=True)
class ComponentEnergy:
    """Energy of one device in a record, with how it was obtained."""

    component: str
    device: str
    method: str  # measured | sampled | modelled
    energy_j: float
    share: float = 1.0  # fraction of the device attributed to the tracked scope
    # What the share rests on (see wattprint.scope.Shares): "whole" (not split), "measured"
    # (per-process counters), "allocated" (a scheduler's allocation) or "estimated" (a
    # fallback guess); None when unknown (records written before wire version 3).
    share_basis: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "device": self.device,
            "method": self.method,
            "energy_j": self.energy_j,
            "share": self.share,
            "share_basis": self.share_basis,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ComponentEnergy:
        return cls(
            component=str(data["component"]),
            device=str(data["device"]),
            method=str(data["method"]),
            energy_j=float(data["energy_j"]),
            share=float(data.get("share", 1.0)),
            share_basis=_text_or_none(data.get("share_basis")),
        )


@dataclass(frozen=True, slots=True)
class Record:
    run_id: str
    seq: int
    start_s: float  # Unix seconds, UTC
    duration_s: float
    cpu_energy_j: float
    gpu_energy_j: float
    ram_energy_j: float
    other_energy_j: float
    energy_j: float  # IT energy: the sum of the components (before PUE)
    pue: float
    emissions_g: float
    intensity_g_per_kwh: float
    intensity_zone: str
    intensity_source: str
    intensity_year: int | None
    # "average" | "marginal"; None when the interval had no intensity (its emissions are not
    # counted, and it takes no part in the run's kind or mean intensity).
    intensity_kind: str | None
    intensity_live: bool
    # What the intensity counts (see wattprint.intensity.Intensity); None when unknown.
    intensity_basis: str | None = None  # "generation" | "consumption"
    intensity_scope: str | None = None  # "lifecycle" | "direct" | "direct+upstream"
    intensity_gases: str | None = None  # "CO2e" | "CO2"
    components: tuple[ComponentEnergy, ...] = ()
    gaps: tuple[str, ...] = ()
    work: tuple[tuple[str, float], ...] = ()  # (unit, count) done in this interval

    @property
    def scored(self) -> bool:
        """Whether the interval had an intensity (and so counted emissions)."""
        return self.intensity_kind is not None

    def to_row(self) -> dict[str, Any]:
        """Flat mapping (components and gaps as JSON text) for CSV, SQL and HTTP."""
        import json

        row = {name: getattr(self, name) for name in RECORD_COLUMNS}
        row["components"] = json.dumps([c.to_dict() for c in self.components], sort_keys=True)
        row["gaps"] = json.dumps(list(self.gaps))
        row["work"] = json.dumps([{"unit": u, "count": c} for u, c in self.work])
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Record:
        import json

        components = row.get("components") or "[]"
        gaps = row.get("gaps") or "[]"
        comp_list = json.loads(components) if isinstance(components, str) else components
        gap_list = json.loads(gaps) if isinstance(gaps, str) else gaps
        year = row.get("intensity_year")
        return cls(
            run_id=str(row["run_id"]),
            seq=int(row["seq"]),
            start_s=float(row["start_s"]),
            duration_s=float(row["duration_s"]),
            cpu_energy_j=float(row["cpu_energy_j"]),
            gpu_energy_j=float(row["gpu_energy_j"]),
            ram_energy_j=float(row["ram_energy_j"]),
            other_energy_j=float(row["other_energy_j"]),
            energy_j=float(row["energy_j"]),
            pue=float(row["pue"]),
            emissions_g=float(row["emissions_g"]),
            intensity_g_per_kwh=float(row["intensity_g_per_kwh"]),
            intensity_zone=str(row["intensity_zone"]),
            intensity_source=str(row["intensity_source"]),
            intensity_year=None if year in (None, "") else int(year),
            intensity_kind=_text_or_none(row["intensity_kind"]),
            intensity_live=_as_bool(row["intensity_live"]),
            intensity_basis=_text_or_none(row.get("intensity_basis")),
            intensity_scope=_text_or_none(row.get("intensity_scope")),
            intensity_gases=_text_or_none(row.get("intensity_gases")),
            components=tuple(ComponentEnergy.from_dict(c) for c in comp_list),
            gaps=tuple(str(g) for g in gap_list),
            work=work_from_wire(row.get("work") or ()),
        )


def _text_or_none(value: Any) -> str | None:
    # CSV has no null: an empty cell is "unknown", like SQL's NULL and JSON's null.
    return None if value is None or value == "" else str(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


RECORD_COLUMNS: tuple[str, ...] = field_names(Record)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """Static context of a run, written once when it starts."""

    run_id: str
    project: str
    experiment: str
    started_s: float
    scope: str
    interval_s: float
    pue: float
    location: Mapping[str, Any]
    host: Mapping[str, Any]  # hostname, os, python, cpu model, pid, command
    devices: tuple[Mapping[str, Any], ...]  # DeviceInfo as dicts
    skipped: tuple[Mapping[str, Any], ...]  # probes that found nothing, with reason and fix
    warnings: tuple[str, ...] = ()
    wattprint_version: str = ""
    schema_version: int = SCHEMA_VERSION
    tags: Mapping[str, str] = field(default_factory=dict)
    job: Mapping[str, Any] | None = None  # distributed job identity, node and rank

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInfo:
        known = {k: data[k] for k in field_names(cls) if k in data}
        for key in ("devices", "skipped", "warnings"):
            known[key] = tuple(known.get(key, ()))
        return cls(**known)


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """All closed instances of one span name under one parent, aggregated.

    A training loop opens millions of ``step`` spans: they are kept as one row per (parent,
    name) with count, sums and extremes, so memory and the store stay flat. ``span_id`` is the
    path of names from the outermost span ("train/epoch-3/step"); ``parent_id`` is the parent's
    path. ``boundary`` says how the span's edges were placed on the sampler's timeline:
    ``interpolated`` (linear within one sampling period of each edge).
    """

    run_id: str
    span_id: str
    parent_id: str | None
    name: str
    count: int
    first_start_s: float  # wall clock (Unix s) of the first instance's start
    last_end_s: float  # wall clock of the last instance's end
    duration_s: float  # sum over instances
    duration_min_s: float
    duration_max_s: float
    cpu_energy_j: float
    gpu_energy_j: float
    ram_energy_j: float
    other_energy_j: float
    energy_j: float  # sum over instances
    energy_min_j: float
    energy_max_j: float
    emissions_g: float
    work: tuple[tuple[str, float], ...] = ()  # (unit, count) summed over instances
    boundary: str = "interpolated"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["work"] = [{"unit": u, "count": c} for u, c in self.work]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpanRecord:
        known = {k: data[k] for k in field_names(cls) if k in data}
        known["work"] = work_from_wire(data.get("work") or ())
        return cls(**known)


def work_from_wire(items: Any) -> tuple[tuple[str, float], ...]:
    """``[{"unit": "samples", "count": 128}]`` (wire) or ``{"samples": 128}`` -> sorted pairs."""
    import json

    if isinstance(items, str):
        items = json.loads(items) if items else ()
    if isinstance(items, dict):
        pairs = [(str(k), float(v)) for k, v in items.items()]
    else:
        pairs = [(str(i["unit"]), float(i["count"])) if isinstance(i, dict)
                 else (str(i[0]), float(i[1])) for i in items]
    return tuple(sorted(pairs))


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """A live tracker saying it is still there (see :mod:`wattprint.store`'s liveness rule)."""

    run_id: str
    at_s: float  # wall clock, Unix s
    every_s: float  # how often the tracker promises to send one

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Prediction:
    """Where a run is heading: its totals once the work it expects is done (see
    :mod:`wattprint.advice.predict`), with a band holding the truth at rate ``level``.

    Made after record ``seq``, at ``at_s`` (wall clock, Unix s), when ``done`` of ``total``
    units were done. It rests on the current regime: ``regime_intervals`` intervals since
    ``regime_start_s``, at ``seconds_per_unit`` and ``energy_j_per_unit``; ``rebased`` counts
    the changes of cost (a warm-up, a slowdown) that started a new regime. ``end_s`` is the
    predicted end (wall clock). Readers keep the latest per run (the highest ``seq``).
    """

    run_id: str
    seq: int
    at_s: float
    unit: str
    done: float
    total: float
    level: float
    duration_s: float
    duration_low_s: float
    duration_high_s: float
    energy_j: float
    energy_low_j: float
    energy_high_j: float
    emissions_g: float
    emissions_low_g: float
    emissions_high_g: float
    end_s: float
    seconds_per_unit: float
    energy_j_per_unit: float
    regime_start_s: float
    regime_intervals: int
    rebased: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prediction:
        known = {k: data[k] for k in field_names(cls)}
        known["run_id"], known["unit"] = str(known["run_id"]), str(known["unit"])
        known["seq"], known["regime_intervals"] = int(known["seq"]), int(known["regime_intervals"])
        known["rebased"] = int(known["rebased"])
        for name, value in known.items():
            if name not in ("run_id", "unit", "seq", "regime_intervals", "rebased"):
                known[name] = float(value)
        return cls(**known)


@dataclass(slots=True)
class Totals:
    """Running sums over records (used by the tracker, spans and summaries)."""

    duration_s: float = 0.0
    cpu_energy_j: float = 0.0
    gpu_energy_j: float = 0.0
    ram_energy_j: float = 0.0
    other_energy_j: float = 0.0
    emissions_g: float = 0.0

    @property
    def energy_j(self) -> float:
        return self.cpu_energy_j + self.gpu_energy_j + self.ram_energy_j + self.other_energy_j

    def add(self, record: Record) -> None:
        self.duration_s += record.duration_s
        self.cpu_energy_j += record.cpu_energy_j
        self.gpu_energy_j += record.gpu_energy_j
        self.ram_energy_j += record.ram_energy_j
        self.other_energy_j += record.other_energy_j
        self.emissions_g += record.emissions_g


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run's totals, with provenance, in the documented summary format."""

    run_id: str
    project: str
    experiment: str
    started_s: float
    duration_s: float
    energy_j: Mapping[str, float]  # cpu, gpu, ram, other, total
    emissions_g: float
    # {component, device, method, energy_j, share, share_basis, detail}
    components: tuple[Mapping[str, Any], ...]
    # {g_per_kwh, zone, source, year, kind, live, basis, scope, gases, note, varied, by_kind}
    intensity: Mapping[str, Any]
    location: Mapping[str, Any]
    pue: float
    scope: str
    spans: tuple[Mapping[str, Any], ...] = ()
    warnings: tuple[str, ...] = ()
    gaps: tuple[str, ...] = ()
    status: str = "finished"
    exit_code: int | None = None
    records: int = 0
    job: Mapping[str, Any] | None = None  # distributed job identity, node and rank
    pue_source: str = ""
    # Beside emissions_g, never added to it (see wattprint.footprint):
    embodied_g: float | None = None
    embodied: Mapping[str, Any] | None = None
    water_l: float | None = None
    water: Mapping[str, Any] | None = None
    market_based: Mapping[str, Any] | None = None
    # [{unit, count, energy_j_per_unit, emissions_g_per_unit}] from ``Tracker.step``
    work: tuple[Mapping[str, Any], ...] = ()
    # The last prediction (Prediction.to_dict()) when ``Tracker.expect`` was told the total
    # work, and the budgets ({budget_g, budget_kwh, alerts}) when set; None otherwise.
    prediction: Mapping[str, Any] | None = None
    budget: Mapping[str, Any] | None = None
    # Where each sink's data went: "delivered", or the spool file holding what was not
    # (see wattprint.exporter). Known only after the final flush, so absent from the copy
    # the sinks receive.
    delivery: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["energy_kwh"] = self.energy_j.get("total", 0.0) / J_PER_KWH
        return data

    def dumps(self) -> str:
        import json

        return json.dumps(self.to_json(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunSummary:
        known = {k: data[k] for k in field_names(cls) if k in data}
        for key in ("components", "spans", "warnings", "gaps", "work"):
            known[key] = tuple(known.get(key, ()))
        # Summaries written before wire version 3 lack these keys: they become "unknown" (null),
        # never a guess (see docs/wire-format.md).
        known["components"] = tuple({"share": None, "share_basis": None, **c}
                                    for c in known["components"])
        intensity = known.get("intensity")
        if intensity and "g_per_kwh" in intensity:
            known["intensity"] = {"basis": None, "scope": None, "gases": None, "by_kind": None,
                                  **intensity}
        return cls(**known)


#: The run-level ``kind`` (and ``basis``, ``scope``, ``gases``) of intervals that did not all
#: agree: their figures measure different things and are listed apart (``by_kind``).
MIXED = "mixed"


def one_or_mixed(values: Iterable[str]) -> str | None:
    """The one value all of ``values`` share, :data:`MIXED` if they differ, None if empty."""
    found = set(values)
    if len(found) > 1:
        return MIXED
    return found.pop() if found else None


class _KindTotals:
    """Sums over the records of one intensity kind (None: records without an intensity)."""

    __slots__ = ("duration_s", "emissions_g", "energy_j", "records", "weighted_kwh")

    def __init__(self) -> None:
        self.records = 0
        self.duration_s = 0.0
        self.energy_j = 0.0
        self.weighted_kwh = 0.0  # energy x PUE, the denominator of the mean intensity
        self.emissions_g = 0.0

    def add(self, record: Record) -> None:
        self.records += 1
        self.duration_s += record.duration_s
        self.energy_j += record.energy_j
        self.weighted_kwh += record.energy_j * record.pue / J_PER_KWH
        self.emissions_g += record.emissions_g

    def to_dict(self, kind: str | None) -> dict[str, Any]:
        scored = kind is not None and self.weighted_kwh > 0
        return {"kind": kind, "records": self.records, "duration_s": self.duration_s,
                "energy_j": self.energy_j, "emissions_g": self.emissions_g,
                "g_per_kwh": self.emissions_g / self.weighted_kwh if scored else None}


class _DeviceTotals:
    """One device over a run: energy, and the share attributed to the run with its basis."""

    __slots__ = ("bases", "component", "device", "energy_j", "method", "n", "seen_s",
                 "share_s", "share_sum")

    def __init__(self, comp: ComponentEnergy) -> None:
        self.component, self.device, self.method = comp.component, comp.device, comp.method
        self.energy_j = 0.0
        self.share_s = 0.0  # sum of duration x share
        self.seen_s = 0.0
        self.share_sum = 0.0  # for a run of zero-length records only
        self.n = 0
        self.bases: set[str | None] = set()

    def add(self, comp: ComponentEnergy, duration_s: float) -> None:
        self.energy_j += comp.energy_j
        self.share_s += comp.share * duration_s
        self.seen_s += duration_s
        self.share_sum += comp.share
        self.n += 1
        self.bases.add(comp.share_basis)

    def to_dict(self) -> dict[str, Any]:
        # The run's share of a device is its duration-weighted mean over the records that
        # measured it; bases that changed between records (measured, then a fallback) say so.
        share = self.share_s / self.seen_s if self.seen_s > 0 else self.share_sum / self.n
        bases = self.bases
        basis = next(iter(bases)) if len(bases) == 1 else MIXED
        return {"component": self.component, "device": self.device, "method": self.method,
                "energy_j": self.energy_j, "share": share, "share_basis": basis}


class RunAccumulator:
    """Everything a summary needs from a run's records, kept as running sums.

    The tracker feeds it each record instead of keeping the records: a week at a 1 s interval
    is 600,000 records, and memory must stay flat however long the run.

    Every run-level figure is computed here from the records, never copied from one of them:
    the kind is every scored interval's kind (or :data:`MIXED`), the mean intensity is over the
    intervals that had an intensity, and emissions are also kept per kind (``by_kind``).
    """

    def __init__(self) -> None:
        self.totals = Totals()
        self.count = 0
        self._per_device: dict[str, _DeviceTotals] = {}
        self._gaps: dict[str, None] = {}
        self._by_kind: dict[str | None, _KindTotals] = {}
        self._first_g_per_kwh: float | None = None
        self._last_g_per_kwh = 0.0
        self._varied = False
        self._sources: set[str] = set()
        self._zones: set[str] = set()
        self._years: set[int] = set()
        self._labels: dict[str, set[str | None]] = {"basis": set(), "scope": set(),
                                                    "gases": set()}
        self._live = False
        self._cpu_share_s = 0.0  # sum of duration x CPU share, for embodied attribution
        self._cpu_s = 0.0
        self.work: dict[str, float] = {}

    def add(self, record: Record) -> None:
        self.totals.add(record)
        self.count += 1
        for unit, count in record.work:
            self.work[unit] = self.work.get(unit, 0.0) + count
        self._gaps.update(dict.fromkeys(record.gaps))
        for comp in record.components:
            device = self._per_device.get(comp.device)
            if device is None:
                device = self._per_device[comp.device] = _DeviceTotals(comp)
            device.add(comp, record.duration_s)
            if comp.component == "cpu":
                self._cpu_share_s += record.duration_s * comp.share
                self._cpu_s += record.duration_s
        kind = record.intensity_kind
        totals = self._by_kind.get(kind)
        if totals is None:
            totals = self._by_kind[kind] = _KindTotals()
        totals.add(record)
        if not record.scored:  # no intensity: no part in the run's intensity figures
            return
        g_per_kwh = record.intensity_g_per_kwh
        if self._first_g_per_kwh is None:
            self._first_g_per_kwh = g_per_kwh
        self._varied = self._varied or g_per_kwh != self._first_g_per_kwh
        self._last_g_per_kwh = g_per_kwh
        self._sources.add(record.intensity_source)
        self._zones.add(record.intensity_zone)
        if record.intensity_year is not None:
            self._years.add(record.intensity_year)
        self._live = self._live or record.intensity_live
        self._labels["basis"].add(record.intensity_basis)
        self._labels["scope"].add(record.intensity_scope)
        self._labels["gases"].add(record.intensity_gases)

    @property
    def mean_cpu_share(self) -> float:
        """Duration-weighted share of the CPU attributed to the run (1.0 when unknown)."""
        return self._cpu_share_s / self._cpu_s if self._cpu_s > 0 else 1.0

    def by_kind(self) -> list[dict[str, Any]]:
        """Records, energy and emissions per intensity kind; kind None holds the intervals
        without an intensity (their energy is counted, their emissions are not)."""
        order = sorted(self._by_kind, key=lambda k: (k is None, k or ""))
        return [self._by_kind[kind].to_dict(kind) for kind in order]

    def intensity(self) -> dict[str, Any]:
        """The intensity behind the run's emissions, computed from every scored record."""
        if not self.count:
            return {}
        scored = [t for k, t in self._by_kind.items() if k is not None]
        kind = one_or_mixed(k for k in self._by_kind if k is not None)
        kwh = sum(t.weighted_kwh for t in scored)
        if kind is None or kind == MIXED:
            g_per_kwh = None  # no intensity at all, or kinds that must not be averaged together
        elif kwh > 0:
            g_per_kwh = sum(t.emissions_g for t in scored) / kwh
        else:  # scored records without energy: the value they saw
            g_per_kwh = self._last_g_per_kwh
        zones, sources = sorted(self._zones), sorted(self._sources)
        labels = {name: None if not values else
                  MIXED if len(values) > 1 else next(iter(values))
                  for name, values in self._labels.items()}
        return {
            "g_per_kwh": g_per_kwh,
            "zone": ",".join(zones),
            "source": "; ".join(sources) if sources else "unavailable",
            "year": max(self._years) if self._years else None,
            "kind": kind,
            "live": self._live,
            **labels,
            "varied": self._varied,
            "by_kind": self.by_kind(),
        }

    def summary(
        self,
        info: RunInfo,
        *,
        spans: Iterable[SpanRecord] = (),
        status: str = "finished",
        exit_code: int | None = None,
        duration_s: float | None = None,
        intensity_detail: Mapping[str, Any] | None = None,
    ) -> RunSummary:
        totals = self.totals
        details = {str(d.get("device")): d for d in info.devices}
        components = []
        for device, entry in self._per_device.items():
            component = entry.to_dict()
            if device in details:
                component["detail"] = details[device].get("detail", "")
            components.append(component)
        intensity = {**(intensity_detail or {}), **self.intensity()}
        if intensity.get("kind") == MIXED:
            intensity["note"] = join_notes(intensity.get("note"), mixed_note(self.by_kind()))
        return RunSummary(
            run_id=info.run_id,
            project=info.project,
            experiment=info.experiment,
            started_s=info.started_s,
            duration_s=totals.duration_s if duration_s is None else duration_s,
            energy_j={
                "cpu": totals.cpu_energy_j,
                "gpu": totals.gpu_energy_j,
                "ram": totals.ram_energy_j,
                "other": totals.other_energy_j,
                "total": totals.energy_j,
            },
            emissions_g=totals.emissions_g,
            components=tuple(components),
            intensity=intensity,
            location=dict(info.location),
            pue=info.pue,
            scope=info.scope,
            spans=tuple(s.to_dict() for s in spans),
            warnings=info.warnings,
            gaps=tuple(self._gaps),
            status=status,
            exit_code=exit_code,
            records=self.count,
            job=dict(info.job) if info.job else None,
            work=tuple(per_unit(self.work, totals.energy_j, totals.emissions_g)),
        )


def join_notes(*notes: str | None) -> str | None:
    text = "; ".join(n for n in notes if n)
    return text or None


def mixed_note(by_kind: Iterable[Mapping[str, Any]]) -> str:
    """What a run of mixed intensity kinds says about its emissions figure."""
    parts = [f"{row['emissions_g']:.4g} g {row['kind']}" for row in by_kind
             if row.get("kind") is not None]
    return ("intervals used different intensity kinds, which measure different things: "
            f"emissions_g adds {' + '.join(parts)} (see by_kind); no single mean intensity")


def per_unit(work: Mapping[str, float], energy_j: float,
             emissions_g: float) -> list[dict[str, Any]]:
    """Energy and emissions per unit of work (``None`` where no work was counted)."""
    return [{"unit": unit, "count": count,
             "energy_j_per_unit": energy_j / count if count else None,
             "emissions_g_per_unit": emissions_g / count if count else None}
            for unit, count in sorted(work.items())]


def summarize(
    info: RunInfo,
    records: Iterable[Record],
    *,
    spans: Iterable[SpanRecord] = (),
    status: str = "finished",
    exit_code: int | None = None,
    duration_s: float | None = None,
    intensity_detail: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Totals of ``records`` for the run described by ``info``."""
    acc = RunAccumulator()
    for record in records:
        acc.add(record)
    return acc.summary(info, spans=spans, status=status, exit_code=exit_code,
                       duration_s=duration_s, intensity_detail=intensity_detail)


def combine(summaries: Sequence[RunSummary], *, run_id: str) -> RunSummary:
    """One summary for a distributed job from its ranks' runs.

    Each device is measured by exactly one rank (see :mod:`wattprint.cluster`), so energies and
    emissions add up; devices keep their rank's node in their name so two nodes' ``rapl:package-0``
    stay apart.
    """
    if not summaries:
        raise ValueError("no runs to combine")
    keys = ("cpu", "gpu", "ram", "other", "total")
    energy = {k: sum(s.energy_j.get(k, 0.0) for s in summaries) for k in keys}
    emissions = sum(s.emissions_g for s in summaries)
    components = []
    for summary in summaries:
        node = (summary.job or {}).get("node") or ""
        for comp in summary.components:
            components.append({**comp, "run_id": summary.run_id, "node": node})
    first = summaries[0]
    intensity = combine_intensity(summaries)
    statuses = {s.status for s in summaries}
    warnings = tuple(dict.fromkeys(w for s in summaries for w in s.warnings))
    # Each node's server is carried by its leader's run and each GPU card by its owner's (see
    # footprint), so the ranks' embodied figures add up to the job's.
    embodied = [s.embodied_g for s in summaries if s.embodied_g is not None]
    return RunSummary(
        run_id=run_id, project=first.project, experiment=first.experiment,
        started_s=min(s.started_s for s in summaries),
        duration_s=max(s.started_s + s.duration_s for s in summaries)
        - min(s.started_s for s in summaries),
        energy_j=energy, emissions_g=emissions, components=tuple(components),
        intensity=intensity, location=dict(first.location), pue=first.pue, scope=first.scope,
        spans=(), warnings=warnings, gaps=tuple(g for s in summaries for g in s.gaps),
        status=statuses.pop() if len(statuses) == 1 else "mixed",
        records=sum(s.records for s in summaries),
        job={"job_id": run_id, "ranks": len(summaries),
             "nodes": sorted({str((s.job or {}).get("node")) for s in summaries})},
        embodied_g=sum(embodied) if embodied else None,
    )


def combine_intensity(summaries: Sequence[RunSummary]) -> dict[str, Any]:
    """The intensity of several runs taken together, recomputed from each run's per-kind
    totals: one kind, or :data:`MIXED` with no single mean."""
    parts = [s.intensity for s in summaries if s.intensity]
    if not parts:
        return {}
    merged = dict(parts[0])
    scored = [i for i in parts if i.get("kind") is not None]
    merged["kind"] = kind = one_or_mixed(str(i["kind"]) for i in scored)
    for label in ("basis", "scope", "gases"):
        merged[label] = one_or_mixed(str(i[label]) for i in scored if i.get(label) is not None)
    merged["zone"] = ",".join(sorted({z for i in scored for z in str(i.get("zone", "")).split(",")
                                      if z}))
    merged["source"] = "; ".join(sorted({str(i.get("source", "")) for i in scored})) or \
        "unavailable"
    years = [i["year"] for i in scored if i.get("year") is not None]
    merged["year"] = max(years) if years else None
    merged["live"] = any(i.get("live") for i in scored)
    values = {i.get("g_per_kwh") for i in scored}
    merged["varied"] = len(values) > 1 or any(i.get("varied") for i in scored)
    by_kind: list[dict[str, Any]] | None = None
    if all(s.intensity.get("by_kind") is not None for s in summaries if s.intensity):
        sums: dict[str | None, dict[str, Any]] = {}
        for summary in summaries:
            for row in (summary.intensity or {}).get("by_kind") or ():
                into = sums.setdefault(row["kind"], {"kind": row["kind"], "records": 0,
                                                     "duration_s": 0.0, "energy_j": 0.0,
                                                     "emissions_g": 0.0, "weighted_kwh": 0.0})
                for name in ("records", "duration_s", "energy_j", "emissions_g"):
                    into[name] += row[name]
                into["weighted_kwh"] += row["energy_j"] * summary.pue / J_PER_KWH
        by_kind = []
        for key in sorted(sums, key=lambda k: (k is None, k or "")):
            total = sums[key]
            kwh = total.pop("weighted_kwh")
            total["g_per_kwh"] = (total["emissions_g"] / kwh if key is not None and kwh > 0
                                  else None)
            by_kind.append(total)
    merged["by_kind"] = by_kind
    if kind is None or kind == MIXED:
        merged["g_per_kwh"] = None
    elif by_kind is not None:
        merged["g_per_kwh"] = next(r["g_per_kwh"] for r in by_kind if r["kind"] == kind)
    else:  # runs summarised before wire version 3: their own energy-weighted means
        kwh = sum(s.energy_j.get("total", 0.0) * s.pue for s in summaries) / J_PER_KWH
        if kwh > 0:
            merged["g_per_kwh"] = sum(s.emissions_g for s in summaries) / kwh
    if kind == MIXED and by_kind is not None:
        merged["note"] = join_notes(parts[0].get("note"), mixed_note(by_kind))
    return merged
