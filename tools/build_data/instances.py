"""Cloud instance types: cloud_instances.csv (sensors/data).

One row per instance type of AWS, GCP and Azure: its vCPUs, the vCPUs of the host it is cut
from (the platform), the CPU and its microarchitecture, Cloud Carbon Footprint's watts per vCPU
for that microarchitecture, memory, GPUs, and the embodied emissions of the host (GPUs excluded)
with the instance's share of them.

Instance lists
    CCF's instance files (``ccf_{aws,gcp,azure}_instances.csv``) first; types only in the newer
    ``*_latest_2026.csv`` files (AWS, GCP) are added from those. AWS managed-service types
    (``db.*``, ``cache.*``, ``*.elasticsearch``) are left out: nobody runs a tracker on them.
    The 2026 files give no platform size, so a platform's vCPUs are those of the largest type
    sold on it (per AWS family and CPU, per GCP ``Platform``): CCF's own "highest vCPU possible"
    convention in its GCP and Azure files.

Microarchitecture and watts per vCPU
    GCP and Azure rows name their microarchitecture; AWS rows name a CPU, resolved by (1) a
    microarchitecture named in the CPU name ("Intel Xeon Ice Lake", "AWS Graviton4 Processor"),
    then (2) the longest CPU model of CCF's per-microarchitecture CPU lists found in the name
    ("Xeon E5-2670 v2" is Ivy Bridge, "Xeon E5-2670" Sandy Bridge). The watts are the provider's
    own coefficient file's; a microarchitecture missing there takes another provider's (AWS,
    then GCP, then Azure), and one missing everywhere takes CCF's method (mean watts per thread
    over the SPECpower results of CPUs on CCF's list) applied to the SPECpower snapshot: that
    is how Ampere Altra (Neoverse N1, GCP t2a) gets figures. A type CCF lists on several
    microarchitectures (GCP e2/n1, Azure Dv2/Dv3) gets the mean of theirs: its host may be any
    of them. No figure (Graviton 1, Google Axion, NVIDIA Grace, Apple silicon, Azure "Unknown"):
    the watts are left empty and the run falls back visibly to the cloud average per vCPU.

Coefficient check
    Each coefficient is compared with CCF's own method re-run on the SPECpower snapshot (every
    CCF figure that has enough results is reproduced within a few percent). One that differs by
    more than COEFFICIENT_TOLERANCE x is replaced by the re-run figure and the rows say so: CCF's
    EPYC 5th Gen row (3.68 / 8.96 W per vCPU, five times its own EPYC 4th Gen figure) against
    0.26 / 1.46 W from 43 published EPYC 9005 results.

Embodied emissions
    The host's embodied kgCO2e without its GPUs (GPUs are counted per measured card at run time,
    so a GPU is never counted twice), and the instance's share = host x vcpus / platform_vcpus
    (CCF's allocation). The host figure is, in order: CCF's embodied coefficients (total minus
    additional_gpus; the mean over the rows of a type listed on several microarchitectures);
    the 2026 file's platform figure, when it is within EMBODIED_TOLERANCE x of CCF's per-part
    model for that host; else CCF's per-part model itself (embodied.csv: base server + sockets
    beyond one + memory beyond 16 GB; local drives unknown, so not counted). A 2026 file whose
    figures fail that check for most of its platforms is not used at all (GCP's: 37 t for a
    c4a host, 270,000 t for an x4 host, and highmem hosts below standard ones).
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from wattprint.sensors.instances import instance_key

from .common import (
    APACHE,
    CCF_REPO,
    SENSORS,
    SPECPOWER_SNAPSHOT,
    Table,
    fixed_decimals,
    read_csv,
    source_entry,
)
from .embodied import CCF_EMBODIED_YEAR, build_embodied

PROVIDERS = ("aws", "gcp", "azure")
# A CCF coefficient further than this factor from CCF's method re-run on the SPECpower snapshot
# is replaced by the re-run figure.
COEFFICIENT_TOLERANCE = 2.0
MIN_SPECPOWER_RESULTS = 5  # fewer results than this: no re-run figure, no check
# A 2026 platform embodied figure further than this factor from CCF's per-part model of the
# same host is not used; a file failing for more than half of its platforms is not used at all.
EMBODIED_TOLERANCE = 3.0
LATEST_YEAR = 2026  # the *_latest_2026.csv instance files

# CCF's per-microarchitecture CPU lists (hardware/ccf_microarch/<file>.csv) -> the name the
# coefficient files use.
LIST_ARCH = {
    "amd-epyc-gen1": "EPYC 1st Gen",
    "amd-epyc-gen2": "EPYC 2nd Gen",
    "amd-epyc-gen3": "EPYC 3rd Gen",
    "amd-epyc-gen4": "EPYC 4th Gen",
    "amd-epyc-gen5": "EPYC 5th Gen",
    "amd-neoverse-n1": "Neoverse N1",  # Ampere Altra and Graviton 2 (the file name says amd)
    "intel-broadwell": "Broadwell",
    "intel-cascadelake": "Cascade Lake",
    "intel-coffeelake": "Coffee Lake",
    "intel-emeraldrapids": "Emerald Rapids",
    "intel-graniterapids": "Granite Rapids",
    "intel-haswell": "Haswell",
    "intel-icelake": "Ice Lake",
    "intel-ivybridge": "Ivy Bridge",
    "intel-sandybridge": "Sandy Bridge",
    "intel-sapphirerapids": "Sapphire Rapids",
    "intel-skylake": "Skylake",
    "intel-skylake-server": "Skylake",
}
# Microarchitectures whose coefficient rows are CCF's stand-ins rather than measurements of that
# CPU (every Graviton row repeats EPYC 2nd Gen): kept as CCF gives them, not checked.
UNCHECKED_ARCHS = {"Graviton2", "Graviton3", "Graviton3E", "Graviton4"}
# GCP 2026 microarchitecture names that are not CCF coefficient names.
ARCH_ALIASES = {"Quicksilver": "Neoverse N1"}  # Ampere Altra's code name
ARM_ARCHS = ("Graviton", "Neoverse", "Axion", "Grace")


@dataclass
class Instance:
    provider: str
    name: str
    vcpus: int
    platform_vcpus: int
    cpu: str
    archs: list[str]
    memory_gib: float | None
    gpus: int | None
    files: list[str]  # raw files the row comes from
    ccf_name: str = ""  # the name as CCF's embodied file spells it (Azure: "D4s v5")
    embodied: list[float] = field(default_factory=list)  # CCF host totals less GPUs, kg
    latest_platform_kg: float | None = None  # the 2026 file's platform figure, kg
    platform_memory_gib: float | None = None
    platform_key: str = ""


# --------------------------------------------------------------------------------------------
# Microarchitectures and their watts per vCPU


def _clean(text: str) -> str:
    # Upstream mixes non-breaking hyphens and carriage returns into names.
    return " ".join(text.replace("\u2011", "-").replace("\r", "").split())


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


def _microarch_lists(raw: Path) -> dict[str, list[str]]:
    lists = {}
    for stem in LIST_ARCH:
        path = raw / f"hardware/ccf_microarch/{stem}.csv"
        text = path.read_text(encoding="utf-8")
        lists[stem] = [_clean(line) for line in text.splitlines() if _clean(line)]
    return lists


class ArchResolver:
    """CPU name -> microarchitecture, from the names in the coefficient files and CCF's lists."""

    def __init__(self, arch_names: set[str], lists: dict[str, list[str]]) -> None:
        self.arch_names = sorted(arch_names, key=len, reverse=True)
        self.models = sorted(
            ((_words(model), LIST_ARCH[stem]) for stem, models in lists.items() for model in models),
            key=lambda m: len(m[0]),
            reverse=True,
        )

    def __call__(self, cpu: str) -> str | None:
        words = _words(cpu)
        squeezed = words.replace(" ", "")
        for arch in self.arch_names:  # "Intel Xeon Ice Lake", "AWS Graviton4 Processor"
            if _words(arch) in words or (arch.startswith("Graviton") and
                                         arch.lower() in squeezed.replace("processor", "")):
                return arch
        for model, arch in self.models:  # longest first: "e5 2670 v2" before "e5 2670"
            if model in words:
                return arch
        return None


