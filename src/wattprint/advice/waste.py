"""What a run wasted, from its own records: no new reading, no schema change.

Three findings, each with the figures it rests on and the saving the change would bring:

- **Accelerator allocated but idle.** A GPU whose power over an interval sits at or below its
  idle threshold: ``IDLE_FRACTION`` of its power limit (from the run's device info), or of the
  highest power it reached in the run when the device info states no limit (said so). Records
  hold energy, not utilisation: idleness is *inferred from power*, and the output says so.
- **GPU waiting on the CPU.** The same idle GPU while the CPU is busy: a CPU-bound phase (data
  loading, preprocessing) the GPU sits through. The CPU counts as busy when its power is at
  least ``CPU_BUSY_FRACTION`` of the way from its idle to its full power: the modelled CPU's own
  ``idle_w``/``max_w`` (device info), else the lowest and highest CPU power of the run (said so).
- **Machine energy other processes used.** A device split by process scope (``share < 1``)
  drew ``energy_j / share`` in total; the rest (``energy_j / share - energy_j``) went to other
  processes and is not in the run's total. A share of 0 hides the device's total: counted, not
  guessed.

Savings are IT energy (Wh) and, at each interval's own PUE and intensity, grams CO2e: what the
run's footprint would lose had the idle GPU been released (or given work), had the CPU work
overlapped the GPU's (more data-loader workers, prefetching, preprocessing once ahead), or had
the other processes not run. An interval without an intensity contributes energy but no grams.
"""

from __future__ import annotations

from collections.abc import Mapping

from .._struct import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Sequence

    from ..records import Record, RunInfo

    # one interval: (duration_s, energy_j, grams per J at its PUE and intensity, devices as
    # (component, device, energy_j, share, share_basis)): what the scan reads of a record
    _Interval = tuple[float, float, float, list[tuple[str, str, float, float, str | None]]]

__all__ = ["CPU_BUSY_FRACTION", "IDLE_FRACTION", "WASTE_COLUMNS", "Finding", "WasteReport",
           "waste_report", "waste_report_rows"]

J_PER_WH = 3600.0
J_PER_KWH = 3_600_000.0
# A GPU at rest draws well under a fifth of its power limit (an A100 idles near 50-60 W of its
# 400 W; an H100 SXM near 70-100 W of 700 W), while any steady stream of kernels lifts it above;
# a fifth leaves room for memory clocks held up between kernels. A judgement, stated in the
# output with the watts it gives for each device.
IDLE_FRACTION = 0.2
# A data loader on a few cores lifts a CPU a fraction of its idle-to-full range; a quarter of it
# separates such work from an idle CPU's background noise. Stated in the output likewise.
CPU_BUSY_FRACTION = 0.25
#: What :func:`waste_report_rows` reads of each record, in this order.
WASTE_COLUMNS = ("seq", "duration_s", "energy_j", "pue", "intensity_g_per_kwh",
                 "intensity_kind", "components")
# A CPU range judged from the run itself narrower than this share of its top says nothing.
_FLAT_CPU = 0.10


@dataclass(frozen=True, slots=True)
class Finding:
    """One kind of waste on one device."""

    kind: str  # "idle_accelerator" | "gpu_waiting_on_cpu" | "other_processes"
    device: str
    seconds: float  # wall time it applies to
    share_of_time: float  # of the run's duration
    energy_j: float  # the run's (tracked) energy in it; other_processes: the others' energy
    share_of_device_energy: float | None  # of the device's energy in the run
    saving_j: float  # IT energy the change saves
    saving_g: float  # at the intervals' own PUE and intensity
    change: str  # what to do, in words
    based_on: str  # the figures, in words
    inferred_from: str  # "power" | "shares"
    threshold_w: float | None = None
    figures: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "device": self.device, "seconds": self.seconds,
                "share_of_time": self.share_of_time, "energy_j": self.energy_j,
                "energy_wh": self.energy_j / J_PER_WH,
                "share_of_device_energy": self.share_of_device_energy,
                "saving_j": self.saving_j, "saving_wh": self.saving_j / J_PER_WH,
                "saving_g": self.saving_g, "change": self.change, "based_on": self.based_on,
                "inferred_from": self.inferred_from, "threshold_w": self.threshold_w,
                "figures": dict(self.figures)}


