"""Fake job launchers: real process trees with the environment each real launcher gives its ranks.

We cannot run torchrun, DeepSpeed, Accelerate, Lightning or an MPI on this machine, so each is
imitated where it matters to wattprint, from its documentation or source (see the docstring of
:mod:`wattprint.cluster`): which variables each rank gets, and which process starts the ranks
of a node (torchrun's agent starts each worker in a new session; DeepSpeed's ``launch.py``,
``mpirun``/``orted``, Hydra's proxy and ``mpispawn`` start theirs as plain children; Lightning's
rank 0 is the user's own process, which starts local ranks 1..n-1 itself; the ``generic``
launcher goes through a shell that does not ``exec``).

:class:`FakeJob` runs one job: a launcher process per simulated node, each starting that node's
ranks, every rank a real Python process running a real :class:`wattprint.Tracker` against the
node's fake RAPL sysfs tree and a fake NVML with the node's GPUs. Ranks report ready on a
shared pipe and wait on another, so the test moves the hardware's counters while every tracker
is running, then lets them all stop; each rank writes what its run said to a JSON file.

Simulated nodes are process trees on this one host: the host name is the one thing that cannot
differ for real, so each rank's tracker is given its node's name (``FAKE_NODE_NAME``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TESTS_DIR = Path(__file__).resolve().parent.parent
LAUNCHERS = ("torchrun", "accelerate", "deepspeed", "lightning", "generic", "openmpi", "mpich",
             "intel-mpi", "mvapich")
GPU_W, SECONDS = 300.0, 3600.0


@dataclass
class FakeJob:
    """One job: ``nodes`` x ``ranks_per_node`` ranks started by ``launcher``."""

    launcher: str
    root: Path
    nodes: int = 1
    ranks_per_node: int = 4
    gpus_per_node: int = 4
    master_addr: str = "127.0.0.1"
    master_port: str = "29500"
    run_id: str | None = None  # torchrun --rdzv-id
    extra_env: dict[str, str] = field(default_factory=dict)

    def node_sys(self, node: int) -> Path:
        return self.root / f"node{node}" / "sys"

    def run(self, advance: Any, *, timeout_s: float = 120.0) -> list[dict[str, Any]]:
        """Start every node's launcher, call ``advance()`` once all ranks track, stop them all;
        the ranks' reports, ordered by global rank."""
        out = self.root / "reports"
        out.mkdir(parents=True, exist_ok=True)
        # Two FIFOs, opened read-write here so that no rank ever blocks opening them and a rank
        # that dies is noticed by the deadline, not by a hang.
        ready_path, go_path = self.root / "ready.fifo", self.root / "go.fifo"
        os.mkfifo(ready_path)
        os.mkfifo(go_path)
        ready, go = os.open(ready_path, os.O_RDWR), os.open(go_path, os.O_RDWR)
        spec = {"launcher": self.launcher, "nodes": self.nodes, "ranks": self.ranks_per_node,
                "gpus": self.gpus_per_node, "master_addr": self.master_addr,
                "master_port": self.master_port, "run_id": self.run_id, "out": str(out),
                "ready": str(ready_path), "go": str(go_path), "extra_env": self.extra_env,
                "head_pid": os.getpid()}  # the test plays mpirun's head process
        env = dict(os.environ)  # the tests' isolated environment (conftest's isolated_env)
        env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")])
        procs = []
        for node in range(self.nodes):
            node_spec = {**spec, "node": node, "sys": str(self.node_sys(node))}
            if self.launcher == "mpiexec":  # the real one (MPICH's Hydra), when installed
                command = ["mpiexec", "-n", str(self.ranks_per_node), sys.executable, __file__,
                           "rank", json.dumps(node_spec)]
            else:
                command = [sys.executable, __file__, "launch", json.dumps(node_spec)]
            procs.append(subprocess.Popen(command, env=env))
        total = self.nodes * self.ranks_per_node
        try:
            _await_lines(ready, total, procs, timeout_s)
            advance()
        finally:
            os.write(go, b"g" * total)
            codes = [p.wait(timeout=timeout_s) for p in procs]
            os.close(ready)
            os.close(go)
        if any(codes):
            raise RuntimeError(f"launchers exited with {codes}")
        reports = [json.loads(p.read_text()) for p in out.glob("*.json")]
        return sorted(reports, key=lambda r: (r["job"]["rank"] is None, r["job"]["rank"]))


