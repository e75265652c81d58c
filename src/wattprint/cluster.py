"""Distributed jobs: one run identity per job, one measurement of each device.

Launchers say who we are through each rank's environment. The variables below are the ones each
launcher documents or sets in its source (checked against it, not guessed):

- SLURM (``srun``): ``SLURM_JOB_ID`` (plus ``SLURM_STEP_ID``), ``SLURM_PROCID`` (global rank),
  ``SLURM_LOCALID`` (rank on this node), ``SLURM_NTASKS``, ``SLURM_NODEID``,
  ``SLURM_CPUS_ON_NODE`` and ``SLURM_MEM_PER_NODE`` / ``SLURM_MEM_PER_CPU`` (MB) for what the
  job was allocated on this node;
- torchrun (TorchElastic): ``TORCHELASTIC_RUN_ID`` (``none`` unless ``--rdzv-id`` or
  ``--standalone``), ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
  ``GROUP_RANK`` (node), ``GROUP_WORLD_SIZE`` (nodes); Hugging Face ``accelerate launch`` runs
  torchrun (or DeepSpeed's launcher) in-process and adds ``ACCELERATE_MIXED_PRECISION``;
- DeepSpeed's launcher (``deepspeed/launcher/launch.py``): ``RANK``, ``LOCAL_RANK``,
  ``WORLD_SIZE``, ``LOCAL_SIZE``, ``CROSS_RANK`` (node), ``CROSS_SIZE`` (nodes), ``MASTER_ADDR``,
  ``MASTER_PORT``; no job id;
- PyTorch Lightning's own launcher (``_SubprocessScriptLauncher``): rank 0 is the user's
  process, which sets ``MASTER_ADDR``, ``MASTER_PORT``, ``NODE_RANK``, ``LOCAL_RANK`` and
  ``WORLD_SIZE`` and starts local ranks 1..n-1 as its children; no ``RANK``, no job id;
- any other launcher following torch's env:// convention: ``RANK`` or ``LOCAL_RANK`` with
  ``WORLD_SIZE`` (plus ``LOCAL_WORLD_SIZE``, ``GROUP_RANK`` / ``NODE_RANK``, ``MASTER_ADDR``,
  ``MASTER_PORT``);
- Open MPI (docs.open-mpi.org, "Environment variables set for MPI applications"):
  ``OMPI_COMM_WORLD_RANK``, ``_LOCAL_RANK``, ``_SIZE``, ``_LOCAL_SIZE`` (``_NODE_RANK`` counts
  across all jobs on the node, so it is not used); job identity ``PMIX_NAMESPACE`` (v4+),
  ``OMPI_MCA_ess_base_jobid`` (v2-v4) or ``OMPI_MCA_orte_ess_jobid`` (v1);
- MPICH and Intel MPI (Hydra's proxy, ``pmip_cb.c``): ``PMI_RANK`` (``PMI_ID`` in PMI_PORT
  mode), ``PMI_SIZE``, ``MPI_LOCALRANKID``, ``MPI_LOCALNRANKS``; no job id (Intel MPI is told
  apart by ``I_MPI_ROOT``, which its environment script sets);
- MVAPICH2 (``mpirun_rsh``'s mpispawn): ``MV2_COMM_WORLD_RANK``, ``_LOCAL_RANK``, ``_SIZE``,
  ``_LOCAL_SIZE``, ``MV2_NODE_ID``, ``MV2_NUM_NODES_IN_JOB``, job id ``MPIRUN_ID``;
- Cray PALS / Cray PMI: ``PALS_RANKID``, ``PALS_LOCAL_RANKID``, ``PALS_LOCAL_SIZE``,
  ``PALS_NODEID``, ``PMI_SIZE`` (``PMI_LOCAL_RANK`` / ``PMI_LOCAL_SIZE`` with Cray PMI);
- a PMIx server alone (PRRTE ``prun``): ``PMIX_RANK`` and ``PMIX_NAMESPACE``, no local rank;
- or the user: ``job_id`` in config (``WATTPRINT_JOB_ID``), which always wins.

The innermost launcher gives the ranks: torchrun inside an ``srun`` step, or ``mpirun`` inside an
``sbatch`` script (whose ``SLURM_PROCID`` / ``SLURM_LOCALID`` are the batch step's, the same for
every rank), is read from torchrun's or MPI's variables. A script that copies MPI's or SLURM's
variables into ``RANK`` / ``LOCAL_RANK`` is still that launcher's job. ``Job.source`` names the
launcher; ``Job.job_id_from`` says where the id came from.

**The job id.** In order: the ``job_id`` setting; ``SLURM_JOB_ID`` (a job step inside it is one
job); the launcher's own id (above); else one derived so that every rank agrees on it without
talking to the others:

- all ranks on one node (``WORLD_SIZE == LOCAL_WORLD_SIZE``, one node, or a loopback
  ``MASTER_ADDR``): a hash of the node, its boot and the launcher process (pid and start time).
  The launcher is the nearest process, from this one up, whose own starting environment lacks
  the launcher's local-rank variable (torchrun's agent, DeepSpeed's ``launch.py``, Hydra's proxy,
  Lightning's rank 0; a wrapper shell in between is skipped). Exact: no other job has that
  process. Limit: a launcher started with the local-rank variable already in its environment
  moves the anchor up to its own parent;
- ranks on several nodes: a hash of the rendezvous ``MASTER_ADDR:MASTER_PORT`` and
  ``WORLD_SIZE``. Two jobs running at once cannot share a rendezvous port, but a later job on
  the same address and port gets the same id: the run says so, and ``WATTPRINT_JOB_ID`` (or
  torchrun's ``--rdzv-id``) tells them apart;
- ranks on several nodes with no rendezvous (MPICH): the launcher process on this node, so each
  node gets its own id, and the run says so.

**One measurer per device.** Machine-wide devices (RAPL, CPU and RAM models) are measured only by
the node's leader (local rank 0); each GPU by the rank that owns it; when ownership cannot be
told, the leader measures every GPU it sees, the other ranks none, and every rank's run warns
(:func:`job_warnings`). Every rank writes its own runs (each with its own run id), all carrying
the job id, so the job's total is the plain sum of its runs. The same holds for embodied
emissions: the server's share is carried by the node's leader, each GPU card by its owner.
"""

