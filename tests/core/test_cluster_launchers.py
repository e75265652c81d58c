"""Real multi-process jobs, one per launcher shape: every rank is its own Python process with the
environment its launcher would give it, started by a launcher process laid out like the real one
(see ``fakes/launchers.py``), running a real Tracker against its node's fake RAPL tree and fake
NVML. Every shape must give each rank its rank, local rank, node and the job's id, and measure
each machine-wide device and each GPU exactly once per node.
"""

from __future__ import annotations

import shutil

import pytest

from fakes.launchers import GPU_W, SECONDS, FakeJob
from fakes.powercap import FakePowercap
from wattprint.footprint import HOURS_PER_YEAR
from wattprint.intensity.tables import embodied_defaults

PACKAGE_W = 50.0  # x 3600 s stays within one wrap of the counter (262 kJ)
PACKAGES = 2



def run_job(job: FakeJob) -> list[dict]:
    powercaps = []
    for node in range(job.nodes):
        powercap = FakePowercap(job.node_sys(node))
        for socket in range(PACKAGES):  # real counters never start equal (equal ones mirror)
            powercap.package(socket, energy_uj=1_000_000 * (7 * node + 3 * socket + 1))
        powercaps.append(powercap)

    def advance() -> None:  # the hardware works while every rank tracks
        for powercap in powercaps:
            for socket in range(PACKAGES):
                powercap.advance(f"intel-rapl:{socket}", int(PACKAGE_W * SECONDS * 1e6))

    return job.run(advance)


def check_one_measurer_per_device(job: FakeJob, reports: list[dict]) -> None:
    world = job.nodes * job.ranks_per_node
    assert [r["job"]["rank"] for r in reports] == list(range(world))
    for node in range(job.nodes):
        mine = [r for r in reports if r["node_name"] == f"node{node}"]
        assert sorted(r["job"]["local_rank"] for r in mine) == list(range(job.ranks_per_node))
        assert {r["job"]["node"] for r in mine} == {f"node{node}"}
        assert all(r["job"]["world_size"] == world for r in mine)
        assert all(r["job"]["local_world_size"] == job.ranks_per_node for r in mine)
        # Machine-wide devices: local rank 0 alone, every package once.
        for r in mine:
            packages = [d for d in r["devices"] if d.startswith("rapl:package")]
            leader = r["job"]["local_rank"] == 0
            assert r["job"]["node_leader"] is leader
            assert len(packages) == (PACKAGES if leader else 0), r
            assert ("rapl" in r["skipped"]) is not leader
        # Each GPU of the node exactly once, whoever measures it.
        gpus = [d for r in mine for d in r["devices"] if d.startswith("nvml:")]
        assert sorted(gpus) == [f"nvml:{i}" for i in range(job.gpus_per_node)]
        # The launcher of the node's ranks: one process, the same for all of them.
        assert len({r["launcher_pid"] for r in mine}) == 1
    total_cpu = sum(r["energy_j"].get("cpu", 0.0) for r in reports)
    total_gpu = sum(r["energy_j"].get("gpu", 0.0) for r in reports)
    assert total_cpu == pytest.approx(job.nodes * PACKAGES * PACKAGE_W * SECONDS)
    assert total_gpu == pytest.approx(job.nodes * job.gpus_per_node * GPU_W * SECONDS)
    assert {r["status"] for r in reports} == {"finished"}


def ambiguity_warnings(reports: list[dict]) -> list[int]:
    """Global ranks whose run says GPU ownership is ambiguous."""
    return [r["job"]["rank"] for r in reports
            if any("GPU ownership is ambiguous" in w for w in r["warnings"])]


# launcher, nodes, ranks per node, GPUs per node, MASTER_ADDR, expected source, id from
SHAPES = [
    ("torchrun", 1, 4, 4, "127.0.0.1", "torchelastic", "derived: launcher process"),
    ("accelerate", 1, 2, 2, "127.0.0.1", "accelerate", "derived: launcher process"),
    ("deepspeed", 2, 2, 2, "10.1.2.3", "deepspeed", "derived: rendezvous 10.1.2.3:29500"),
    ("lightning", 1, 3, 0, "127.0.0.1", "lightning", "derived: launcher process"),
    ("generic", 1, 4, 4, "127.0.0.1", "generic", "derived: launcher process"),
    ("openmpi", 2, 2, 0, "", "openmpi", "PMIX_NAMESPACE"),
    ("mpich", 1, 4, 2, "", "mpich", "derived: launcher process"),
    ("mvapich", 2, 2, 0, "", "mvapich", "MPIRUN_ID"),
]


@pytest.mark.parametrize(("launcher", "nodes", "ranks", "gpus", "master", "source", "id_from"),
                         SHAPES, ids=[s[0] for s in SHAPES])
def test_every_launcher_gives_ranks_one_job_and_one_measurer_per_device(
        tmp_path, launcher, nodes, ranks, gpus, master, source, id_from):
    job = FakeJob(launcher, tmp_path, nodes=nodes, ranks_per_node=ranks, gpus_per_node=gpus,
                  master_addr=master)
    reports = run_job(job)

    check_one_measurer_per_device(job, reports)
    assert {r["job"]["source"] for r in reports} == {source}
    assert len({r["job"]["job_id"] for r in reports}) == 1
    assert all(r["job"]["job_id_from"].startswith(id_from) for r in reports)
    assert reports[0]["job"]["job_id"].startswith(f"{source}-")
    if launcher == "lightning":  # rank 0 is the user's process and starts the others
        assert reports[0]["launcher_pid"] == reports[0]["pid"]
        assert all(r["ppid"] == reports[0]["pid"] for r in reports[1:])
    if launcher in ("deepspeed", "openmpi", "mvapich"):
        node_ranks = [r["job"]["node_rank"] for r in reports]
        assert node_ranks == ([0] * ranks + [1] * ranks if launcher != "openmpi"
                              else [None] * nodes * ranks)  # Open MPI gives no node index