@dataclass(frozen=True)
class Watts:
    min_w: float
    max_w: float
    how: str  # which file or method, for the source column
    note: str = ""


def _specpower_per_thread(raw: Path, lists: dict[str, list[str]]) -> dict[str, tuple[float, float, int]]:
    """CCF's method re-run: per microarchitecture, mean (watts / threads) at idle and at 100 %
    over the SPECpower results whose CPU is on CCF's list for it."""
    rows = read_csv(raw / f"hardware/ccf_SPECpower_{SPECPOWER_SNAPSHOT.isoformat()}.csv")
    per_arch: dict[str, list[tuple[float, float]]] = defaultdict(list)
    # " e5 2670 " inside " intel xeon e5 2670 v2 ": whole words, as a regex \b would match
    models = {stem: [_words(m) for m in names] for stem, names in lists.items()}
    for r in rows:
        threads = float(r["Total Threads"] or 0)
        if threads <= 0:
            continue
        cpu = _words(r["CPU Description"])
        for stem, words in models.items():
            if any(w in cpu for w in words):
                per_arch[LIST_ARCH[stem]].append(
                    (float(r["avg. watts @ active idle"]) / threads,
                     float(r["avg. watts @ 100%"]) / threads)
                )
    return {
        arch: (statistics.fmean(v[0] for v in vals), statistics.fmean(v[1] for v in vals), len(vals))
        for arch, vals in per_arch.items()
        if len(vals) >= MIN_SPECPOWER_RESULTS
    }