from __future__ import annotations

import os

from ._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping

    from .host import HostPaths

__all__ = ["Job", "detect_job", "job_warnings", "owned_gpus"]

_MIB = 1024 * 1024
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_MAX_HOPS = 32  # ancestry walk bound: launchers sit a few levels above their ranks


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    source: str  # the launcher: "slurm" | "torchelastic" | "openmpi" | ... | "config"
    rank: int | None = None
    local_rank: int | None = None
    world_size: int | None = None
    local_world_size: int | None = None
    node: str | None = None
    allocated_cpus: int | None = None
    allocated_memory_bytes: int | None = None
    node_rank: int | None = None
    job_id_from: str = ""
    #: The launcher process on this node whose tree holds every local rank (process scope
    #: charges the node leader for that tree). A local pid: not part of the wire format.
    launcher_pid: int | None = None
    #: Why the job's identity or this rank's role may be off; the tracker turns them into
    #: warnings (see :func:`job_warnings`).
    caveats: tuple[str, ...] = ()

    @property
    def is_node_leader(self) -> bool:
        return self.local_rank in (None, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "source": self.source, "job_id_from": self.job_id_from,
            "rank": self.rank, "local_rank": self.local_rank, "world_size": self.world_size,
            "local_world_size": self.local_world_size, "node": self.node,
            "node_rank": self.node_rank, "node_leader": self.is_node_leader,
            "allocated_cpus": self.allocated_cpus,
            "allocated_memory_bytes": self.allocated_memory_bytes,
        }


@dataclass(frozen=True, slots=True)
class _Shape:
    """What one launcher puts in each rank's environment (first variable set wins)."""

    source: str
    markers: tuple[str, ...]  # all set: this launcher started the process
    rank: tuple[str, ...] = ()
    local_rank: tuple[str, ...] = ()
    world: tuple[str, ...] = ()
    local_world: tuple[str, ...] = ()
    node_rank: tuple[str, ...] = ()
    nodes: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # the job identity the launcher exports
    absent: tuple[str, ...] = ()  # set by a sibling shape, never by this launcher


