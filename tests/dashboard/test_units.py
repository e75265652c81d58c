"""The formatting module and the downsampling of long runs."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from wattprint.server.dashboard import fmt
from wattprint.server.dashboard.local import downsample, figures_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
import storekit  # noqa: E402


@pytest.mark.parametrize("joules, text", [
    (0.0, "0 Wh"), (None, "–"), (720.0, "0.2 Wh"), (3600.0, "1 Wh"), (3280.0, "0.9111 Wh"),
    (36.0, "0.01 Wh"), (30.0, "30 J"), (5_400_000.0, "1.5 kWh"), (1.2345678e10, "3.429 MWh"),
    (0.0123, "12.3 mJ"), (-7200.0, "-2 Wh"),
])
def test_energy(joules, text):
    assert fmt.energy(joules) == text


@pytest.mark.parametrize("grams, text", [
    (0.033152, "0.03315 g"), (0.0042, "4.2 mg"), (1500.0, "1.5 kg"), (2.5e6, "2.5 t"),
    (12.34567, "12.35 g"), (1234.5678, "1.235 kg"),
])
def test_emissions(grams, text):
    assert fmt.emissions(grams) == text


def test_power_duration_trend_and_percent():
    assert fmt.power(144.0) == "144 W" and fmt.power(0.0) == "0 W" and fmt.power(1500) == "1.5 kW"
    assert fmt.number(12345.678) == "12,346" and fmt.number(None) == "–"
    assert fmt.duration(5) == "5 s" and fmt.duration(125) == "2 min 5 s"
    assert fmt.duration(3 * 3600 + 120) == "3 h 2 min" and fmt.duration(90000) == "1 d 1 h"
    assert fmt.trend(150, 100) == "+50 %" and fmt.trend(50, 100) == "−50 %"
    assert fmt.trend(5, 0) == "new" and fmt.trend(0, 0) == "no change" and fmt.trend(1, None) == "–"
    assert fmt.percent(1, 3) == "33.3 %" and fmt.percent(1, 0) == "–"
    assert fmt.timestamp(storekit.T0) == "2026-01-01 00:00:00 UTC"


def test_downsampling_keeps_every_joule_and_gram_and_never_bridges_a_hole():
    records = [storekit.record(seq=i, start=storekit.T0 + i, cpu_j=10.0 * i) for i in range(1, 11)]
    merged, holes = downsample([figures_of(r) for r in records], 3)
    assert len(merged) == 3 and [p.seq for p in merged] == [4, 8, 10] and holes == []
    assert sum(p.energy_j for p in merged) == sum(r.energy_j for r in records)
    assert sum(p.emissions_g for p in merged) == pytest.approx(sum(r.emissions_g for r in records))
    assert merged[0].start_s == storekit.T0 + 1 and merged[0].duration_s == 4.0
    # the merged intensity is energy-weighted: grams = energy x intensity still holds
    assert merged[0].intensity_g_per_kwh == pytest.approx(36.0)
    # a hole of 20 s after record 5: the bucket ends there, and the hole is reported
    holed = records[:5] + [replace(storekit.record(seq=i, start=storekit.T0 + 20 + i),
                                   gaps=("nvml:0: lost",) if i == 7 else ())
                           for i in range(6, 11)]
    merged, holes = downsample([figures_of(r) for r in holed], 3)
    assert [p.seq for p in merged] == [4, 5, 9, 10]
    assert holes == [(storekit.T0 + 6, storekit.T0 + 26)]
    assert merged[2].gaps == ("nvml:0: lost",) and merged[1].gaps == ()
    # few records: one point each, figures unchanged
    alone, _ = downsample([figures_of(r) for r in records], 100)
    assert [(p.seq, p.energy_j) for p in alone] == [(r.seq, r.energy_j) for r in records]


def test_a_note_repeated_on_consecutive_records_is_one_listed_span():
    from wattprint.server.dashboard.data import Point, Series
    from wattprint.server.dashboard.views import measurement_holes

    def point(seq, gaps):
        return Point(seq=seq, start_s=100.0 + seq, duration_s=1.0, cpu_energy_j=1.0,
                     gpu_energy_j=0.0, ram_energy_j=0.0, other_energy_j=0.0, energy_j=1.0,
                     emissions_g=0.0, intensity_g_per_kwh=0.0, gaps=gaps)

    lost = ("nvml:0: lost",)
    series = Series(points=[point(1, lost), point(2, lost), point(3, ()), point(4, lost)],
                    total=4, holes=[(110.0, 120.0)])
    assert [(h["from_s"], h["to_s"], h["what"]) for h in measurement_holes(series)] == [
        (101.0, 103.0, "nvml:0: lost"), (104.0, 105.0, "nvml:0: lost"),
        (110.0, 120.0, "no record (tracker paused or stopped, or the machine slept)")]
