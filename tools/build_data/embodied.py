"""Embodied (manufacturing) emissions of servers and their parts: embodied.csv.

Embodied emissions
    Cloud Carbon Footprint's per-instance additions divided by the part counts of instances
    whose hardware is published (HOST_*), which must agree; the server default is the median
    distinct 2-socket host configuration.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from .common import APACHE, INTENSITY, Table, fixed_decimals, read_csv, source_entry

# Instance hardware used to turn CCF's per-instance additions into per-part coefficients.
# Counts are the providers' published specifications (AWS, Google Cloud and Azure instance-type
# pages). CCF models every host as its base server plus additions beyond 1 CPU and 16 GB.
HOST_SOCKETS = {("aws", "a1.metal"): 1, ("aws", "m5.metal"): 2, ("aws", "x1.32xlarge"): 4}
HOST_MEMORY_GB = {
    ("aws", "a1.metal"): 32,
    ("aws", "c5.metal"): 192,
    ("aws", "m5.metal"): 384,
    ("aws", "x1.32xlarge"): 1952,
}
HOST_GPUS = {
    ("aws", "p4d.24xlarge"): 8,  # 8 NVIDIA A100
    ("aws", "p3.16xlarge"): 8,  # 8 NVIDIA V100
    ("gcp", "a2-megagpu-16g"): 16,  # 16 NVIDIA A100
    ("azure", "ND40rs v2"): 8,  # 8 NVIDIA V100
}
HOST_SSDS = {("aws", "i3.metal"): 8, ("aws", "p4d.24xlarge"): 8, ("aws", "x1.32xlarge"): 2}
HOST_HDDS = {("aws", "d2.8xlarge"): 24}
CCF_LIFETIME_YEARS = 4  # CCF amortises embodied emissions over a 4-year server life
CCF_EMBODIED_YEAR = 2021  # CCF's embodied-emissions coefficients and method (Teads, 2021)
CCF_EMBODIED_URL = "https://www.cloudcarbonfootprint.org/docs/embodied-emissions"


def _ccf_rows(raw: Path) -> list[tuple[str, str, dict[str, float]]]:
    """(cloud, instance type, {total, additional_*}) for every CCF embodied row."""
    rows = []
    for cloud in ("aws", "azure", "gcp"):
        for r in read_csv(raw / f"embodied/ccf_coefficients_{cloud}_embodied.csv"):
            values = {
                k: float(v) for k, v in r.items() if k.startswith("additional_") or k == "total"
            }
            rows.append((cloud, r["type"], values))
    return rows


def _typical_server(
    rows: list[tuple[str, str, dict[str, float]]], socket: float
) -> tuple[float, int, str]:
    """Median embodied total, GPUs excluded, over CCF's distinct 2-socket host configurations.

    Each host is counted once, however many instance sizes are sold on it: a family with ten
    sizes would otherwise outvote one with two.
    """
    configs = {
        (cloud, v["additional_memory"], v["additional_storage"]): v["total"] - v["additional_gpus"]
        for cloud, _, v in rows
        if v["additional_cpus"] == socket
    }
    values = sorted(configs.values())
    q1, median, q3 = statistics.quantiles(values, n=4)
    return median, len(values), f"interquartile range {q1:.0f}-{q3:.0f} kg"


def _per_unit(
    hosts: dict[tuple[str, str], dict[str, float]],
    counts: dict[tuple[str, str], int],
    column: str,
    offset: int,
) -> tuple[float, str]:
    """One coefficient from several hosts of known hardware; they must agree."""
    ratios = {}
    for key, count in counts.items():
        if count - offset > 0:
            ratios[key] = hosts[key][column] / (count - offset)
        elif hosts[key][column] != 0:
            raise ValueError(f"CCF gives {key} {column}={hosts[key][column]} for the base count")
    values = list(ratios.values())
    if max(values) - min(values) > 0.005 * max(values):
        raise ValueError(f"CCF {column} per unit disagrees between hosts: {ratios}")
    shown = ", ".join(
        f"{c} {t} {hosts[(c, t)][column]:g}/{n - offset}"
        for (c, t), n in counts.items()
        if n - offset > 0
    )
    return statistics.fmean(values), shown


def build_embodied(raw: Path) -> Table:
    ccf_rows = _ccf_rows(raw)
    hosts: dict[tuple[str, str], dict[str, float]] = {}
    for cloud, kind, values in ccf_rows:
        hosts.setdefault((cloud, kind), values)
    bases = {
        round(v["total"] - sum(x for k, x in v.items() if k != "total"), 6) for *_, v in ccf_rows
    }
    if len(bases) != 1:
        raise ValueError(f"CCF base server differs between instances: {sorted(bases)}")
    base = bases.pop()
    socket, socket_how = _per_unit(hosts, HOST_SOCKETS, "additional_cpus", 1)
    memory, memory_how = _per_unit(hosts, HOST_MEMORY_GB, "additional_memory", 16)
    gpu, gpu_how = _per_unit(hosts, HOST_GPUS, "additional_gpus", 0)
    ssd, ssd_how = _per_unit(hosts, HOST_SSDS, "additional_storage", 0)
    hdd, hdd_how = _per_unit(hosts, HOST_HDDS, "additional_storage", 0)
    server, n_hosts, spread = _typical_server(ccf_rows, socket)
    ccf = "Cloud Carbon Footprint embodied coefficients (Apache-2.0)"
    year = str(CCF_EMBODIED_YEAR)
    life = str(CCF_LIFETIME_YEARS)
    rows = [
        (
            "server",
            fixed_decimals(server, 2),
            life,
            "kgCO2e per 2-socket server, GPUs excluded",
            (
                f"{ccf}: median of total minus GPUs over the {n_hosts} distinct host "
                "configurations CCF models with 2 sockets (AWS, Azure, GCP)"
            ),
            year,
        ),
        (
            "server_base",
            fixed_decimals(base, 2),
            life,
            "kgCO2e per minimal server (1 CPU, 16 GB, no drives)",
            f"{ccf}: the base every instance row starts from (Dell PowerEdge R740 LCA)",
            year,
        ),
        (
            "cpu_socket",
            fixed_decimals(socket, 2),
            life,
            "kgCO2e per CPU socket beyond the first",
            f"{ccf}: additional_cpus / (sockets - 1) for {socket_how}",
            year,
        ),
        (
            "memory_gb",
            fixed_decimals(memory, 4),
            life,
            "kgCO2e per GB of memory beyond 16 GB",
            f"{ccf}: additional_memory / (GB - 16) for {memory_how}",
            year,
        ),
        (
            "gpu",
            fixed_decimals(gpu, 2),
            life,
            "kgCO2e per GPU",
            f"{ccf}: additional_gpus / GPUs for {gpu_how}",
            year,
        ),
        (
            "ssd",
            fixed_decimals(ssd, 2),
            life,
            "kgCO2e per SSD",
            f"{ccf}: additional_storage / SSDs for {ssd_how}",
            year,
        ),
        (
            "hdd",
            fixed_decimals(hdd, 2),
            life,
            "kgCO2e per HDD",
            f"{ccf}: additional_storage / HDDs for {hdd_how}",
            year,
        ),
    ]
    return Table(
        path=f"{INTENSITY}/embodied.csv",
        header=("kind", "kg_co2e", "lifetime_years", "unit", "source", "year"),
        rows=sorted(rows),
        description=(
            "Manufacturing (embodied) emissions of server parts, in kgCO2e per unit, with the "
            "service life to amortise them over (share per hour = kg_co2e / (lifetime_years x 8760))."
        ),
        inputs=[
            source_entry(
                "Cloud Carbon Footprint",
                "ccf-coefficients output/*_embodied.csv",
                f"coefficients of the {CCF_EMBODIED_YEAR} embodied-emissions method",
                APACHE,
                CCF_EMBODIED_URL,
                "embodied/ccf_coefficients_{aws,azure,gcp}_embodied.csv",
            )
        ],
        choices=[
            (
                f"Every CCF row is base {base:g} kg + additional memory, storage, CPUs and GPUs; "
                "the per-part coefficients are recovered by dividing an addition by the part count "
                "of instances whose hardware the providers publish (HOST_* in tools/build_data.py), "
                "and the build fails if two such instances disagree."
            ),
            (
                f"server = {server:g} kg: the median 2-socket host configuration without GPUs "
                f"({spread}; e.g. AWS m5.metal is base + second CPU + 368 GB of memory = 1611 kg). "
                "Add gpu x the GPU count for a GPU server."
            ),
            (
                f"lifetime_years = {CCF_LIFETIME_YEARS}: CCF's amortisation period. year = "
                f"{CCF_EMBODIED_YEAR}, when CCF published these coefficients (the base is Dell's "
                "PowerEdge R740 product carbon footprint, 2019)."
            ),
            (
                "No 'share of a server per CPU socket or vCPU' row: CCF allocates by vCPU share of "
                "the host, which needs the host's vCPU count at run time, not a constant."
            ),
        ],
    )

