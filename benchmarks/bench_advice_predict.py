"""The "how much" predictor's cost per record cut, on the tracker's thread.

- ``Predictor.add``: one record of a long training run (lognormal step times, 30% noise; a
  warm-up, then a slowdown at 60%), after the regime has filled its :data:`MAX_BLOCKS` blocks:
  the merge and the change-point scan at their largest; median and p99 in microseconds;
- the same with the budgets checked (``Budget.check``), as the tracker does when both are set;
- for scale: the share of one tracker thread this costs at the default 5 s interval.

    python benchmarks/bench_advice_predict.py [--records 20000]

Pure CPU, no I/O: note `uptime` beside the figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from _common import emit


def records(n: int) -> list:
    """``n`` five-second records of a run of 0.5 s steps at 300 W (warm-up 5x for the first
    2%, twice as slow from 60% on)."""
    from wattprint.records import Record

    rng = random.Random(1)
    out = []
    for i in range(n):
        cost = 0.5 * (5.0 if i < n // 50 else 2.0 if i >= n * 3 // 5 else 1.0)
        steps = max(1, round(5.0 / cost * rng.lognormvariate(0.0, 0.3)))
        energy = 1500.0 * (1 + rng.gauss(0.0, 0.05))
        out.append(Record(
            run_id="bench", seq=i, start_s=1_780_000_000.0 + 5 * i, duration_s=5.0,
            cpu_energy_j=0.0, gpu_energy_j=energy, ram_energy_j=0.0, other_energy_j=0.0,
            energy_j=energy, pue=1.0, emissions_g=energy * 300 / 3.6e6,
            intensity_g_per_kwh=300.0, intensity_zone="FR", intensity_source="bench",
            intensity_year=2025, intensity_kind="average", intensity_live=False,
            work=(("steps", float(steps)),)))
    return out


def per_record_us(trace: list, *, with_budget: bool) -> list[float]:
    from wattprint.advice.budget import Budget
    from wattprint.advice.predict import Predictor

    predictor = Predictor(total=sum(r.work[0][1] for r in trace), unit="steps")
    budget = Budget(budget_g=1e9, budget_kwh=1e9) if with_budget else None
    energy_j = emissions_g = 0.0
    times = []
    perf = time.perf_counter
    for record in trace:
        began = perf()
        found = predictor.add(record)
        if budget is not None:
            energy_j += record.energy_j
            emissions_g += record.emissions_g
            budget.check(energy_j=energy_j, emissions_g=emissions_g, prediction=found,
                         at_s=record.start_s + record.duration_s)
        times.append((perf() - began) * 1e6)
    return times[200:]  # past the first blocks: the regime full, every cut at its dearest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=20_000)
    args = parser.parse_args()
    trace = records(args.records)
    alone = per_record_us(trace, with_budget=False)
    both = per_record_us(trace, with_budget=True)
    median = statistics.median(alone)
    emit("advice_predict", {
        "records": args.records,
        "predict_median_us": round(median, 1),
        "predict_p99_us": round(statistics.quantiles(alone, n=100)[98], 1),
        "predict_and_budget_median_us": round(statistics.median(both), 1),
        "tracker_thread_share_at_5s_interval": f"{median / 5e6:.1e}",
    })


if __name__ == "__main__":
    main()