class Coefficients:
    """Watts per vCPU per (provider, microarchitecture), checked against SPECpower."""

    def __init__(self, raw: Path, lists: dict[str, list[str]]) -> None:
        self.files: dict[str, dict[str, tuple[float, float]]] = {}
        for provider in PROVIDERS:
            self.files[provider] = {
                r["Architecture"]: (float(r["Min Watts"]), float(r["Max Watts"]))
                for r in read_csv(raw / f"cloud/ccf_coefficients_{provider}_use.csv")
            }
        self.rerun = _specpower_per_thread(raw, lists)
        self.replaced: dict[tuple[str, str], str] = {}
        self.agreement: list[float] = []
        for provider, table in self.files.items():
            for arch, (lo, hi) in table.items():
                if arch in UNCHECKED_ARCHS or arch not in self.rerun:
                    continue
                r_lo, r_hi, n = self.rerun[arch]
                ratio = max(lo / r_lo, r_lo / lo, hi / r_hi, r_hi / hi)
                if ratio > COEFFICIENT_TOLERANCE:
                    self.replaced[(provider, arch)] = (
                        f"CCF's {provider} {arch} coefficients ({lo:.3g}-{hi:.3g} W per vCPU) are "
                        f"{ratio:.1f}x CCF's own method re-run on {n} SPECpower results "
                        f"({r_lo:.3g}-{r_hi:.3g} W), which are used instead"
                    )
                else:
                    self.agreement.append(ratio)

    def names(self) -> set[str]:
        return {arch for table in self.files.values() for arch in table}

    def one(self, provider: str, arch: str) -> Watts | None:
        order = [provider, *(p for p in PROVIDERS if p != provider)]
        for source in order:
            if arch not in self.files[source]:
                continue
            if (source, arch) in self.replaced:
                r_lo, r_hi, n = self.rerun[arch]
                return Watts(r_lo, r_hi, f"SPECpower re-run for {arch} (N={n})",
                             self.replaced[(source, arch)])
            lo, hi = self.files[source][arch]
            return Watts(lo, hi, f"ccf_coefficients_{source}_use.csv ({arch})")
        if arch in self.rerun:
            r_lo, r_hi, n = self.rerun[arch]
            return Watts(
                r_lo,
                r_hi,
                f"CCF's method on {n} SPECpower results for {arch}",
                f"CCF has no {arch} coefficient: mean watts per thread of {n} SPECpower results",
            )
        return None

    def for_archs(self, provider: str, archs: list[str], cpu: str) -> Watts | None:
        """The mean over the microarchitectures a type may run on; None if any is unknown."""
        found = [self.one(provider, a) for a in archs]
        if not archs or any(w is None for w in found):
            return None
        watts = [w for w in found if w is not None]
        how = "; ".join(dict.fromkeys(w.how for w in watts))
        notes = "; ".join(dict.fromkeys(w.note for w in watts if w.note))
        if len(watts) > 1:
            how = f"mean of {len(watts)}: {how}"
        return Watts(
            statistics.fmean(w.min_w for w in watts),
            statistics.fmean(w.max_w for w in watts),
            how,
            notes,
        )


