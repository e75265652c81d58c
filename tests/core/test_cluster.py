from __future__ import annotations

from wattprint.cluster import detect_job, owned_gpus


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
    assert (job.job_id, job.source, job.rank, job.local_rank) == ("77", "slurm", 6, 2)
    mine = detect_job(env, job_id="exp-12")
    assert (mine.job_id, mine.source) == ("exp-12", "config")
    plain = detect_job({"TORCHELASTIC_RUN_ID": "abc", "RANK": "0", "LOCAL_RANK": "0"})
    assert (plain.job_id, plain.source, plain.is_node_leader) == ("abc", "torchelastic", True)


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