def _await_lines(fd: int, count: int, procs: list[subprocess.Popen[bytes]],
                 timeout_s: float) -> None:
    """Read ``count`` lines from ``fd``, failing early if every launcher has exited."""
    import select
    import time

    deadline, seen = time.monotonic() + timeout_s, b""
    while (got := seen.count(b"\n")) < count:
        left = deadline - time.monotonic()
        if left <= 0 or all(p.poll() is not None for p in procs):
            raise RuntimeError(f"only {got} of {count} ranks started tracking")
        if select.select([fd], [], [], min(left, 1.0))[0]:
            seen += os.read(fd, 4096)


# -- what each launcher puts in a rank's environment ------------------------------------------

def _rank_env(spec: dict[str, Any], node: int, local: int, launcher_pid: int) -> dict[str, str]:
    ranks, nodes, kind = spec["ranks"], spec["nodes"], spec["launcher"]
    rank, world = node * ranks + local, nodes * ranks
    master = {"MASTER_ADDR": spec["master_addr"], "MASTER_PORT": spec["master_port"]}
    gpus = ",".join(str(i) for i in range(spec["gpus"]))
    if kind in ("torchrun", "accelerate"):  # torch.distributed.elastic's agent
        env = {"TORCHELASTIC_RUN_ID": spec["run_id"] or "none", "RANK": rank, "LOCAL_RANK": local,
               "GROUP_RANK": node, "ROLE_RANK": rank, "ROLE_NAME": "default",
               "LOCAL_WORLD_SIZE": ranks, "WORLD_SIZE": world, "GROUP_WORLD_SIZE": nodes,
               "ROLE_WORLD_SIZE": world, "TORCHELASTIC_RESTART_COUNT": 0,
               "TORCHELASTIC_MAX_RESTARTS": 0, "TORCHELASTIC_USE_AGENT_STORE": "False", **master}
        if kind == "accelerate":  # accelerate launch sets these, then runs the agent in-process
            env.update({"ACCELERATE_MIXED_PRECISION": "no", "ACCELERATE_DYNAMO_BACKEND": "NO",
                        "OMP_NUM_THREADS": 1})
            if spec["gpus"]:
                env["CUDA_VISIBLE_DEVICES"] = gpus
    elif kind == "deepspeed":  # deepspeed/launcher/launch.py
        env = {"RANK": rank, "LOCAL_RANK": local, "WORLD_SIZE": world, "CROSS_RANK": node,
               "CROSS_SIZE": nodes, "LOCAL_SIZE": ranks, **master}
        if spec["gpus"]:
            env["CUDA_VISIBLE_DEVICES"] = gpus
    elif kind == "lightning":  # _SubprocessScriptLauncher: rank 0 sets these, children inherit
        env = {"NODE_RANK": node, "LOCAL_RANK": local, "WORLD_SIZE": world, **master}
    elif kind == "generic":  # a launcher that narrows each rank to its own GPU
        env = {"RANK": rank, "LOCAL_RANK": local, "WORLD_SIZE": world,
               "LOCAL_WORLD_SIZE": ranks, **master}
        if spec["gpus"]:
            env["CUDA_VISIBLE_DEVICES"] = str(local % spec["gpus"])
    elif kind == "openmpi":  # mpirun / prted (Open MPI 5 with PRRTE)
        env = {"OMPI_COMM_WORLD_RANK": rank, "OMPI_COMM_WORLD_LOCAL_RANK": local,
               "OMPI_COMM_WORLD_SIZE": world, "OMPI_COMM_WORLD_LOCAL_SIZE": ranks,
               "OMPI_COMM_WORLD_NODE_RANK": local, "OMPI_UNIVERSE_SIZE": world,
               "PMIX_NAMESPACE": f"prterun-head-{spec['head_pid']}@1", "PMIX_RANK": rank}
    elif kind in ("mpich", "intel-mpi"):  # Hydra's proxy (pmip_cb.c), PMI_FD mode
        env = {"PMI_RANK": rank, "PMI_SIZE": world, "PMI_FD": 9, "MPI_LOCALRANKID": local,
               "MPI_LOCALNRANKS": ranks}
    elif kind == "mvapich":  # mpirun_rsh's mpispawn
        env = {"MV2_COMM_WORLD_RANK": rank, "PMI_ID": rank, "MV2_COMM_WORLD_LOCAL_RANK": local,
               "MV2_COMM_WORLD_LOCAL_SIZE": ranks, "MV2_COMM_WORLD_SIZE": world,
               "MPIRUN_ID": spec["head_pid"], "MV2_NUM_NODES_IN_JOB": nodes, "MV2_NODE_ID": node,
               "MPIRUN_NPROCS": world}
    else:
        raise ValueError(kind)
    return {k: str(v) for k, v in env.items()}


