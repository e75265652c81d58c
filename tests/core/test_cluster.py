from __future__ import annotations

from pathlib import Path

import pytest

from wattprint.cluster import detect_job, job_warnings, owned_gpus
from wattprint.host import HostPaths


class FakeProcesses:
    """A /proc holding only process entries: ``stat`` (parent, start time) and ``environ``."""

    def __init__(self, root: Path) -> None:
        self.proc = root / "proc"
        (self.proc / "sys" / "kernel" / "random").mkdir(parents=True)
        (self.proc / "sys" / "kernel" / "random" / "boot_id").write_text("boot-1\n")
        self.paths = HostPaths(sys=root / "sys", proc=self.proc, etc=root / "etc")

    def process(self, pid: int, ppid: int, start: int, environ: dict[str, str],
                comm: str = "python3") -> None:
        folder = self.proc / str(pid)
        folder.mkdir()
        # fields 3.. of /proc/PID/stat: state, ppid, then 17 more up to starttime (field 22)
        rest = ["S", str(ppid)] + ["0"] * 17 + [str(start), "0"]
        (folder / "stat").write_text(f"{pid} ({comm}) " + " ".join(rest) + "\n")
        (folder / "environ").write_bytes(b"".join(f"{k}={v}".encode() + b"\0"
                                                  for k, v in environ.items()))


def test_no_launcher_means_no_job():
    assert detect_job({}) is None
    assert detect_job({"TORCHELASTIC_RUN_ID": "none"}) is None


def test_slurm_job_with_allocation():
    env = {"SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0", "SLURM_PROCID": "5",
           "SLURM_LOCALID": "1", "SLURM_NTASKS": "8", "SLURM_NTASKS_PER_NODE": "4",
           "SLURMD_NODENAME": "gpu07", "SLURM_CPUS_ON_NODE": "32", "SLURM_MEM_PER_NODE": "65536"}
    job = detect_job(env)
    assert job is not None
    assert (job.job_id, job.source, job.rank, job.local_rank) == ("4242.0", "slurm", 5, 1)
    assert (job.world_size, job.local_world_size, job.node) == (8, 4, "gpu07")
    assert job.allocated_cpus == 32 and job.allocated_memory_bytes == 64 * 1024**3
    assert not job.is_node_leader


def test_slurm_memory_per_cpu():
    env = {"SLURM_JOB_ID": "1", "SLURM_CPUS_ON_NODE": "4", "SLURM_MEM_PER_CPU": "1000"}
    assert detect_job(env).allocated_memory_bytes == 4000 * 1024**2


def test_torchrun_ranks_win_over_slurm_task_ids_and_config_id_wins_over_all():
    env = {"SLURM_JOB_ID": "77", "SLURM_PROCID": "1", "SLURM_LOCALID": "0",
           "TORCHELASTIC_RUN_ID": "abc", "RANK": "6", "LOCAL_RANK": "2", "WORLD_SIZE": "8",
           "LOCAL_WORLD_SIZE": "4"}
    job = detect_job(env, hostname="n1")
    # torchrun started the ranks (source), inside SLURM job 77 (the id)
    assert (job.job_id, job.source, job.rank, job.local_rank) == ("77", "torchelastic", 6, 2)
    assert job.job_id_from == "SLURM_JOB_ID"
    mine = detect_job(env, job_id="exp-12")
    assert (mine.job_id, mine.source, mine.job_id_from) == (
        "exp-12", "torchelastic", "the job_id setting")
    alone = detect_job({}, job_id="exp-12")
    assert (alone.job_id, alone.source, alone.is_node_leader) == ("exp-12", "config", True)
    plain = detect_job({"TORCHELASTIC_RUN_ID": "abc", "RANK": "0", "LOCAL_RANK": "0"})
    assert (plain.job_id, plain.source, plain.is_node_leader) == ("abc", "torchelastic", True)
    assert plain.job_id_from == "TORCHELASTIC_RUN_ID"


