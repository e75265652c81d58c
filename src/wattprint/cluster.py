"""Distributed jobs: one run identity per job, one measurement of each device.

Launchers say who we are through the environment:

- SLURM: ``SLURM_JOB_ID`` (plus ``SLURM_STEP_ID``), ``SLURM_PROCID`` (global rank),
  ``SLURM_LOCALID`` (rank on this node), ``SLURM_NTASKS``, ``SLURM_NODEID``,
  ``SLURM_CPUS_ON_NODE`` and ``SLURM_MEM_PER_NODE`` / ``SLURM_MEM_PER_CPU`` (MB) for what the
  job was allocated on this node;
- torchrun (TorchElastic): ``TORCHELASTIC_RUN_ID``, ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``,
  ``LOCAL_WORLD_SIZE``, ``GROUP_RANK`` (node);
- or the user: ``job_id`` in config (``WATTPRINT_JOB_ID``).

Rules that keep totals right when several ranks share a node: machine-wide devices (RAPL,
CPU and RAM models) are measured only by the node's leader (local rank 0); each GPU is
measured by the rank that owns it; when ownership cannot be told, the leader measures every
GPU it sees and the other ranks none. Every rank writes its own runs (each with its own run id),
all carrying the job id, so the job's total is the plain sum of its runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["Job", "detect_job", "owned_gpus"]

_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    source: str  # "slurm" | "torchelastic" | "config"
    rank: int | None = None
    local_rank: int | None = None
    world_size: int | None = None
    local_world_size: int | None = None
    node: str | None = None
    allocated_cpus: int | None = None
    allocated_memory_bytes: int | None = None

    @property
    def is_node_leader(self) -> bool:
        return self.local_rank in (None, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "source": self.source, "rank": self.rank,
            "local_rank": self.local_rank, "world_size": self.world_size,
            "local_world_size": self.local_world_size, "node": self.node,
            "node_leader": self.is_node_leader, "allocated_cpus": self.allocated_cpus,
            "allocated_memory_bytes": self.allocated_memory_bytes,
        }


def _int(environ: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        text = environ.get(name, "").strip()
        if text:
            try:
                return int(text)
            except ValueError:
                continue
    return None


def _slurm_memory_bytes(environ: Mapping[str, str], cpus: int | None) -> int | None:
    per_node = _int(environ, "SLURM_MEM_PER_NODE")
    if per_node:
        return per_node * _MIB
    per_cpu = _int(environ, "SLURM_MEM_PER_CPU")
    if per_cpu and cpus:
        return per_cpu * cpus * _MIB
    return None


def detect_job(environ: Mapping[str, str], *, job_id: str | None = None,
               hostname: str | None = None) -> Job | None:
    """The job this process belongs to, or None when it runs on its own."""
    torch_id = environ.get("TORCHELASTIC_RUN_ID", "").strip()
    slurm_id = environ.get("SLURM_JOB_ID", "").strip()
    if job_id:
        source, ident = "config", job_id
    elif slurm_id:
        step = environ.get("SLURM_STEP_ID", "").strip()
        # A torchrun inside an srun step is still one SLURM job: the SLURM id names it.
        source, ident = "slurm", f"{slurm_id}.{step}" if step else slurm_id
    elif torch_id and torch_id != "none":
        source, ident = "torchelastic", torch_id
    else:
        return None
    # torchrun's variables describe the training processes themselves, so they win over
    # SLURM's task ids when both are present (one srun task per node running torchrun).
    rank = _int(environ, "RANK", "SLURM_PROCID")
    local_rank = _int(environ, "LOCAL_RANK", "SLURM_LOCALID")
    world = _int(environ, "WORLD_SIZE", "SLURM_NTASKS")
    local_world = _int(environ, "LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE")
    node = environ.get("SLURMD_NODENAME") or hostname
    cpus = _int(environ, "SLURM_CPUS_ON_NODE")
    return Job(
        job_id=ident, source=source, rank=rank, local_rank=local_rank, world_size=world,
        local_world_size=local_world, node=node, allocated_cpus=cpus,
        allocated_memory_bytes=_slurm_memory_bytes(environ, cpus) if slurm_id else None,
    )


def owned_gpus(job: Job, environ: Mapping[str, str]) -> tuple[str, ...] | None:
    """GPU ids (as CUDA_VISIBLE_DEVICES spells them) this rank measures.

    None means "no restriction" (a single process, or the leader when ownership is unclear);
    an empty tuple means "none: another rank measures them".
    """
    visible_text = environ.get("CUDA_VISIBLE_DEVICES")
    visible = [v.strip() for v in visible_text.split(",")] if visible_text else None
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