def test_gpus_without_a_clear_owner_are_measured_by_the_leader_which_warns(tmp_path):
    # torchrun with 4 ranks and 4 GPUs but no CUDA_VISIBLE_DEVICES: nothing says which rank
    # uses which GPU. The leader measures all four (the job's total stays right) and says so.
    job = FakeJob("torchrun", tmp_path, ranks_per_node=4, gpus_per_node=4)
    reports = run_job(job)
    assert [d for d in reports[0]["devices"] if d.startswith("nvml:")] == [
        "nvml:0", "nvml:1", "nvml:2", "nvml:3"]
    assert all(not any(d.startswith("nvml:") for d in r["devices"]) for r in reports[1:])
    assert ambiguity_warnings(reports) == [0]
    # Four ranks, four visible GPUs: each rank its own, and no warning.
    split = FakeJob("accelerate", tmp_path / "split", ranks_per_node=4, gpus_per_node=4)
    reports = run_job(split)
    assert [[d for d in r["devices"] if d.startswith("nvml:")] for r in reports] == [
        ["nvml:0"], ["nvml:1"], ["nvml:2"], ["nvml:3"]]
    assert ambiguity_warnings(reports) == []


def test_two_jobs_of_one_launcher_get_different_derived_ids(tmp_path):
    first = run_job(FakeJob("torchrun", tmp_path / "a", ranks_per_node=2, gpus_per_node=0))
    second = run_job(FakeJob("torchrun", tmp_path / "b", ranks_per_node=2, gpus_per_node=0))
    assert first[0]["job"]["job_id"] != second[0]["job"]["job_id"]


def test_a_launcher_id_wins_over_a_derived_one_and_a_rendezvous_id_warns(tmp_path):
    named = run_job(FakeJob("torchrun", tmp_path / "named", nodes=2, ranks_per_node=2,
                            gpus_per_node=0, master_addr="10.0.0.9", run_id="exp7"))
    assert {r["job"]["job_id"] for r in named} == {"exp7"}
    assert {r["job"]["job_id_from"] for r in named} == {"TORCHELASTIC_RUN_ID"}
    assert not any("job id" in w for r in named for w in r["warnings"])
    # The same job without --rdzv-id: the rendezvous names it, and every run says its limit.
    unnamed = run_job(FakeJob("torchrun", tmp_path / "unnamed", nodes=2, ranks_per_node=2,
                              gpus_per_node=0, master_addr="10.0.0.9"))
    assert len({r["job"]["job_id"] for r in unnamed}) == 1
    assert all(any("later job on the same address and port" in w for w in r["warnings"])
               for r in unnamed)


def test_without_a_rendezvous_each_node_gets_its_own_id_and_says_so(tmp_path):
    # Intel MPI (Hydra) names no job and has no MASTER_ADDR: ranks agree per node only.
    job = FakeJob("intel-mpi", tmp_path, nodes=2, ranks_per_node=2, gpus_per_node=0)
    reports = run_job(job)
    check_one_measurer_per_device(job, reports)
    assert {r["job"]["source"] for r in reports} == {"intel-mpi"}
    by_node = {r["node_name"]: r["job"]["job_id"] for r in reports}
    assert len({r["job"]["job_id"] for r in reports}) == 2 and len(by_node) == 2
    assert all(any("ranks on other nodes get other ids" in w for w in r["warnings"])
               for r in reports)


def test_a_four_rank_job_on_one_node_carries_one_server_of_embodied_emissions(tmp_path):
    job = FakeJob("torchrun", tmp_path, ranks_per_node=4, gpus_per_node=4)
    reports = run_job(job)
    table = embodied_defaults()
    server, card = table["server"], table["gpu"]
    hours = SECONDS / 3600
    one_server_g = server.kg_co2e * 1000 * hours / (server.lifetime_years * HOURS_PER_YEAR)
    one_card_g = card.kg_co2e * 1000 * hours / (card.lifetime_years * HOURS_PER_YEAR)
    server_g = [r["embodied"]["server_g"] for r in reports]
    assert server_g[0] == pytest.approx(one_server_g) and server_g[1:] == [0.0, 0.0, 0.0]
    assert all("carried by local rank 0" in " ".join(r["embodied"]["notes"])
               for r in reports[1:])
    total = sum(r["embodied_g"] for r in reports)
    assert total == pytest.approx(one_server_g + 4 * one_card_g)
    # 4 servers (the old count) would be ~4x: the figure is the node's, not the ranks'.
    assert total < 2 * one_server_g + 4 * one_card_g


@pytest.mark.skipif(shutil.which("mpiexec.hydra") is None,
                    reason="MPICH's mpiexec (Hydra) is not installed (apt-get install mpich)")
def test_a_real_mpich_job(tmp_path):
    # The real launcher, when this machine has it: what Hydra really exports, and its proxy
    # as the process all local ranks share.
    job = FakeJob("mpiexec", tmp_path, ranks_per_node=3, gpus_per_node=2)
    reports = run_job(job)
    check_one_measurer_per_device(job, reports)
    assert {r["job"]["source"] for r in reports} == {"mpich"}
    assert len({r["job"]["job_id"] for r in reports}) == 1
    assert {r["launcher_pid"] for r in reports} == {r["ppid"] for r in reports}
    assert ambiguity_warnings(reports) == [0]  # 3 ranks, 2 GPUs, nothing to split them by