# --------------------------------------------------------------------------------------------
# Instance lists


def _int(text: str) -> int | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return int(value) if value >= 0 and value == int(value) else None


def _float(text: str) -> float | None:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def _is_ec2(name: str) -> bool:
    # RDS (db.*), ElastiCache (cache.*) and OpenSearch (*.elasticsearch) types run no user code.
    return name.count(".") == 1 and not name.startswith(("db.", "cache."))


def _azure_name(ccf_name: str) -> str:
    """CCF's "D4s v5" (with footnote marks such as "M128 1") -> the API's "Standard_D4s_v5"."""
    name = re.sub(r"\s+\d$", "", _clean(ccf_name)) if " " in ccf_name.strip() else ccf_name
    return "Standard_" + _clean(name).replace(" ", "_")


def _ccf_embodied(raw: Path) -> dict[tuple[str, str], list[float]]:
    """(provider, type as CCF spells it) -> host totals less their GPUs, one per CCF row."""
    out: dict[tuple[str, str], list[float]] = defaultdict(list)
    for provider in PROVIDERS:
        for r in read_csv(raw / f"embodied/ccf_coefficients_{provider}_embodied.csv"):
            out[(provider, r["type"])].append(float(r["total"]) - float(r["additional_gpus"]))
    return out


def _merge(found: dict[str, Instance], row: Instance) -> None:
    """One row per type: a type CCF lists once per microarchitecture gathers them."""
    key = instance_key(row.provider, row.name)
    if key not in found:
        found[key] = row
        return
    have = found[key]
    same = (have.vcpus, have.platform_vcpus, have.memory_gib, have.gpus)
    if same != (row.vcpus, row.platform_vcpus, row.memory_gib, row.gpus):
        raise ValueError(f"{row.provider} {row.name} is listed twice with different sizes")
    have.archs += [a for a in row.archs if a not in have.archs]


def _with_ccf_embodied(found: dict[str, Instance], embodied: dict[tuple[str, str], list[float]]
                       ) -> dict[str, Instance]:
    for row in found.values():
        row.embodied = list(embodied.get((row.provider, row.ccf_name or row.name), []))
    return found


def _aws(raw: Path, resolve: ArchResolver, embodied: dict[tuple[str, str], list[float]]
         ) -> dict[str, Instance]:
    found: dict[str, Instance] = {}
    for r in read_csv(raw / "cloud/ccf_aws_instances.csv"):
        name = r["Instance type"].strip()
        if not _is_ec2(name):
            continue
        cpu = _clean(r["Platform CPU Name"])
        arch = resolve(cpu)
        gpus = _int(r["Instance Number of GPU"])
        row = Instance(
            "aws", name, int(r["Instance vCPU"]), int(r["Platform Total Number of vCPU"]), cpu,
            [arch] if arch else [], _float(r["Instance Memory (in GB)"]),
            gpus if gpus is not None else 0, ["cloud/ccf_aws_instances.csv"],
        )
        _merge(found, row)
    _with_ccf_embodied(found, embodied)
    latest = [r for r in read_csv(raw / "cloud/ccf_aws_instances_latest_2026.csv")
              if _is_ec2(r["Instance Type"].strip())]
    platforms: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for r in latest:
        platforms[(r["Instance Type"].split(".")[0], _clean(r["Platform CPU Name"]))].append(r)
    for (family, cpu), rows in platforms.items():
        largest = max(rows, key=lambda r: (int(r["vCPUs"]), float(r["Memory (GiB)"])))
        for r in rows:
            name = r["Instance Type"].strip()
            if instance_key("aws", name) in found:
                continue  # CCF's instance file gives the platform size; the 2026 file does not
            arch = resolve(cpu)
            tonnes = _float(r["Platform Embedded Emissions (mtCo2eq)"])
            accelerated = r["Category"].startswith("Accelerated")
            found[instance_key("aws", name)] = Instance(
                "aws", name, int(r["vCPUs"]), int(largest["vCPUs"]), cpu, [arch] if arch else [],
                _float(r["Memory (GiB)"]), None if accelerated else 0,
                ["cloud/ccf_aws_instances_latest_2026.csv"],
                latest_platform_kg=tonnes * 1000 if tonnes is not None else None,
                platform_memory_gib=float(largest["Memory (GiB)"]),
                platform_key=f"aws {family} on {cpu or 'an unnamed CPU'}",
            )
    return found


