"""Synthetic training runs with known totals, cut into records the way a tracker cuts them.

A run is a list of steps, each with a duration (s) and a power (W). Records are cut every
``interval_s`` of wall time, as the tracker does, so a step may straddle two records: its units
count in the record where it ends, its energy is split by time. The truth (total duration and
energy) is known exactly, so a prediction can be checked against it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from wattprint.records import Record

G_PER_KWH = 300.0
START_S = 1_780_000_000.0


@dataclass(frozen=True)
class Trace:
    records: list[Record]
    done_after: list[float]  # cumulative units after each record
    duration_s: float
    energy_j: float
    emissions_g: float
    steps: int


def steps(n: int, *, seconds: float = 0.5, watts: float = 300.0, noise: float = 0.0,
          power_noise: float = 0.0, warmup_steps: int = 0, warmup_factor: float = 5.0,
          slowdown_at: int | None = None, slowdown_factor: float = 2.0,
          seed: int = 0) -> list[tuple[float, float]]:
    """(duration s, power W) per step: lognormal noise around ``seconds``; the first
    ``warmup_steps`` ``warmup_factor`` times slower; from step ``slowdown_at`` on,
    ``slowdown_factor`` times slower."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        d = seconds * (rng.lognormvariate(0.0, noise) if noise else 1.0)
        if i < warmup_steps:
            d *= warmup_factor
        if slowdown_at is not None and i >= slowdown_at:
            d *= slowdown_factor
        w = watts * (1.0 + rng.gauss(0.0, power_noise)) if power_noise else watts
        out.append((d, max(w, 1.0)))
    return out


def trace(step_list: list[tuple[float, float]], *, interval_s: float = 5.0,
          setup_s: float = 0.0, setup_w: float = 100.0, unit: str = "steps",
          run_id: str = "r1") -> Trace:
    """Records cut every ``interval_s`` over ``setup_s`` of set-up then the steps."""
    segments = [(setup_s, setup_w, 0)] if setup_s > 0 else []
    segments += [(d, w, 1) for d, w in step_list]
    records: list[Record] = []
    done_after: list[float] = []
    t = 0.0
    cut_end = interval_s
    energy = units = 0.0
    done = 0.0
    total_j = 0.0
    last_cut = 0.0

    def emit(end: float) -> None:
        nonlocal energy, units, done, last_cut
        start, duration, last_cut = last_cut, end - last_cut, end
        done += units
        g = energy * G_PER_KWH / 3.6e6
        records.append(Record(
            run_id=run_id, seq=len(records), start_s=START_S + start, duration_s=duration,
            cpu_energy_j=0.0, gpu_energy_j=energy, ram_energy_j=0.0, other_energy_j=0.0,
            energy_j=energy, pue=1.0, emissions_g=g, intensity_g_per_kwh=G_PER_KWH,
            intensity_zone="FR", intensity_source="test", intensity_year=2025,
            intensity_kind="average", intensity_live=False,
            work=((unit, units),) if units else ()))
        done_after.append(done)
        energy = units = 0.0

    for duration, watts, count in segments:
        end = t + duration
        while end >= cut_end:
            energy += watts * (cut_end - t)
            total_j += watts * (cut_end - t)
            t = cut_end
            if end == cut_end:
                units += count
                count = 0
            emit(cut_end)
            cut_end += interval_s
        energy += watts * (end - t)
        total_j += watts * (end - t)
        units += count
        t = end
    if t > last_cut:
        emit(t)
    return Trace(records, done_after, t, total_j, total_j * G_PER_KWH / 3.6e6,
                 len(step_list))