# Innermost launchers first: a launcher started by another sets its own variables last.
_SHAPES = (
    _Shape("torchelastic", ("TORCHELASTIC_RUN_ID", "LOCAL_RANK"), ("RANK",), ("LOCAL_RANK",),
           ("WORLD_SIZE",), ("LOCAL_WORLD_SIZE",), ("GROUP_RANK",), ("GROUP_WORLD_SIZE",),
           ids=("TORCHELASTIC_RUN_ID",)),
    _Shape("deepspeed", ("CROSS_RANK", "CROSS_SIZE", "LOCAL_SIZE", "RANK"), ("RANK",),
           ("LOCAL_RANK",), ("WORLD_SIZE",), ("LOCAL_SIZE",), ("CROSS_RANK",), ("CROSS_SIZE",)),
    _Shape("lightning", ("NODE_RANK", "LOCAL_RANK", "WORLD_SIZE"), (), ("LOCAL_RANK",),
           ("WORLD_SIZE",), ("LOCAL_WORLD_SIZE",), ("NODE_RANK",), absent=("RANK",)),
    _Shape("generic", ("RANK", "WORLD_SIZE"), ("RANK",), ("LOCAL_RANK",), ("WORLD_SIZE",),
           ("LOCAL_WORLD_SIZE",), ("GROUP_RANK", "NODE_RANK")),
    _Shape("generic", ("LOCAL_RANK", "WORLD_SIZE"), ("RANK",), ("LOCAL_RANK",), ("WORLD_SIZE",),
           ("LOCAL_WORLD_SIZE",), ("GROUP_RANK", "NODE_RANK")),
    _Shape("openmpi", ("OMPI_COMM_WORLD_RANK",), ("OMPI_COMM_WORLD_RANK",),
           ("OMPI_COMM_WORLD_LOCAL_RANK",), ("OMPI_COMM_WORLD_SIZE",),
           ("OMPI_COMM_WORLD_LOCAL_SIZE",),
           ids=("PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid")),
    _Shape("mvapich", ("MV2_COMM_WORLD_RANK",), ("MV2_COMM_WORLD_RANK",),
           ("MV2_COMM_WORLD_LOCAL_RANK",), ("MV2_COMM_WORLD_SIZE",),
           ("MV2_COMM_WORLD_LOCAL_SIZE",), ("MV2_NODE_ID",), ("MV2_NUM_NODES_IN_JOB",),
           ids=("MPIRUN_ID",)),
    _Shape("cray-pals", ("PALS_RANKID",), ("PALS_RANKID", "PMI_RANK"),
           ("PALS_LOCAL_RANKID", "PMI_LOCAL_RANK"), ("PMI_SIZE",),
           ("PALS_LOCAL_SIZE", "PMI_LOCAL_SIZE"), ("PALS_NODEID",)),
    _Shape("cray-pmi", ("PMI_LOCAL_RANK", "PMI_RANK"), ("PMI_RANK",), ("PMI_LOCAL_RANK",),
           ("PMI_SIZE",), ("PMI_LOCAL_SIZE",)),
    _Shape("mpich", ("MPI_LOCALRANKID",), ("PMI_RANK", "PMI_ID"), ("MPI_LOCALRANKID",),
           ("PMI_SIZE",), ("MPI_LOCALNRANKS",)),
    _Shape("pmix", ("PMIX_RANK", "PMIX_NAMESPACE"), ("PMIX_RANK",), ids=("PMIX_NAMESPACE",)),
    _Shape("slurm", ("SLURM_JOB_ID",), ("SLURM_PROCID",), ("SLURM_LOCALID",), ("SLURM_NTASKS",),
           ("SLURM_NTASKS_PER_NODE",), ("SLURM_NODEID",), ("SLURM_JOB_NUM_NODES", "SLURM_NNODES")),
)