@dataclass(frozen=True, slots=True)
class WasteReport:
    run_id: str
    duration_s: float
    energy_j: float  # the run's IT energy
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()

    @property
    def saving_j(self) -> float:
        return sum(f.saving_j for f in self.findings)

    @property
    def saving_g(self) -> float:
        return sum(f.saving_g for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "duration_s": self.duration_s,
                "energy_j": self.energy_j, "findings": [f.to_dict() for f in self.findings],
                "saving_j": self.saving_j, "saving_wh": self.saving_j / J_PER_WH,
                "saving_g": self.saving_g,
                "saving_note": "an upper bound, as findings may overlap (one device's "
                               "energy can be idle and shared with others at once)",
                "notes": list(self.notes)}


def _grams_per_j(record: Record) -> float:
    if not record.scored:
        return 0.0
    return record.pue * record.intensity_g_per_kwh / J_PER_KWH


def _device_j(energy_j: float, share: float) -> float | None:
    """The whole device's energy behind a tracked share; None when a share of 0 hides it."""
    if share >= 1.0:
        return energy_j
    return energy_j / share if share > 0 else None


def _device_info(info: RunInfo) -> dict[str, Mapping[str, Any]]:
    return {str(d.get("device")): d for d in info.devices if d.get("device")}


def _attribute(device: Mapping[str, Any], key: str) -> float | None:
    """A number among a device's attributes (text -> text on the wire; pairs in DeviceInfo)."""
    attributes = device.get("attributes") or {}
    found = attributes.get(key) if isinstance(attributes, Mapping) else \
        next((v for k, v in attributes if k == key), None)
    try:
        return None if found is None else float(found)
    except (TypeError, ValueError):
        return None


def _cpu_power(intervals: Sequence[_Interval]) -> list[float | None]:
    """Each interval's whole-CPU power (W); None where a share of 0 hides it or no CPU."""
    out: list[float | None] = []
    for duration_s, _, _, components in intervals:
        if duration_s <= 0:  # a last record cut at stop: no time, no power
            out.append(None)
            continue
        watts: float | None = 0.0
        seen = False
        for component, _, energy_j, share, _ in components:
            if component != "cpu":
                continue
            seen = True
            whole = _device_j(energy_j, share)
            if whole is None or watts is None:
                watts = None
            else:
                watts += whole / duration_s
        out.append(watts if seen else None)
    return out


def _cpu_busy_w(info: RunInfo, powers: Sequence[float | None]) -> tuple[float | None, str]:
    """The CPU power at and above which the CPU counts as busy, and where it comes from."""
    devices = [d for d in info.devices if d.get("component") == "cpu"]
    idle = [_attribute(d, "idle_w") for d in devices]
    top = [_attribute(d, "max_w") for d in devices]
    low: float
    high: float
    if devices and all(v is not None for v in idle + top):
        low = sum(v for v in idle if v is not None)
        high = sum(v for v in top if v is not None)
        how = (f"the CPU model's idle {low:.4g} W and full {high:.4g} W (device info)")
    else:
        seen = [p for p in powers if p is not None]
        if not seen:
            return None, "no CPU power in the records"
        low, high = min(seen), max(seen)
        if high <= 0 or (high - low) < _FLAT_CPU * high:
            return None, (f"the CPU's power stayed within {low:.4g}-{high:.4g} W in this run and "
                          "its device info states no idle and full power: busy or idle cannot "
                          "be told apart")
        how = f"the lowest {low:.4g} W and highest {high:.4g} W CPU power of this run"
    busy = low + CPU_BUSY_FRACTION * (high - low)
    # The whole CPU's power, every process's: in process scope a busy neighbour makes the CPU
    # busy too, which the text says rather than hides.
    return busy, (f"CPU busy at >= {busy:.4g} W of whole-CPU power (every process's): "
                  f"{CPU_BUSY_FRACTION:.0%} of the way from idle to full, from {how}")


def _limit_w(device: str, info_by_device: Mapping[str, Mapping[str, Any]],
             peak_w: float) -> tuple[float, str]:
    stated = info_by_device.get(device, {}).get("max_power_w")
    if isinstance(stated, (int, float)) and stated > 0:
        return float(stated), f"its power limit {float(stated):g} W (device info)"
    return peak_w, (f"the highest power it reached in this run, {peak_w:.4g} W (the device info "
                    "states no power limit)")