def test_gpu_ownership():
    def job(local_rank, local_world=4):
        return detect_job({"TORCHELASTIC_RUN_ID": "j", "LOCAL_RANK": str(local_rank),
                           "LOCAL_WORLD_SIZE": str(local_world)})

    # torchrun convention: every rank sees all GPUs and uses cuda:LOCAL_RANK
    assert owned_gpus(job(2), {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}) == ("2",)
    assert owned_gpus(job(1), {"CUDA_VISIBLE_DEVICES": "GPU-a,GPU-b,GPU-c,GPU-d"}) == ("GPU-b",)
    # the launcher narrowed visibility to one GPU per task
    assert owned_gpus(job(3), {"CUDA_VISIBLE_DEVICES": "5"}) == ("5",)
    # ambiguous: the leader measures all, the others none, so nothing is counted twice
    assert owned_gpus(job(0), {}) is None
    assert owned_gpus(job(1), {}) == ()
    assert owned_gpus(job(1, local_world=2), {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}) == ()


def test_one_rank_can_store_several_runs_of_the_same_job(tmp_path):
    import wattprint
    from wattprint.config import load_config
    from wattprint.sensors.fake import FakeDevice, FakeSensor
    from wattprint.store import RunFilter, Store

    env = {"SLURM_JOB_ID": "77", "SLURM_PROCID": "0", "SLURM_LOCALID": "0",
           "WATTPRINT_HOME": str(tmp_path)}
    ids = []
    for phase in ("train", "eval"):
        config = load_config({"country": "FR", "experiment": phase, "interval_s": 3600},
                             environ=env, cwd=tmp_path)
        tracker = wattprint.Tracker(config=config,
                                    sensors=[FakeSensor([FakeDevice("fake:cpu", "cpu", 1.0)])])
        tracker.start()
        assert tracker.stop().status == "finished"
        assert not any("sink" in w for w in tracker.summary.warnings)
        ids.append(tracker.run_id)
    rows = Store(tmp_path / "wattprint.db").runs(RunFilter(job_id="77")).items
    assert sorted(r.run_id for r in rows) == sorted(ids) and len(set(ids)) == 2