def _launcher_env(spec: dict[str, Any]) -> dict[str, str]:
    """The launcher's own environment: what its ranks inherit besides their rank variables."""
    env = dict(os.environ)
    env.update(spec["extra_env"])
    if spec["launcher"] == "intel-mpi":
        env["I_MPI_ROOT"] = "/opt/intel/oneapi/mpi/latest"  # set by Intel's environment script
    return env


def _launch(spec: dict[str, Any]) -> int:
    """One node's launcher: start its ranks as the real launcher would, wait for them."""
    node, ranks, kind = spec["node"], spec["ranks"], spec["launcher"]
    base = _launcher_env(spec)
    worker = [sys.executable, __file__, "rank", json.dumps(spec)]
    if kind == "lightning":
        # Lightning: this process is rank 0. It sets the job's variables in its own environment
        # (os.environ: /proc/PID/environ still shows how it was started), starts local ranks
        # 1..n-1 with LOCAL_RANK changed, then trains itself.
        os.environ.update(_rank_env(spec, node, 0, os.getpid()))
        children = []
        for local in range(1, ranks):
            env = {**os.environ, "LOCAL_RANK": str(local)}
            children.append(subprocess.Popen(worker, env=env))
        _rank(spec)
        return max([c.wait() for c in children] + [0])
    children = []
    for local in range(ranks):
        env = {**base, **_rank_env(spec, node, local, os.getpid())}
        command = worker
        if kind == "generic":  # through a wrapper shell that does not exec
            command = ["/bin/sh", "-c", '"$0" "$@"; exit $?', *worker]
        children.append(subprocess.Popen(command, env=env,
                                         start_new_session=kind in ("torchrun", "accelerate")))
    return max(c.wait() for c in children)


# -- one rank --------------------------------------------------------------------------------

class _FixedIntensity:
    name = "fixed"
    static = True

    def lookup(self, where: Any, start: Any, end: Any) -> Any:
        from wattprint.intensity import Intensity

        return Intensity(200.0, "DE", "test", 2025)


def _rank(spec: dict[str, Any]) -> None:
    """Track like a training process would, between the test's two signals."""
    import wattprint
    import wattprint.tracker
    from fakes.clock import FakeClock
    from fakes.nvml import FakeNvml
    from wattprint.config import load_config
    from wattprint.host import HostPaths

    node_name = f"node{spec['node']}"
    wattprint.tracker.hostname = lambda: node_name  # see the module docstring
    clock = FakeClock()
    nvml = FakeNvml(clock)
    for _ in range(spec["gpus"]):
        nvml.gpu(power_w=GPU_W)
    sys_root = Path(spec["sys"])
    # The node's fake sysfs; the real /proc, where the launcher process is found.
    paths = HostPaths(sys=sys_root, proc=Path("/proc"), etc=sys_root.parent / "etc")
    config = load_config({"country": "DE", "interval_s": 3600, "embodied": True},
                         environ=dict(os.environ), cwd=Path.cwd())
    tracker = wattprint.Tracker(config=config, paths=paths, modules={"pynvml": nvml},
                                intensity=_FixedIntensity(), sinks=[], clock=clock,
                                wall_clock=clock.wall_clock)
    tracker.start()
    with open(spec["ready"], "wb", buffering=0) as ready:
        ready.write(b"ready\n")  # one short write: atomic on a pipe
    with open(spec["go"], "rb", buffering=0) as go:
        if go.read(1) != b"g":
            raise SystemExit("the test never said go")
    clock.advance(SECONDS)
    summary = tracker.stop()
    job = tracker.job
    report = {
        "pid": os.getpid(), "ppid": os.getppid(), "node_name": node_name,
        "job": summary.job, "launcher_pid": job.launcher_pid if job else None,
        "devices": sorted(c["device"] for c in summary.components),
        "skipped": [s["sensor"] for s in tracker.info.skipped],
        "warnings": list(summary.warnings), "energy_j": dict(summary.energy_j),
        "embodied_g": summary.embodied_g, "embodied": summary.embodied,
        "status": summary.status,
    }
    (Path(spec["out"]) / f"{os.getpid()}.json").write_text(json.dumps(report))


def main(argv: list[str]) -> int:
    role, spec = argv[1], json.loads(argv[2])
    if role == "launch":
        return _launch(spec)
    _rank(spec)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(TESTS_DIR))
    raise SystemExit(main(sys.argv))