_GPU_SUFFIX = re.compile(r"-(\d+)g$")  # a2-highgpu-4g: 4 GPUs


def _gcp(raw: Path, resolve: ArchResolver, names: set[str],
         embodied: dict[tuple[str, str], list[float]]) -> dict[str, Instance]:
    found: dict[str, Instance] = {}
    for r in read_csv(raw / "cloud/ccf_gcp_instances.csv"):
        name = r["Machine type"].strip()
        row = Instance(
            "gcp", name, int(r["Instance vCPUs"]),
            int(r["Platform vCPUs (highest vCPU possible)"]), "",
            [r["Microarchitecture"]], _float(r["Instance Memory"]), _int(r["Instance GPUs"]) or 0,
            ["cloud/ccf_gcp_instances.csv"],
        )
        _merge(found, row)
    _with_ccf_embodied(found, embodied)
    latest = read_csv(raw / "cloud/ccf_gcp_instances_latest_2026.csv")
    platforms: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in latest:
        platforms[r["Platform"]].append(r)
    for platform, rows in platforms.items():
        largest = max(rows, key=lambda r: (int(r["Instance vCPU"]), float(r["Instance Memory"])))
        for r in rows:
            name = r["Instance Type"].strip()
            if instance_key("gcp", name) in found:
                continue
            cpu = _clean(r["CPU Name"])
            arch = ARCH_ALIASES.get(r["Microarchitecture"], r["Microarchitecture"])
            if arch not in names and arch not in ARCH_ALIASES.values():
                arch = resolve(cpu) or ""
            gpus = _GPU_SUFFIX.search(name)
            kg = _float(r["Platform Embedded Emissions (kgCo2eq)"])
            found[instance_key("gcp", name)] = Instance(
                "gcp", name, int(r["Instance vCPU"]), int(largest["Instance vCPU"]), cpu,
                [arch] if arch else [], _float(r["Instance Memory"]),
                int(gpus.group(1)) if gpus else (None if "gpu" in platform else 0),
                ["cloud/ccf_gcp_instances_latest_2026.csv"],
                latest_platform_kg=kg,
                platform_memory_gib=float(largest["Instance Memory"]),
                platform_key=f"gcp {platform}",
            )
    return found


def _azure(raw: Path, embodied: dict[tuple[str, str], list[float]], dropped: list[str],
           corrected: list[str]) -> dict[str, Instance]:
    found: dict[str, Instance] = {}
    rows = read_csv(raw / "cloud/ccf_azure_instances.csv")
    # A series where CCF lists a size larger than its "highest vCPU possible" (Mv2: 416 of 208)
    # takes its largest size as the platform, CCF's own definition of that column.
    largest: dict[str, int] = defaultdict(int)
    for r in rows:
        largest[r["Series"]] = max(largest[r["Series"]], _int(r["Instance vCPUs"]) or 0)
    fixed = {r["Series"] for r in rows
             if (_int(r["Instance vCPUs"]) or 0) > int(r["Platform vCPUs (highest vCPU possible)"])}
    corrected.extend(f"{s} ({largest[s]} vCPUs)" for s in sorted(fixed))
    for r in rows:
        arch = r["Microarchitecture"].strip()
        if _int(r["Instance vCPUs"]) is None:
            # CCF's "constrained vCPU" rows hold a fraction of the parent size where the vCPU
            # count belongs, and the parent's size where the platform's does: left out.
            dropped.append(r["Virtual Machine"])
            continue
        row = Instance(
            "azure", _azure_name(r["Virtual Machine"]), int(r["Instance vCPUs"]),
            largest[r["Series"]] if r["Series"] in fixed
            else int(r["Platform vCPUs (highest vCPU possible)"]), "",
            [] if arch == "Unknown" else [arch], _float(r["Instance Memory"]),
            _int(r["Instance GPUs"]) or 0, ["cloud/ccf_azure_instances.csv"],
            ccf_name=r["Virtual Machine"],
        )
        _merge(found, row)
    return _with_ccf_embodied(found, embodied)


