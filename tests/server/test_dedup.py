"""dedup_energy: a host's energy counted once when runs overlap; exact figures for each case."""

from __future__ import annotations

import pytest

from wattprint.server.dedup import RULE, IntervalRow, dedup_energy


def row(run_id, start_s, duration_s, *, host="host-a", scope="machine", cpu_w=0.0, gpu_w=0.0,
        g_per_j=0.0001, job_id=None, node=None, rank=None) -> IntervalRow:
    """A row drawing cpu_w and gpu_w for its whole interval; emissions g_per_j of its energy."""
    cpu_j, gpu_j = cpu_w * duration_s, gpu_w * duration_s
    return IntervalRow(host_id=host, run_id=run_id, scope=scope, start_s=start_s,
                       duration_s=duration_s, cpu_energy_j=cpu_j, gpu_energy_j=gpu_j,
                       emissions_g=(cpu_j + gpu_j) * g_per_j, job_id=job_id, node=node,
                       rank=rank)


def test_eight_identical_concurrent_machine_runs_count_the_machine_once():
    # 8 runs x 10 records of 60 s, each measuring the same 300 W machine (100 W CPU, 200 W GPU)
    rows = [row(f"run-{n}", 1000.0 + 60.0 * k, 60.0, cpu_w=100.0, gpu_w=200.0)
            for n in range(8) for k in range(10)]

    result = dedup_energy(rows)

    machine_j = 300.0 * 600.0
    assert result.rule == RULE
    assert result.total.measured_energy_j == pytest.approx(8 * machine_j)
    assert result.total.energy_j == pytest.approx(machine_j)
    assert result.removed_energy_j == pytest.approx(7 * machine_j)
    assert result.total.energy_by_component_j == pytest.approx(
        {"cpu": 60_000.0, "gpu": 120_000.0, "ram": 0.0, "other": 0.0})
    assert result.total.emissions_g == pytest.approx(machine_j * 0.0001)
    assert result.total.removed_emissions_g == pytest.approx(7 * machine_j * 0.0001)
    assert result.total.overlapped_s == pytest.approx(600.0)
    assert result.hosts["host-a"].energy_j == pytest.approx(machine_j)
    assert len(result.runs) == 8
    for run in result.runs.values():  # each keeps its measured figure and gets an eighth
        assert run.totals.measured_energy_j == pytest.approx(machine_j)
        assert run.totals.energy_j == pytest.approx(machine_j / 8)
        assert run.totals.overlapped_s == pytest.approx(600.0)


def test_a_single_run_keeps_exactly_what_it_measured():
    rows = [row("solo", 60.0 * k, 60.0, cpu_w=40.0 + k, gpu_w=7.0 * k) for k in range(5)]

    result = dedup_energy(rows)

    measured = sum(r.cpu_energy_j + r.gpu_energy_j for r in rows)
    assert result.runs["solo"].totals.energy_j == pytest.approx(measured)
    assert result.total.removed_energy_j == 0.0
    assert result.total.overlapped_s == 0.0


def test_partial_overlap_takes_the_mean_in_the_shared_time_and_splits_it_by_power():
    # A: 0-100 s at 200 W; B: 50-150 s at 100 W (a lower reading of the same machine)
    rows = [row("a", 0.0, 100.0, cpu_w=200.0), row("b", 50.0, 100.0, cpu_w=100.0)]

    result = dedup_energy(rows)

    # 0-50: A alone 10,000 J; 50-100: mean(10,000, 5,000) = 7,500 J; 100-150: B alone 5,000 J
    assert result.total.energy_j == pytest.approx(22_500.0)
    assert result.total.measured_energy_j == pytest.approx(30_000.0)
    assert result.removed_energy_j == pytest.approx(7_500.0)
    assert result.total.overlapped_s == pytest.approx(50.0)
    # 7,500 J shared 2:1 by the runs' own power in the slice
    assert result.runs["a"].totals.energy_j == pytest.approx(10_000.0 + 5_000.0)
    assert result.runs["b"].totals.energy_j == pytest.approx(2_500.0 + 5_000.0)
    assert result.runs["a"].totals.overlapped_s == pytest.approx(50.0)
    # emissions follow energy, each row at its own intensity
    assert result.runs["a"].totals.emissions_g == pytest.approx(15_000.0 * 0.0001)


def test_touching_runs_do_not_overlap():
    rows = [row("a", 0.0, 60.0, cpu_w=100.0), row("b", 60.0, 60.0, cpu_w=100.0)]

    result = dedup_energy(rows)

    assert result.total.energy_j == pytest.approx(12_000.0)
    assert result.removed_energy_j == 0.0 and result.total.overlapped_s == 0.0


def test_runs_on_different_hosts_are_never_merged():
    rows = [row("a", 0.0, 100.0, host="host-a", cpu_w=100.0),
            row("b", 0.0, 100.0, host="host-b", cpu_w=100.0),
            row("c", 0.0, 100.0, host=None, cpu_w=100.0),  # unknown host: its own
            row("d", 0.0, 100.0, host=None, cpu_w=100.0)]

    result = dedup_energy(rows)

    assert result.total.energy_j == pytest.approx(40_000.0)
    assert result.removed_energy_j == 0.0
    assert set(result.hosts) == {"host-a", "host-b", "run:c", "run:d"}
    assert result.runs["c"].host_id is None


