"""advice.waste on crafted traces stored in (and read back from) a real SQLite store: an idle
GPU half the time, a CPU-bound phase, a CPU shared with other processes. Every figure is
worked out by hand in the comments."""

from __future__ import annotations

import pytest
from advicekit import CPU, GPU, GPU_INFO, IE_G_PER_KWH, info, record, store_run, training_run

from wattprint.advice.waste import CPU_BUSY_FRACTION, IDLE_FRACTION, waste_report
from wattprint.config import load_config
from wattprint.records import ComponentEnergy
from wattprint.store import open_repository

G_PER_J = 1.2 * IE_G_PER_KWH / 3.6e6  # every crafted interval: PUE 1.2, IE 256.54 g/kWh


def stored(run, records):
    """The run as the store gives it back (what `advise` and the dashboards read)."""
    store_run(run, records)
    repo = open_repository(load_config().store_path)
    try:
        return repo.info(run.run_id), repo.records(run.run_id)
    finally:
        repo.close()


def by_kind(report):
    return {(f.kind, f.device): f for f in report.findings}


def test_idle_gpu_cpu_bound_phase_and_other_processes_from_a_stored_trace():
    report = waste_report(*stored(*training_run()))
    found = by_kind(report)
    assert set(found) == {("idle_accelerator", GPU), ("gpu_waiting_on_cpu", GPU),
                          ("other_processes", CPU)}
    assert report.duration_s == 200.0
    # GPU: 8 x 3000 J training + 10 x 500 J idle + 2 x 600 J waiting = 30,200 J
    idle = found[("idle_accelerator", GPU)]
    assert (idle.seconds, idle.share_of_time, idle.energy_j) == (100.0, 0.5, 5000.0)
    assert idle.share_of_device_energy == pytest.approx(5000 / 30200)
    assert idle.saving_j == 5000.0 and idle.saving_g == pytest.approx(5000 * G_PER_J)
    assert idle.threshold_w == pytest.approx(IDLE_FRACTION * 400) == pytest.approx(80.0)
    assert idle.inferred_from == "power"
    assert "inferred from power" in idle.based_on and "power limit 400 W" in idle.based_on
    # CPU busy at 20 + 25% x (200 - 20) = 65 W: the 150 W phase is busy, the 20 W one is not
    waiting = found[("gpu_waiting_on_cpu", GPU)]
    assert waiting.figures["cpu_busy_w"] == pytest.approx(20 + CPU_BUSY_FRACTION * 180)
    assert (waiting.seconds, waiting.share_of_time, waiting.energy_j) == (20.0, 0.1, 1200.0)
    assert waiting.saving_g == pytest.approx(1200 * G_PER_J)
    assert "CPU model's idle 20 W and full 200 W" in waiting.based_on
    # CPU at share 0.5: the device drew 8 x 500 + 10 x 200 + 2 x 1500 = 9,000 J, the run 4,500
    others = found[("other_processes", CPU)]
    assert (others.energy_j, others.share_of_device_energy) == (4500.0, 0.5)
    assert others.figures["device_energy_j"] == 9000.0 and others.seconds == 200.0
    assert others.inferred_from == "shares" and "share basis: measured" in others.based_on
    assert report.saving_j == 5000.0 + 1200.0 + 4500.0
    assert report.saving_g == pytest.approx(10700 * G_PER_J)
    assert report.energy_j == pytest.approx(30200 + 4500)


def test_without_a_power_limit_the_runs_peak_stands_in_and_says_so():
    report = waste_report(*training_run(gpu_info={**GPU_INFO, "max_power_w": None}))
    idle = by_kind(report)[("idle_accelerator", GPU)]
    # 20% of the 300 W peak = 60 W: the 50 W intervals and the 60 W ones are idle
    assert idle.threshold_w == pytest.approx(60.0)
    assert "highest power it reached in this run, 300 W" in idle.based_on
    assert by_kind(report)[("gpu_waiting_on_cpu", GPU)].seconds == 20.0


def test_a_measured_cpu_without_a_model_is_judged_on_the_runs_own_range():
    report = waste_report(*training_run(cpu_info=None))
    waiting = by_kind(report)[("gpu_waiting_on_cpu", GPU)]
    # whole CPU power 20-150 W in the run: busy at 20 + 25% x 130 = 52.5 W
    assert waiting.figures["cpu_busy_w"] == pytest.approx(52.5)
    assert "lowest 20 W and highest 150 W CPU power of this run" in waiting.based_on
    assert by_kind(report)[("idle_accelerator", GPU)].seconds == 100.0


def test_a_flat_cpu_cannot_say_busy_so_every_idle_gpu_interval_is_idle_and_it_is_said():
    run = info("flat0001", devices=[GPU_INFO])
    records = [record("flat0001", s, [
        ComponentEnergy("gpu", GPU, "measured", (300.0 if s <= 2 else 40.0) * 10.0),
        ComponentEnergy("cpu", "rapl:package-0", "measured", 1000.0)]) for s in range(1, 5)]
    report = waste_report(run, records)
    assert set(by_kind(report)) == {("idle_accelerator", GPU)}
    assert any("busy or idle cannot be told apart" in n for n in report.notes)


def test_machine_scope_and_share_zero_and_cpu_only_runs_are_explained_not_guessed():
    machine = waste_report(*training_run(scope="machine", cpu_share=1.0))
    assert ("other_processes", CPU) not in by_kind(machine)
    assert any("machine scope" in n for n in machine.notes)
    run = info("zero0001")
    records = [record("zero0001", 1, [ComponentEnergy("gpu", GPU, "measured", 0.0, 0.0,
                                                      "measured")])]
    zero = waste_report(run, records)
    assert zero.findings == ()
    assert any("share is 0" in n for n in zero.notes)
    assert any("share of 0" in n for n in zero.notes)
    cpu_only = waste_report(info("cpu00001"), [record("cpu00001", 1, [
        ComponentEnergy("cpu", CPU, "measured", 100.0)])])
    assert cpu_only.findings == () and any("no GPU" in n for n in cpu_only.notes)


def test_an_interval_without_intensity_adds_energy_but_no_grams():
    run, records = training_run()
    from wattprint._struct import replace

    records = [replace(r, intensity_kind=None) if r.seq == 9 else r for r in records]
    idle = by_kind(waste_report(run, records))[("idle_accelerator", GPU)]
    assert idle.energy_j == 5000.0 and idle.saving_g == pytest.approx(4500 * G_PER_J)