# --------------------------------------------------------------------------------------------
# Embodied emissions of the host


@dataclass(frozen=True)
class Parts:
    """CCF's per-part embodied model (embodied.csv)."""

    base_kg: float
    socket_kg: float
    memory_kg_per_gb: float

    def host_kg(self, memory_gib: float, sockets: int) -> float:
        return (self.base_kg + self.socket_kg * (sockets - 1)
                + self.memory_kg_per_gb * max(memory_gib - 16, 0))


def _parts(raw: Path) -> Parts:
    kg = {row[0]: float(row[1]) for row in build_embodied(raw).rows}
    return Parts(kg["server_base"], kg["cpu_socket"], kg["memory_gb"])


def _sockets(archs: list[str], cpu: str) -> int:
    # CCF's GCP and Azure CPU files give EPYC 2nd and 3rd Gen hosts one socket and the rest two;
    # later EPYCs (up to 192 cores) and the Arm server CPUs are single-socket designs too.
    text = " ".join([*archs, cpu])
    if "EPYC" in text or any(a in text for a in ARM_ARCHS):
        return 1
    return 2


def _latest_rejected(rows: list[Instance], parts: Parts) -> tuple[set[str], bool, str]:
    """Platforms whose 2026 figure fails the check, whether the whole file fails, and a note."""
    platforms: dict[str, Instance] = {}
    for row in rows:
        if row.latest_platform_kg is not None and row.platform_memory_gib is not None:
            platforms.setdefault(row.platform_key, row)
    bad = set()
    for key, row in platforms.items():
        assert row.latest_platform_kg is not None and row.platform_memory_gib is not None
        model = parts.host_kg(row.platform_memory_gib, _sockets(row.archs, row.cpu))
        ratio = row.latest_platform_kg / model
        if not 1 / EMBODIED_TOLERANCE <= ratio <= EMBODIED_TOLERANCE:
            bad.add(key)
    whole = len(bad) > len(platforms) / 2
    note = f"{len(bad)} of {len(platforms)} platforms fail"
    return bad, whole, note


@dataclass(frozen=True)
class Embodied:
    host_kg: float
    basis: str  # "ccf-coefficients" | "ccf-latest-2026" | "ccf-parts-model"
    year: int


def _embodied(row: Instance, parts: Parts, rejected: set[str]) -> Embodied | None:
    if row.embodied:
        return Embodied(statistics.fmean(row.embodied), "ccf-coefficients", CCF_EMBODIED_YEAR)
    if row.latest_platform_kg is not None and row.platform_key not in rejected:
        return Embodied(row.latest_platform_kg, "ccf-latest-2026", LATEST_YEAR)
    if row.platform_memory_gib is None:
        return None
    sockets = _sockets(row.archs, row.cpu)
    return Embodied(parts.host_kg(row.platform_memory_gib, sockets), "ccf-parts-model",
                    CCF_EMBODIED_YEAR)


# --------------------------------------------------------------------------------------------
# The table


HEADER = (
    "provider",
    "instance_type",
    "vcpus",
    "platform_vcpus",
    "cpu",
    "microarchitecture",
    "min_w_per_vcpu",
    "max_w_per_vcpu",
    "memory_gib",
    "gpus",
    "platform_embodied_kg",
    "embodied_kg",
    "embodied_basis",
    "embodied_year",
    "source",
    "year",
    "licence",
    "note",
)