def _gpu_findings(info: RunInfo, intervals: Sequence[_Interval], duration_s: float,
                  notes: list[str]) -> list[Finding]:
    info_by_device = _device_info(info)
    cpu_w = _cpu_power(intervals)
    busy_w, busy_how = _cpu_busy_w(info, cpu_w)
    gpus = sorted({c[1] for r in intervals for c in r[3] if c[0] == "gpu"})
    found: list[Finding] = []
    for gpu in gpus:
        rows = []  # (interval index, tracked J, whole-device W or None)
        for i, (interval_s, _, _, components) in enumerate(intervals):
            for _, device, energy_j, share, _ in components:
                if device == gpu:
                    whole = _device_j(energy_j, share)
                    watts = whole / interval_s if whole is not None and interval_s > 0 \
                        else None
                    rows.append((i, energy_j, watts))
        judged = [w for _, _, w in rows if w is not None]
        if not judged:
            notes.append(f"{gpu}: every interval's share is 0, so its power is unknown: idle "
                         "time not judged")
            continue
        limit, limit_how = _limit_w(gpu, info_by_device, max(judged))
        idle_w = IDLE_FRACTION * limit
        total_j = sum(j for _, j, _ in rows)
        idle: dict[str, list[tuple[int, float]]] = {"idle_accelerator": [],
                                                    "gpu_waiting_on_cpu": []}
        for i, joules, watts in rows:
            if watts is None or watts > idle_w:
                continue
            cpu = cpu_w[i]
            waiting = busy_w is not None and cpu is not None and cpu >= busy_w
            idle["gpu_waiting_on_cpu" if waiting else "idle_accelerator"].append((i, joules))
        threshold = (f"idle at <= {idle_w:.4g} W: {IDLE_FRACTION:.0%} of {limit_how}; "
                     "inferred from power, not utilisation")
        for kind, hits in idle.items():
            if not hits:
                continue
            seconds = sum(intervals[i][0] for i, _ in hits)
            joules = sum(j for _, j in hits)
            grams = sum(j * intervals[i][2] for i, j in hits)
            if kind == "idle_accelerator":
                change = (f"release {gpu} when it has no work, or give it work (it sat idle "
                          f"{seconds:.0f} s)")
                based = threshold + ("" if busy_w is None else
                                     f"; the CPU was not busy then ({busy_how})")
            else:
                change = ("overlap the CPU work with the GPU's: more data-loader workers, "
                          "pinned memory and prefetching, preprocessing once ahead of "
                          f"training ({gpu} waited {seconds:.0f} s on a busy CPU)")
                based = f"{threshold}; {busy_how}"
            found.append(Finding(
                kind=kind, device=gpu, seconds=seconds,
                share_of_time=seconds / duration_s if duration_s > 0 else 0.0,
                energy_j=joules,
                share_of_device_energy=joules / total_j if total_j > 0 else None,
                saving_j=joules, saving_g=grams, change=change, based_on=based,
                inferred_from="power", threshold_w=idle_w,
                figures={"idle_fraction": IDLE_FRACTION, "limit_w": limit,
                         "cpu_busy_w": busy_w, "intervals": len(hits)}))
    if gpus and busy_w is None:
        notes.append(f"GPU waiting on the CPU not judged: {busy_how}")
    return found