# Each launcher's variables, as it sets them (see wattprint.cluster's docstring for sources):
# environment -> (source, rank, local rank, world size, local world size, node rank, job id)
SHAPES = {
    "openmpi": ({"OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_LOCAL_RANK": "1",
                 "OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_LOCAL_SIZE": "4",
                 "OMPI_COMM_WORLD_NODE_RANK": "3", "PMIX_NAMESPACE": "prterun-h1-4242@1",
                 "PMIX_RANK": "5"},
                ("openmpi", 5, 1, 8, 4, None, "openmpi-prterun-h1-4242@1")),
    "openmpi-4": ({"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_LOCAL_RANK": "0",
                   "OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "2",
                   "OMPI_MCA_ess_base_jobid": "3236233217"},
                  ("openmpi", 2, 0, 4, 2, None, "openmpi-3236233217")),
    "mvapich": ({"MV2_COMM_WORLD_RANK": "3", "MV2_COMM_WORLD_LOCAL_RANK": "1",
                 "MV2_COMM_WORLD_SIZE": "4", "MV2_COMM_WORLD_LOCAL_SIZE": "2",
                 "MV2_NODE_ID": "1", "MV2_NUM_NODES_IN_JOB": "2", "MPIRUN_ID": "811"},
                ("mvapich", 3, 1, 4, 2, 1, "mvapich-811")),
    "pmix": ({"PMIX_RANK": "0", "PMIX_NAMESPACE": "ns7"}, ("pmix", 0, None, None, None, None,
                                                          "pmix-ns7")),
    "deepspeed": ({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "LOCAL_SIZE": "2",
                   "CROSS_RANK": "1", "CROSS_SIZE": "2", "MASTER_ADDR": "10.0.0.1",
                   "MASTER_PORT": "29500"}, ("deepspeed", 3, 1, 4, 2, 1, None)),
    "lightning": ({"NODE_RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "4",
                   "LOCAL_WORLD_SIZE": "2", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "4"},
                  ("lightning", 3, 1, 4, 2, 1, None)),  # rank = node x per node + local
    "cray-pals": ({"PALS_RANKID": "7", "PALS_LOCAL_RANKID": "3", "PALS_LOCAL_SIZE": "4",
                   "PALS_NODEID": "1", "PMI_RANK": "7", "PMI_SIZE": "8", "PMI_LOCAL_RANK": "3",
                   "PMI_LOCAL_SIZE": "4"}, ("cray-pals", 7, 3, 8, 4, 1, None)),
    "mpich": ({"PMI_RANK": "2", "PMI_SIZE": "4", "PMI_FD": "9", "MPI_LOCALRANKID": "2",
               "MPI_LOCALNRANKS": "4"}, ("mpich", 2, 2, 4, 4, None, None)),
    "mpich-port": ({"PMI_ID": "1", "PMI_PORT": "h:5", "MPI_LOCALRANKID": "1",
                    "MPI_LOCALNRANKS": "2"}, ("mpich", 1, 1, None, 2, None, None)),
    "intel-mpi": ({"PMI_RANK": "1", "PMI_SIZE": "2", "MPI_LOCALRANKID": "1",
                   "MPI_LOCALNRANKS": "2", "I_MPI_ROOT": "/opt/intel/mpi"},
                  ("intel-mpi", 1, 1, 2, 2, None, None)),
    "accelerate": ({"TORCHELASTIC_RUN_ID": "none", "RANK": "1", "LOCAL_RANK": "1",
                    "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "GROUP_RANK": "0",
                    "ACCELERATE_MIXED_PRECISION": "bf16", "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": "29500"}, ("accelerate", 1, 1, 2, 2, 0, None)),
    "generic": ({"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "localhost",
                 "MASTER_PORT": "1234"}, ("generic", 1, 1, 2, 2, None, None)),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_each_launchers_variables_give_rank_local_rank_and_node(name):
    environ, expected = SHAPES[name]
    job = detect_job(environ, hostname="h1")
    assert job is not None
    got = (job.source, job.rank, job.local_rank, job.world_size, job.local_world_size,
           job.node_rank)
    assert got == expected[:6]
    assert job.node == "h1" and job.is_node_leader is (job.local_rank in (0, None))
    if expected[6] is not None:
        assert job.job_id == expected[6]
    else:  # named by nobody: derived, and labelled so
        assert job.job_id.startswith(f"{expected[0]}-")
        assert job.job_id_from.startswith("derived: ")


def test_a_stray_variable_is_not_a_job():
    assert detect_job({"RANK": "3"}) is None  # RANK alone: too common a name
    assert detect_job({"LOCAL_RANK": "0"}) is None
    assert detect_job({"TORCHELASTIC_RUN_ID": "none"}) is None
    assert detect_job({"PMIX_NAMESPACE": "x"}) is None


def test_mpirun_inside_an_sbatch_script_reads_mpis_ranks_not_the_batch_steps():
    # The batch step's SLURM_PROCID / SLURM_LOCALID (0 and 0) are inherited by every rank.
    env = {"SLURM_JOB_ID": "991", "SLURM_PROCID": "0", "SLURM_LOCALID": "0",
           "SLURM_NTASKS": "1", "SLURM_CPUS_ON_NODE": "8", "OMPI_COMM_WORLD_RANK": "3",
           "OMPI_COMM_WORLD_LOCAL_RANK": "3", "OMPI_COMM_WORLD_SIZE": "4",
           "OMPI_COMM_WORLD_LOCAL_SIZE": "4", "PMIX_NAMESPACE": "prterun-n1-77@1"}
    job = detect_job(env, hostname="n1")
    assert (job.source, job.rank, job.local_rank, job.world_size) == ("openmpi", 3, 3, 4)
    assert (job.job_id, job.job_id_from, job.allocated_cpus) == ("991", "SLURM_JOB_ID", 8)
    assert not job.is_node_leader


def test_ranks_copied_from_mpi_or_slurm_variables_are_still_that_launchers_job():
    ompi = {"OMPI_COMM_WORLD_RANK": "5", "OMPI_COMM_WORLD_LOCAL_RANK": "1",
            "OMPI_COMM_WORLD_SIZE": "8", "PMIX_NAMESPACE": "ns", "RANK": "5", "LOCAL_RANK": "1",
            "WORLD_SIZE": "8"}
    job = detect_job(ompi)
    assert (job.source, job.job_id) == ("openmpi", "openmpi-ns")
    slurm = {"SLURM_JOB_ID": "12", "SLURM_PROCID": "3", "SLURM_LOCALID": "1", "RANK": "3",
             "LOCAL_RANK": "1", "WORLD_SIZE": "4"}
    assert detect_job(slurm).source == "slurm"
    # Different numbers: an inner launcher started by the outer one (one per node) gave them.
    inner = {**ompi, "RANK": "11", "LOCAL_RANK": "3"}
    job = detect_job(inner)
    assert (job.source, job.rank, job.local_rank) == ("generic", 11, 3)


def test_a_derived_id_names_the_launcher_process_that_all_local_ranks_share(tmp_path):
    procs = FakeProcesses(tmp_path)
    # torchrun's agent (100) started ranks 101 and 102 directly and rank 103 through a shell
    # (104) that did not exec; the agent itself was started without LOCAL_RANK.
    procs.process(100, 50, 7000, {"PATH": "/bin"}, comm="torchrun")
    rank_env = {"TORCHELASTIC_RUN_ID": "none", "WORLD_SIZE": "3", "LOCAL_WORLD_SIZE": "3",
                "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    ids = set()
    for pid, parent, local in ((101, 100, 0), (102, 100, 1), (105, 104, 2)):
        env = {**rank_env, "RANK": str(local), "LOCAL_RANK": str(local)}
        if pid == 105:
            procs.process(104, 100, 7010, env, comm="sh")
        procs.process(pid, parent, 7020 + pid, env)
        job = detect_job(env, hostname="n1", paths=procs.paths, pid=pid)
        assert job.launcher_pid == 100
        assert job.job_id_from == "derived: launcher process 100 on n1"
        assert not job.caveats  # exact: no other job has that process
        ids.add(job.job_id)
    assert len(ids) == 1
    # Another job later: the same pid number, reused after the first agent exited, but a
    # different start time: a different id.
    later = FakeProcesses(tmp_path / "later")
    later.process(100, 50, 99000, {})
    later.process(101, 100, 99010, {**rank_env, "RANK": "0", "LOCAL_RANK": "0"})
    again = detect_job({**rank_env, "RANK": "0", "LOCAL_RANK": "0"}, hostname="n1",
                       paths=later.paths, pid=101)
    assert again.job_id not in ids and again.launcher_pid == 100


def test_lightnings_rank_0_is_its_own_launcher(tmp_path):
    procs = FakeProcesses(tmp_path)
    # Rank 0 was started by a shell without LOCAL_RANK and set it in itself later; rank 1 is
    # its child, started with LOCAL_RANK=1.
    procs.process(200, 20, 500, {"PATH": "/bin"}, comm="bash")
    procs.process(201, 200, 600, {"PATH": "/bin"})
    env = {"NODE_RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": "40000"}
    procs.process(202, 201, 700, {**env, "LOCAL_RANK": "1"})
    zero = detect_job({**env, "LOCAL_RANK": "0"}, paths=procs.paths, pid=201, hostname="n")
    one = detect_job({**env, "LOCAL_RANK": "1"}, paths=procs.paths, pid=202, hostname="n")
    assert zero.launcher_pid == one.launcher_pid == 201
    assert zero.job_id == one.job_id and (zero.rank, one.rank) == (0, 1)


def test_a_multi_node_job_without_names_uses_its_rendezvous_and_says_its_limit(tmp_path):
    procs = FakeProcesses(tmp_path)
    procs.process(300, 1, 10, {})
    env = {"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4",
           "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29500"}
    procs.process(301, 300, 11, env)
    job = detect_job(env, paths=procs.paths, pid=301, hostname="n2")
    # What every node computes alike: the rendezvous, whatever the local launcher.
    other_node = detect_job({**env, "RANK": "0", "LOCAL_RANK": "0"}, hostname="n1")
    assert job.job_id == other_node.job_id
    assert job.job_id_from == "derived: rendezvous 10.0.0.1:29500"
    assert any("later job on the same address and port" in c for c in job.caveats)
    elsewhere = detect_job({**env, "MASTER_PORT": "29501"}, paths=procs.paths, pid=301)
    assert elsewhere.job_id != job.job_id


def test_without_proc_or_rendezvous_the_id_still_comes_and_warns(tmp_path):
    nothing = HostPaths(sys=tmp_path, proc=tmp_path / "no-proc", etc=tmp_path)
    env = {"PMI_RANK": "3", "PMI_SIZE": "8", "MPI_LOCALRANKID": "1", "MPI_LOCALNRANKS": "4"}
    job = detect_job(env, paths=nothing, pid=12345, hostname="n1")
    assert job.job_id.startswith("mpich-") and job.launcher_pid is None
    assert any("ranks on other nodes get other ids" in c for c in job.caveats)


def test_an_unknown_local_rank_is_said(tmp_path):
    job = detect_job({"PMIX_RANK": "3", "PMIX_NAMESPACE": "ns"})
    assert job.is_node_leader  # nothing says otherwise: it measures, and warns
    assert any("no local rank" in w for w in job_warnings(job, {}))
    alone = detect_job({"PMIX_RANK": "0", "PMIX_NAMESPACE": "ns"})
    assert job_warnings(alone, {}) == []


def test_ambiguous_gpu_ownership_is_warned_where_gpus_are_at_stake():
    def job(local_rank, local_world=4):
        return detect_job({"TORCHELASTIC_RUN_ID": "j", "LOCAL_RANK": str(local_rank),
                           "LOCAL_WORLD_SIZE": str(local_world)})

    def warned(j, env, **kw):
        return any("GPU ownership is ambiguous" in w for w in job_warnings(j, env, **kw))

    # No CUDA_VISIBLE_DEVICES: the leader says so when it did open several GPUs ...
    assert warned(job(0), {}, gpus_measured=4)
    assert not warned(job(0), {}, gpus_measured=0)  # a CPU-only node: nothing to split
    assert not warned(job(0), {}, gpus_measured=1)
    # ... the others when their environment shows several GPUs they cannot split.
    assert warned(job(2), {"CUDA_VISIBLE_DEVICES": "0,1"})
    assert not warned(job(2), {})
    # Clear ownership: one visible GPU each, or one per local rank; or gpu_ids set.
    assert not warned(job(0), {"CUDA_VISIBLE_DEVICES": "3"}, gpus_measured=1)
    assert not warned(job(0), {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}, gpus_measured=1)
    assert not warned(job(0), {}, gpus_measured=4, gpu_ids=("0", "1"))
    assert not warned(job(0, local_world=1), {"CUDA_VISIBLE_DEVICES": "0,1"}, gpus_measured=2)
    text = job_warnings(job(1), {"CUDA_VISIBLE_DEVICES": "0,1"})[0]
    assert "this rank measures no GPU" in text and "CUDA_VISIBLE_DEVICES=0,1" in text


def test_job_dict_names_launcher_and_id_origin_for_the_wire():
    job = detect_job({"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_LOCAL_RANK": "1",
                      "OMPI_COMM_WORLD_SIZE": "2", "PMIX_NAMESPACE": "n"}, hostname="h")
    d = job.to_dict()
    assert (d["source"], d["job_id_from"], d["node_rank"]) == ("openmpi", "PMIX_NAMESPACE", None)
    assert "launcher_pid" not in d and "caveats" not in d  # local facts, not the job's