def _render(row: Instance, watts: Watts | None, embodied: Embodied | None) -> tuple[str, ...]:
    if any(c in row.name for c in ',"'):  # the package splits the first two fields by hand
        raise ValueError(f"{row.provider} {row.name!r}: a comma or quote in a type name")
    if not 1 <= row.vcpus <= row.platform_vcpus:
        raise ValueError(f"{row.provider} {row.name}: {row.vcpus} vCPUs of {row.platform_vcpus}")
    notes = []
    if watts is None and not row.archs and not row.cpu:
        notes.append("CCF names no microarchitecture for this size: the cloud average applies")
    elif watts is None:
        what = " / ".join(row.archs) or row.cpu
        notes.append(f"no per-vCPU coefficients for {what}: the cloud average applies")
    elif watts.note:
        notes.append(watts.note)
    source = "Cloud Carbon Footprint " + ", ".join(Path(f).name for f in row.files)
    if watts is not None:
        source += f"; W/vCPU {watts.how}"
    host_kg = fixed_decimals(embodied.host_kg, 2) if embodied else ""
    # the share of the host figure as written, so the two columns agree to the last digit
    share = float(host_kg) * row.vcpus / row.platform_vcpus if embodied else None
    return (
        row.provider,
        row.name,
        str(row.vcpus),
        str(row.platform_vcpus),
        row.cpu,
        "|".join(row.archs),
        fixed_decimals(watts.min_w, 4) if watts else "",
        fixed_decimals(watts.max_w, 4) if watts else "",
        fixed_decimals(row.memory_gib, 3) if row.memory_gib is not None else "",
        str(row.gpus) if row.gpus is not None else "",
        host_kg,
        fixed_decimals(share, 3) if share is not None else "",
        embodied.basis if embodied else "",
        str(embodied.year) if embodied else "",
        source,
        str(SPECPOWER_SNAPSHOT.year),
        APACHE,
        "; ".join(notes),
    )