def test_process_scope_runs_are_shares_and_are_summed():
    rows = [row(f"p{n}", 0.0, 100.0, scope="process", cpu_w=30.0, gpu_w=20.0) for n in range(3)]

    result = dedup_energy(rows)

    assert result.total.energy_j == pytest.approx(15_000.0)
    assert result.removed_energy_j == 0.0
    for run in result.runs.values():
        assert run.totals.energy_j == pytest.approx(5_000.0)


def test_process_shares_are_carved_out_of_an_overlapping_machine_run():
    # machine run: 300 W for 100 s; a process run inside it measured its 50 W share for 40 s
    rows = [row("machine", 0.0, 100.0, cpu_w=300.0),
            row("proc", 20.0, 40.0, scope="process", cpu_w=50.0)]

    result = dedup_energy(rows)

    assert result.total.energy_j == pytest.approx(30_000.0)  # the machine, once
    assert result.removed_energy_j == pytest.approx(2_000.0)
    assert result.runs["proc"].totals.energy_j == pytest.approx(2_000.0)  # keeps its share
    assert result.runs["machine"].totals.energy_j == pytest.approx(28_000.0)
    assert result.total.overlapped_s == pytest.approx(40.0)


def test_shares_above_the_machine_reading_are_kept_and_the_machine_gets_nothing_there():
    rows = [row("machine", 0.0, 10.0, cpu_w=100.0),
            row("proc", 0.0, 10.0, scope="process", cpu_w=120.0)]

    result = dedup_energy(rows)

    assert result.total.energy_j == pytest.approx(1_200.0)
    assert result.runs["machine"].totals.energy_j == 0.0
    assert result.runs["machine"].totals.emissions_g == 0.0


def test_a_jobs_ranks_on_two_nodes_sum_once_per_node():
    # job j: 4 ranks, 2 per node. Each node's leader (local rank 0) measured CPU 100 W and its
    # GPU 250 W; the other rank only its own GPU 250 W (one measurer per device)
    rows = []
    for node, host in (("n0", "host-0"), ("n1", "host-1")):
        for local in range(2):
            rank = 2 * int(node[1]) + local
            rows += [row(f"j-rank{rank}", 60.0 * k, 60.0, host=host, job_id="j", node=node,
                         rank=rank, cpu_w=100.0 if local == 0 else 0.0, gpu_w=250.0)
                     for k in range(3)]

    result = dedup_energy(rows)

    node_j = (100.0 + 2 * 250.0) * 180.0
    assert result.total.energy_j == pytest.approx(2 * node_j)
    assert result.removed_energy_j == 0.0 and result.total.overlapped_s == 0.0
    assert result.hosts["host-0"].energy_j == pytest.approx(node_j)
    assert result.runs["j-rank1"].totals.energy_j == pytest.approx(250.0 * 180.0)
    assert result.runs["j-rank0"].job_id == "j"
    assert set(result.jobs) == {"j"}
    assert result.jobs["j"].energy_j == pytest.approx(2 * node_j)
    assert result.jobs["j"].measured_energy_j == pytest.approx(2 * node_j)


def test_a_job_beside_an_unrelated_machine_run_is_one_measurer_of_the_two():
    # on one host: a 2-rank job measuring 600 W in all, and a plain run measuring 500 W
    rows = [row("r0", 0.0, 10.0, job_id="j", cpu_w=100.0, gpu_w=250.0),
            row("r1", 0.0, 10.0, job_id="j", gpu_w=250.0),
            row("other", 0.0, 10.0, cpu_w=100.0, gpu_w=400.0)]

    result = dedup_energy(rows)

    # cpu: mean(100, 100) = 100 W; gpu: mean(500, 400) = 450 W; over 10 s
    assert result.total.energy_by_component_j["cpu"] == pytest.approx(1_000.0)
    assert result.total.energy_by_component_j["gpu"] == pytest.approx(4_500.0)
    assert result.total.energy_j == pytest.approx(5_500.0)
    assert result.removed_energy_j == pytest.approx(5_500.0)
    # the job view: its two ranks' de-duplicated shares (600 of 1,100 W measured in each slice)
    assert result.jobs["j"].measured_energy_j == pytest.approx(6_000.0)
    assert result.jobs["j"].energy_j == pytest.approx(1_000.0 * 100 / 200 + 4_500.0 * 500 / 900)


def test_zero_duration_rows_keep_their_figures_and_negative_ones_are_refused():
    instant = IntervalRow(host_id="h", run_id="i", scope="machine", start_s=5.0, duration_s=0.0,
                          cpu_energy_j=3.0, emissions_g=0.5)
    result = dedup_energy([instant, row("a", 0.0, 10.0, host="h", cpu_w=1.0)])
    assert result.total.energy_j == pytest.approx(13.0)
    assert result.total.emissions_g == pytest.approx(0.5 + 10.0 * 0.0001)

    with pytest.raises(ValueError, match="negative duration_s"):
        dedup_energy([IntervalRow(host_id="h", run_id="x", scope="machine", start_s=0.0,
                                  duration_s=-1.0)])


def test_no_rows_give_zero_totals():
    result = dedup_energy([])
    assert result.total.energy_j == 0.0 and result.runs == {} and result.hosts == {}
