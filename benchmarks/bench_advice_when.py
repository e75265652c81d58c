"""The "when" advice's searches on the largest inputs they meet: wall time per call.

- ``best_start_window`` over a WattTime-sized forecast: 72 h of five-minute points (864), a
  3 h 10 min run, the deadline at the forecast's end (every corner of the search is tried);
- ``best_past_start`` over a long run: 20,000 records (grouped to 300), moved by 5 min steps
  up to 24 h either way (577 shifts) across hourly history.

    python benchmarks/bench_advice_when.py [--repeat 20]

Pure CPU, no I/O: note `uptime` beside the figures.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from datetime import datetime, timedelta, timezone

from _common import emit


def forecast_points() -> list:
    from wattprint.intensity.providers import IntensityPoint

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    step = timedelta(minutes=5)
    return [IntensityPoint(start=t0 + i * step, end=t0 + (i + 1) * step,
                           g_per_kwh=400 + 150 * math.sin(i / 40) + (i * 37 % 11),
                           kind="marginal", zone="CAISO_NORTH", source="watttime",
                           forecast=True) for i in range(864)]


def long_run() -> tuple[list, list]:
    from wattprint.intensity.providers import IntensityPoint
    from wattprint.records import ComponentEnergy, Record

    start = datetime(2025, 12, 20, tzinfo=timezone.utc)
    records = [Record(run_id="bench", seq=i + 1, start_s=start.timestamp() + 5 * i,
                      duration_s=5.0, cpu_energy_j=500.0, gpu_energy_j=0.0, ram_energy_j=0.0,
                      other_energy_j=0.0, energy_j=500.0 + i % 7, pue=1.1, emissions_g=0.05,
                      intensity_g_per_kwh=300.0, intensity_zone="DE", intensity_source="Ember",
                      intensity_year=2024, intensity_kind="average", intensity_live=False,
                      components=(ComponentEnergy("cpu", "rapl:0", "measured", 500.0),),
                      gaps=(), work=()) for i in range(20_000)]
    hour = timedelta(hours=1)
    history = [IntensityPoint(start=start - 30 * hour + i * hour,
                              end=start - 29 * hour + i * hour,
                              g_per_kwh=300 + 120 * math.sin(i / 4), kind="average", zone="DE",
                              source="electricitymaps", forecast=False) for i in range(120)]
    return records, history


def timed(call, repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}


def main() -> None:
    from wattprint.advice.hindsight import best_past_start
    from wattprint.advice.windows import best_start_window

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    points = forecast_points()
    now = points[0].start + timedelta(minutes=2)
    emit("best_start_window_864_points", timed(
        lambda: best_start_window(points, timedelta(hours=3, minutes=10), points[-1].end,
                                  now=now), args.repeat))
    records, history = long_run()
    emit("best_past_start_20000_records_577_shifts", timed(
        lambda: best_past_start(records, history, window=timedelta(hours=24)),
        max(1, args.repeat // 4)))


if __name__ == "__main__":
    main()