def _other_processes(intervals: Sequence[_Interval], duration_s: float,
                     notes: list[str]) -> list[Finding]:
    others: dict[str, list[tuple[int, float, float]]] = {}  # device -> (i, others' J, total J)
    hidden: dict[str, int] = {}
    bases: dict[str, set[str]] = {}
    for i, (_, _, _, components) in enumerate(intervals):
        for _, device, energy_j, share, basis in components:
            if share >= 1.0:
                continue
            bases.setdefault(device, set()).add(basis or "unknown")
            whole = _device_j(energy_j, share)
            if whole is None:
                hidden[device] = hidden.get(device, 0) + 1
                continue
            others.setdefault(device, []).append((i, whole - energy_j, whole))
    for device, count in sorted(hidden.items()):
        notes.append(f"{device}: {count} interval(s) with a share of 0: the device's energy "
                     "there is unknown, so other processes' use is not counted")
    found = []
    for device, hits in sorted(others.items()):
        joules = sum(j for _, j, _ in hits)
        whole = sum(t for _, _, t in hits)
        if joules <= 0:
            continue
        seconds = sum(intervals[i][0] for i, _, _ in hits)
        grams = sum(j * intervals[i][2] for i, j, _ in hits)
        found.append(Finding(
            kind="other_processes", device=device, seconds=seconds,
            share_of_time=seconds / duration_s if duration_s > 0 else 0.0, energy_j=joules,
            share_of_device_energy=joules / whole if whole > 0 else None,
            saving_j=joules, saving_g=grams,
            change=(f"stop what else ran on {device} if it was not needed, or run on a "
                    "machine sized for the job (this energy is not in the run's total)"),
            based_on=(f"the device drew {whole / J_PER_WH:.4g} Wh over {len(hits)} interval(s) "
                      f"where the run's share was below 1 (share basis: "
                      f"{', '.join(sorted(bases[device]))}); "
                      "energy / share - energy is the others'"),
            inferred_from="shares",
            figures={"device_energy_j": whole, "intervals": len(hits)}))
    return found


def waste_report(info: RunInfo, records: Sequence[Record]) -> WasteReport:
    """What the run wasted, from its records (in ``seq`` order) and its info's devices."""
    records = sorted(records, key=lambda r: r.seq)
    return _report(info, [
        (r.duration_s, r.energy_j, _grams_per_j(r),
         [(c.component, c.device, c.energy_j, c.share, c.share_basis) for c in r.components])
        for r in records])


def waste_report_rows(info: RunInfo, rows: Sequence[Sequence[Any]]) -> WasteReport:
    """:func:`waste_report` over raw rows of :data:`WASTE_COLUMNS` (the read API's and the
    query module's ``record_rows``): the same report, without building a :class:`Record` per
    row. ``components`` may be JSON text (SQLite) or decoded lists (a JSON column)."""
    import gc
    import json
    from operator import itemgetter

    # The scan makes a few objects per record and frees none until it ends, which sets the
    # cyclic collector off again and again over the growing heap: ~40% of a 20,000-record scan.
    # None of them forms a cycle, so it is paused, and resumed as it was.
    collecting = gc.isenabled()
    gc.disable()
    try:
        rows = sorted(rows, key=itemgetter(0))
        stored = [row[6] or "[]" for row in rows]
        if all(isinstance(text, str) for text in stored):  # one parse: 1.6x faster than each
            decoded = json.loads("[" + ",".join(stored) + "]")
        else:
            decoded = [json.loads(v) if isinstance(v, str) else v for v in stored]
        intervals: list[_Interval] = []
        for row, components in zip(rows, decoded, strict=True):
            _, duration_s, energy_j, pue, intensity, kind, _ = row
            intervals.append((
                float(duration_s), float(energy_j),
                0.0 if kind is None or kind == "" else float(pue) * float(intensity) / J_PER_KWH,
                [(str(c["component"]), str(c["device"]), float(c["energy_j"]),
                  float(c.get("share", 1.0)), _text_or_none(c.get("share_basis")))
                 for c in components]))
        return _report(info, intervals)
    finally:
        if collecting:
            gc.enable()


def _text_or_none(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _report(info: RunInfo, intervals: list[_Interval]) -> WasteReport:
    duration_s = sum(r[0] for r in intervals)
    notes: list[str] = []
    if not intervals:
        notes.append("no records: nothing to judge")
    findings = _gpu_findings(info, intervals, duration_s, notes)
    findings += _other_processes(intervals, duration_s, notes)
    if info.scope == "machine":
        notes.append("machine scope: the run's total holds every process's energy, so other "
                     "processes' use cannot be told apart; `--scope process` splits it")
    if intervals and not any(c[0] == "gpu" for r in intervals for c in r[3]):
        notes.append("no GPU in the records: no accelerator to find idle")
    return WasteReport(run_id=info.run_id, duration_s=duration_s,
                       energy_j=sum(r[1] for r in intervals), findings=tuple(findings),
                       notes=tuple(notes))