def build_cloud_instances(raw: Path) -> Table:
    lists = _microarch_lists(raw)
    coefficients = Coefficients(raw, lists)
    resolve = ArchResolver(coefficients.names(), lists)
    ccf_embodied = _ccf_embodied(raw)
    parts = _parts(raw)
    dropped: list[str] = []
    corrected: list[str] = []
    by_provider = {
        "aws": _aws(raw, resolve, ccf_embodied),
        "gcp": _gcp(raw, resolve, coefficients.names(), ccf_embodied),
        "azure": _azure(raw, ccf_embodied, dropped, corrected),
    }
    rejected: set[str] = set()
    checks = []
    for provider in ("aws", "gcp"):
        latest = [r for r in by_provider[provider].values() if r.latest_platform_kg is not None]
        bad, whole, how = _latest_rejected(latest, parts)
        rejected |= {r.platform_key for r in latest} if whole else bad
        checks.append(f"{provider}: {how}" + (", so none is used" if whole else
                                               f" and are replaced: {', '.join(sorted(bad))}"))
    rows = []
    keys: dict[str, str] = {}
    for provider, found in by_provider.items():
        for key, row in found.items():
            if key in keys:
                raise ValueError(f"{row.provider} {row.name} and {keys[key]} share a lookup key")
            keys[key] = f"{row.provider} {row.name}"
            watts = coefficients.for_archs(provider, row.archs, row.cpu)
            rows.append(_render(row, watts, _embodied(row, parts, rejected)))
    rows.sort(key=lambda r: (r[0], instance_key(r[0], r[1])))
    counts = {p: sum(r[0] == p for r in rows) for p in PROVIDERS}
    no_watts = {p: sum(r[0] == p and not r[7] for r in rows) for p in PROVIDERS}
    bases = {b: sum(r[12] == b for r in rows) for b in sorted({r[12] for r in rows})}
    return Table(
        path=f"{SENSORS}/cloud_instances.csv",
        header=HEADER,
        rows=rows,
        description=(
            "Cloud instance types (AWS, GCP, Azure): vCPUs, the platform (host) vCPUs, CPU and "
            "microarchitecture, CPU watts per vCPU at idle and at full load, memory, GPUs, and "
            "embodied kgCO2e of the host without its GPUs (platform_embodied_kg) with the "
            "instance's share of it (embodied_kg = platform_embodied_kg x vcpus / "
            "platform_vcpus). Empty means unknown. Looked up by wattprint.sensors.instances."
        ),
        inputs=[
            source_entry(
                "Cloud Carbon Footprint",
                "ccf-coefficients data/ instance lists (AWS, GCP, Azure) and *_latest_2026",
                "commit b0032d9; latest lists 2026",
                APACHE,
                CCF_REPO,
                "cloud/ccf_{aws,gcp,azure}_instances.csv, cloud/ccf_{aws,gcp}_instances_latest_2026.csv",
            ),
            source_entry(
                "Cloud Carbon Footprint",
                "ccf-coefficients output/*_use.csv (watts per vCPU by microarchitecture)",
                "snapshot with SPECpower to 2026-03",
                APACHE,
                CCF_REPO,
                "cloud/ccf_coefficients_{aws,gcp,azure}_use.csv",
            ),
            source_entry(
                "Cloud Carbon Footprint",
                "ccf-coefficients output/*_embodied.csv and per-microarchitecture CPU lists",
                f"coefficients of the {CCF_EMBODIED_YEAR} embodied-emissions method",
                APACHE,
                CCF_REPO,
                "embodied/ccf_coefficients_{aws,gcp,azure}_embodied.csv, hardware/ccf_microarch/*.csv",
            ),
            source_entry(
                "Standard Performance Evaluation Corporation (SPEC)",
                "SPECpower_ssj2008 published results",
                SPECPOWER_SNAPSHOT.isoformat(),
                "SPEC published results (fair use of results); collected by CCF under Apache-2.0",
                "https://www.spec.org/power_ssj2008/results/",
                f"hardware/ccf_SPECpower_{SPECPOWER_SNAPSHOT.isoformat()}.csv",
                via="cloud-carbon-footprint/ccf-coefficients",
            ),
        ],
        choices=[
            f"{counts['aws']} AWS, {counts['gcp']} GCP and {counts['azure']} Azure types; "
            "lookup key: lower case, and for Azure without the Standard_ prefix, spaces and "
            "underscores (CCF's 'D4s v5' is the API's 'Standard_D4s_v5'); CCF's footnote marks "
            "('M128 1') are dropped.",
            f"{len(dropped)} Azure constrained-vCPU sizes are left out: CCF's rows give a "
            "fraction of the parent size as their vCPUs and the parent's size as the platform "
            f"(e.g. {', '.join(sorted(dropped)[:3])}).",
            "Azure series where CCF lists a size above the series' platform vCPUs take their "
            f"largest size as the platform: {', '.join(corrected) or 'none'}.",
            "Types in both CCF's instance file and the 2026 list come from the instance file (it "
            "gives the platform size); 2026-only types take the largest type on the same "
            "platform (AWS: family and CPU; GCP: the Platform column) as the whole host.",
            "AWS rows name a CPU: its microarchitecture is one the CPU name states, else the "
            "longest CPU model of CCF's per-microarchitecture lists found in the name.",
            "Watts per vCPU: the provider's coefficient file, else another provider's for the same "
            "microarchitecture, else CCF's method (mean watts per thread) re-run on the "
            "SPECpower snapshot; a type listed on several microarchitectures takes their mean.",
            f"Coefficient check: {len(coefficients.agreement)} CCF coefficients agree with CCF's "
            f"method re-run on SPECpower within {max(coefficients.agreement):.2f}x; replaced "
            f"(over {COEFFICIENT_TOLERANCE:g}x): "
            + ("; ".join(coefficients.replaced.values()) or "none") + ".",
            "Rows without watts (the run falls back to the cloud average per vCPU and says so): "
            + ", ".join(f"{p} {n}" for p, n in no_watts.items()) + ".",
            "Embodied: the host without its GPUs (GPUs are counted per measured card at run time, "
            "never twice); the instance's share is host x vcpus / platform_vcpus (CCF's "
            "allocation). embodied_basis: ccf-coefficients = CCF's embodied total less "
            "additional_gpus (mean over a type's microarchitecture rows); ccf-latest-2026 = the "
            "2026 list's platform figure; ccf-parts-model = CCF's per-part model of embodied.csv "
            "(base server, sockets beyond one, memory beyond 16 GB; local drives not counted). "
            f"Rows: {bases}.",
            f"2026 platform figures are used only within {EMBODIED_TOLERANCE:g}x of the per-part "
            "model of the same host, and a list failing for most platforms is not used: "
            + "; ".join(checks) + ".",
            f"year = {SPECPOWER_SNAPSHOT.year}, the snapshot of CCF's coefficients (SPECpower to "
            f"{SPECPOWER_SNAPSHOT.isoformat()}); embodied_year is that of the embodied figure.",
        ],
    )