def _int(environ: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        text = environ.get(name, "").strip()
        if text:
            try:
                return int(text)
            except ValueError:
                continue
    return None


def _text(environ: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        text = environ.get(name, "").strip()
        if text:
            return text
    return None


def _matches(shape: _Shape, environ: Mapping[str, str]) -> bool:
    return (all(environ.get(n, "").strip() for n in shape.markers)
            and not any(n in environ for n in shape.absent))


def _slurm_memory_bytes(environ: Mapping[str, str], cpus: int | None) -> int | None:
    per_node = _int(environ, "SLURM_MEM_PER_NODE")
    if per_node:
        return per_node * _MIB
    per_cpu = _int(environ, "SLURM_MEM_PER_CPU")
    if per_cpu and cpus:
        return per_cpu * cpus * _MIB
    return None


def _launcher_shape(environ: Mapping[str, str]) -> _Shape | None:
    found = [s for s in _SHAPES if _matches(s, environ)]
    if not found:
        return None
    inner = found[0]
    if inner.source == "generic":
        # RANK / LOCAL_RANK copied from an MPI launcher's or SLURM's own variables by a wrapper
        # script: the job is still that launcher's (and keeps its job id).
        mine = (_int(environ, *inner.rank), _int(environ, *inner.local_rank))
        for outer in found[1:]:
            theirs = (_int(environ, *outer.rank), _int(environ, *outer.local_rank))
            pairs = [(a, b) for a, b in zip(mine, theirs, strict=True)
                     if a is not None and b is not None]
            if outer.source != "generic" and pairs and all(a == b for a, b in pairs):
                return outer
    return inner


def detect_job(environ: Mapping[str, str], *, job_id: str | None = None,
               hostname: str | None = None, paths: HostPaths | None = None,
               pid: int | None = None) -> Job | None:
    """The job this process belongs to, or None when it runs on its own.

    ``paths`` (its ``/proc`` root) and ``pid`` locate the launcher process on this node, for a
    derived job id; they default to this host and this process. Never raises.
    """
    shape = _launcher_shape(environ)
    if shape is None and not job_id:
        return None
    if shape is None:
        return Job(job_id=job_id or "", source="config", job_id_from="the job_id setting",
                   node=environ.get("SLURMD_NODENAME") or hostname)
    rank = _int(environ, *shape.rank)
    local_rank = _int(environ, *shape.local_rank)
    world = _int(environ, *shape.world)
    local_world = _int(environ, *shape.local_world)
    node_rank = _int(environ, *shape.node_rank)
    nodes = _int(environ, *shape.nodes)
    master = (_text(environ, "MASTER_ADDR"), _text(environ, "MASTER_PORT"))
    single_node = (nodes == 1 or (world is not None and world == local_world)
                   or master[0] in _LOOPBACK)
    if local_world is None and single_node and world is not None:
        local_world = world  # every rank is on this node
    if rank is None and node_rank is not None and local_world and local_rank is not None:
        rank = node_rank * local_world + local_rank  # Lightning: ranks are numbered by node
    node = environ.get("SLURMD_NODENAME") or hostname
    launcher = _node_launcher(shape, environ, paths, pid)
    caveats: list[str] = []
    source = _source_name(shape, environ)
    ident, ident_from = _given_id(shape, source, environ, job_id)
    if not ident:
        ident, ident_from, caveat = _derived_id(source, node, launcher, master, world,
                                                single_node=single_node, paths=paths)
        if caveat:
            caveats.append(caveat)
    if local_rank is None and ((world or 0) > 1 or (rank or 0) > 0):
        caveats.append(
            f"{source} gives this rank no local rank: every rank of the job measures this "
            "node's machine-wide devices and GPUs, so the job's total counts them once per rank; "
            "set LOCAL_RANK (and LOCAL_WORLD_SIZE) in each rank's environment")
    cpus = _int(environ, "SLURM_CPUS_ON_NODE")
    slurm = bool(environ.get("SLURM_JOB_ID", "").strip())
    return Job(
        job_id=ident, source=source, rank=rank, local_rank=local_rank,
        world_size=world, local_world_size=local_world, node=node, allocated_cpus=cpus,
        allocated_memory_bytes=_slurm_memory_bytes(environ, cpus) if slurm else None,
        node_rank=node_rank, job_id_from=ident_from,
        launcher_pid=launcher[0] if launcher else None, caveats=tuple(caveats),
    )


def _source_name(shape: _Shape, environ: Mapping[str, str]) -> str:
    if shape.source in ("torchelastic", "deepspeed", "generic") and environ.get(
            "ACCELERATE_MIXED_PRECISION"):
        return "accelerate"  # `accelerate launch` runs torchrun's or DeepSpeed's launcher
    if shape.source == "mpich" and environ.get("I_MPI_ROOT"):
        return "intel-mpi"
    return shape.source


def _given_id(shape: _Shape, source: str, environ: Mapping[str, str],
              job_id: str | None) -> tuple[str, str]:
    """(id, where from) when the user or a launcher names the job; ("", "") otherwise."""
    if job_id:
        return job_id, "the job_id setting"
    slurm_id = environ.get("SLURM_JOB_ID", "").strip()
    if slurm_id:
        # A torchrun or mpirun inside an srun step or an sbatch script is still one SLURM job.
        step = environ.get("SLURM_STEP_ID", "").strip()
        return (f"{slurm_id}.{step}", "SLURM_JOB_ID.SLURM_STEP_ID") if step else (
            slurm_id, "SLURM_JOB_ID")
    for name in shape.ids:
        value = environ.get(name, "").strip()
        if not value or (name == "TORCHELASTIC_RUN_ID" and value == "none"):
            continue
        # torchrun's id stands alone (users pass it as --rdzv-id); MPI ids are numbers or
        # namespaces that only mean something with their launcher's name.
        return (value if shape.source == "torchelastic" else f"{source}-{value}"), name
    return "", ""


def _derived_id(
    source: str,
    node: str | None,
    launcher: tuple[int, int | None] | None,
    master: tuple[str | None, str | None],
    world: int | None,
    *,
    single_node: bool,
    paths: HostPaths | None,
) -> tuple[str, str, str | None]:
    """(id, where from, caveat) for a launcher that names no job; see the module docstring."""
    from .host import _sha256_hex

    addr, port = master
    if launcher is not None and single_node:
        pid, start = launcher
        seed = f"{node}|{_boot_id(paths)}|{pid}|{start}"
        return (f"{source}-{_sha256_hex('wattprint-job:' + seed)[:16]}",
                f"derived: launcher process {pid} on {node}", None)
    if addr and port:
        ident = f"{source}-{_sha256_hex(f'wattprint-job:{addr}:{port}|{world}')[:16]}"
        return ident, f"derived: rendezvous {addr}:{port}", (
            f"job id {ident} is derived from the rendezvous address {addr}:{port}: a later job "
            "on the same address and port gets the same id; set WATTPRINT_JOB_ID (or launch "
            "with a job id, e.g. torchrun --rdzv-id) to tell runs of different jobs apart")
    pid, start = launcher if launcher is not None else (os.getppid(), None)
    seed = f"{node}|{_boot_id(paths)}|{pid}|{start}"
    ident = f"{source}-{_sha256_hex('wattprint-job:' + seed)[:16]}"
    return ident, f"derived: launcher process {pid} on {node}", (
        f"job id {ident} is derived from the launcher process on this node ({source} names no "
        "job and gives no rendezvous address): ranks on other nodes get other ids; set "
        "WATTPRINT_JOB_ID to one value on every node")


# -- the launcher process on this node ------------------------------------------------------

def _node_launcher(shape: _Shape, environ: Mapping[str, str], paths: HostPaths | None,
                   pid: int | None) -> tuple[int, int | None] | None:
    """(pid, start time in clock ticks since boot) of the process that started this node's
    ranks: the nearest one, from this process up, whose starting environment does not carry the
    launcher's local-rank variable. /proc/PID/environ keeps the environment a process was
    started with, so Lightning's rank 0 (which sets LOCAL_RANK in itself) is its own launcher.
    None when /proc cannot be read."""
    names = [n for n in shape.local_rank or shape.rank if n in environ]
    if not names:
        return None
    needles = tuple(f"{n}=".encode() for n in names)
    proc = paths.proc if paths is not None else None
    current = pid if pid is not None else os.getpid()
    for _ in range(_MAX_HOPS):
        stat = _stat(proc, current)
        if stat is None:
            return None
        parent, start = stat
        try:
            with open(_proc_file(proc, current, "environ"), "rb") as handle:
                entries = handle.read().split(b"\0")
        except OSError:  # another user's process: the best guess is that it is the launcher
            return current, start
        if not any(e.startswith(needles) for e in entries) or parent <= 1:
            return current, start
        current = parent
    return None


def _proc_file(proc: Any, pid: int, name: str) -> str:
    return f"{proc if proc is not None else '/proc'}/{pid}/{name}"


def _stat(proc: Any, pid: int) -> tuple[int, int | None] | None:
    """(parent pid, start time in ticks) from /proc/PID/stat, or None."""
    try:
        with open(_proc_file(proc, pid, "stat"), "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its last ')'.
    fields = text[text.rfind(b")") + 2:].split()
    try:
        return int(fields[1]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _boot_id(paths: HostPaths | None) -> str:
    proc = paths.proc if paths is not None else "/proc"
    try:
        with open(f"{proc}/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return ""


# -- ownership ------------------------------------------------------------------------------

def _visible(environ: Mapping[str, str]) -> list[str] | None:
    text = environ.get("CUDA_VISIBLE_DEVICES")
    return [v.strip() for v in text.split(",")] if text else None


def owned_gpus(job: Job, environ: Mapping[str, str]) -> tuple[str, ...] | None:
    """GPU ids (as CUDA_VISIBLE_DEVICES spells them) this rank measures.

    None means "no restriction" (a single process, or the leader when ownership is unclear);
    an empty tuple means "none: another rank measures them".
    """
    visible = _visible(environ)
    local_rank, local_world = job.local_rank, job.local_world_size
    if local_rank is None:
        return None
    if visible is not None and len(visible) == 1:
        return tuple(visible)  # the launcher gave this rank its own GPU
    if local_world and visible is not None and len(visible) == local_world:
        return (visible[local_rank],)  # torchrun convention: rank i uses cuda:i
    # Anything else (no CUDA_VISIBLE_DEVICES, or several GPUs per rank) cannot be split without
    # guessing: the leader measures every GPU, so the job's total stays right.
    return None if job.is_node_leader else ()


def _gpu_ownership_unclear(job: Job, environ: Mapping[str, str], gpus_measured: int) -> bool:
    """Whether this rank's run must say that GPUs could not be given to their owners.

    The leader knows how many GPUs it opened; another rank, which opens none, knows GPUs are
    there only when CUDA_VISIBLE_DEVICES lists several (a CPU-only job on a GPU-less node is
    not ambiguous)."""
    if job.local_rank is None:
        return False  # no local rank at all: said by the job's own caveat
    visible = _visible(environ)
    if visible is not None and len(visible) == 1:
        return False
    if job.local_world_size and visible is not None and len(visible) == job.local_world_size:
        return False
    if job.local_world_size == 1 or (job.local_world_size is None and job.world_size == 1):
        return False  # the only rank on its node owns whatever it sees
    if job.is_node_leader:
        return gpus_measured > 1
    return visible is not None


def job_warnings(job: Job, environ: Mapping[str, str], *,
                 gpu_ids: tuple[str, ...] | None = None, gpus_measured: int = 0) -> list[str]:
    """What a run of this rank must say about its job: a derived id's limits, an unknown local
    rank, and GPUs whose owner cannot be told. ``gpu_ids`` (the setting, when given) decides
    ownership; ``gpus_measured`` is how many GPUs this rank opened."""
    out = list(job.caveats)
    if gpu_ids is None and _gpu_ownership_unclear(job, environ, gpus_measured):
        visible = environ.get("CUDA_VISIBLE_DEVICES")
        seen = f"CUDA_VISIBLE_DEVICES={visible}" if visible else "CUDA_VISIBLE_DEVICES unset"
        ranks = job.local_world_size or "several"
        mine = ("this rank (local rank 0) measures every GPU it sees" if job.is_node_leader
                else "this rank measures no GPU; local rank 0 measures every GPU it sees")
        out.append(
            f"GPU ownership is ambiguous ({ranks} ranks on this node, {seen}): {mine}, so the "
            "job's total is right but no rank's own share is; give each rank one GPU "
            "(CUDA_VISIBLE_DEVICES with one id per rank, or as many visible GPUs as local ranks) "
            "or set gpu_ids")
    return out
