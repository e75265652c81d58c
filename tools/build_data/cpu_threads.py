"""The ``threads`` column of cpu_tdp.csv: hardware threads per socket, as the host runs them.

A virtual machine sees some of its host's threads as vCPUs; with the host CPU's TDP and thread
count the model charges it TDP / threads per vCPU instead of a cloud-wide average.

Where the figure comes from, first that has one (each row's source says which):

1. ``tools/curated/cpu_extra.csv``: the cloud and Arm server parts, from their vendors' pages.
2. Cloud Carbon Footprint's AWS platform data (``ccf_aws_instances_cpus.csv``): vCPUs per
   socket of the AWS host CPUs, i.e. the threads AWS actually runs.
3. SPECpower_ssj2008 results: total threads / chips of the tested system, where every result
   for that CPU agrees, it is the core count or twice it, and it agrees with a known core count
   (a result with SMT switched off, or a total entered as per chip, would make the CPUs'
   results disagree and is then left out).
4. Core count x threads per core for families where every model has the same: 2 for AMD EPYC
   and Ryzen Threadripper (SMT on every model), 2 for Intel Xeon Scalable Platinum, Gold and
   Silver (Hyper-Threading on every model; Bronze has none, so it is not covered).

Rows with none of these keep ``threads`` empty: the VM model then falls back to the visible
cloud average. Families whose models differ (Core, Ryzen, Xeon E/W/D) are left to sources 1-3.
"""

from __future__ import annotations

import re
from pathlib import Path

from wattprint.sensors.hardware_data import normalize_cpu_name

from .common import read_csv

SMT2_FAMILY = re.compile(
    r"^(?:amd (?:ryzen )?(?:epyc|threadripper)|intel xeon (?:platinum|gold|silver)) "
)
AWS_CPUS = "hardware/ccf_aws_instances_cpus.csv"
SPECPOWER = "hardware/ccf_SPECpower_{snapshot}.csv"
# CCF's AWS file names the Graviton parts without their brand.
AWS_NAME_FIXES = {"Graviton": "AWS Graviton", "Graviton2": "AWS Graviton2"}


def aws_platform_threads(raw: Path) -> dict[str, int]:
    """Name key -> vCPUs per socket of the AWS host CPUs."""
    out = {}
    for r in read_csv(raw / AWS_CPUS):
        name = AWS_NAME_FIXES.get(r["CPU Name"].strip(), r["CPU Name"].strip())
        out[normalize_cpu_name(name)] = int(r["Total Number of vCPU per socket"])
    return out


def specpower_threads(raw: Path, snapshot: str) -> tuple[dict[str, tuple[int, int]], int]:
    """Name key -> (cores, threads) per chip where the CPU's results agree; and how many CPUs'
    results disagreed (left out)."""
    seen: dict[str, set[tuple[int, int]]] = {}
    for r in read_csv(raw / SPECPOWER.format(snapshot=snapshot)):
        try:
            chips, cores, threads = int(r["Chips"]), int(r["# Cores"]), int(r["Total Threads"])
        except ValueError:
            continue
        if chips < 1 or cores % chips or threads % chips:
            continue
        per_chip = (cores // chips, threads // chips)
        seen.setdefault(normalize_cpu_name(r["CPU Description"]), set()).add(per_chip)
    agreed = {}
    disagreed = 0
    for key, values in seen.items():
        (cores, threads), *rest = sorted(values)
        if rest or threads not in (cores, 2 * cores):
            disagreed += 1
            continue
        agreed[key] = (cores, threads)
    return agreed, disagreed


def family_threads(key: str, cores: int | None) -> int | None:
    """Threads of a model whose family runs 2 threads on every core, from its core count."""
    if cores and SMT2_FAMILY.match(key):
        return 2 * cores
    return None
