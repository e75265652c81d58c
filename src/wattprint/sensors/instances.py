"""Cloud instance types: what the cloud says this VM is, and what that means for its power.

The instance type comes from the ``cloud_instance_type`` setting or, failing that, from the
cloud's instance metadata (AWS ``instanceType``, GCP ``machine-type``, Azure ``vmSize``; see
:mod:`wattprint.intensity.cloud_metadata`). The bundled ``data/cloud_instances.csv`` (built by
``tools/build_data/instances.py`` from Cloud Carbon Footprint's tables) maps it to:

- the VM's vCPUs and the vCPUs of the host it is cut from;
- its CPU microarchitecture's watts per vCPU at idle and at full load, which the CPU model
  (:mod:`wattprint.sensors.model`) uses ahead of the host-CPU TDP table and the cloud average;
- the host's embodied emissions without its GPUs, and the instance's vCPU share of them, which
  :func:`wattprint.footprint.embodied` uses instead of a whole server.

A type the table does not know, or knows without watts, is a visible fallback: the
:class:`InstanceChoice` carries a warning naming the type and what to set. The table is read on
first use only (a tracker off the cloud never opens it).
"""

from __future__ import annotations

from .._struct import dataclass

TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import SensorOptions
    from .model import CpuPower, PowerModel
    from .procfs import CpuInfo

__all__ = [
    "InstanceChoice",
    "InstanceType",
    "choose_instance",
    "instance_choice",
    "instance_cpu_power",
    "instance_key",
    "instance_types",
    "lookup_instance",
    "with_instance_warning",
]

PROVIDERS = ("aws", "gcp", "azure")
_LABELS = {"aws": "AWS", "gcp": "GCP", "azure": "Azure"}
_AZURE_TIERS = ("standard_", "basic_")
_HEADER = [
    "provider", "instance_type", "vcpus", "platform_vcpus", "cpu", "microarchitecture",
    "min_w_per_vcpu", "max_w_per_vcpu", "memory_gib", "gpus", "platform_embodied_kg",
    "embodied_kg", "embodied_basis", "embodied_year", "source", "year", "licence", "note",
]
_EMBODIED_BASES = {
    "ccf-coefficients": "Cloud Carbon Footprint's embodied coefficients, GPUs excluded",
    "ccf-latest-2026": "Cloud Carbon Footprint's 2026 platform figure",
    "ccf-parts-model": "Cloud Carbon Footprint's per-part model (base server, sockets, memory)",
}
_FIX = ("set cloud_instance_type = \"<type>\" in wattprint.toml or WATTPRINT_CLOUD_INSTANCE_TYPE "
        "(e.g. m5.large, n2-standard-4, Standard_D4s_v5)")


def instance_key(provider: str, name: str) -> str:
    """The lookup key of an instance type name: lower case; for Azure also without the tier
    prefix, spaces and underscores, so the API's "Standard_D4s_v5", the portal's "D4s_v5" and
    Cloud Carbon Footprint's "D4s v5" are one key."""
    key = name.strip().lower()
    if provider == "azure":
        for tier in _AZURE_TIERS:
            if key.startswith(tier):
                key = key[len(tier):]
                break
        key = key.replace("_", "").replace(" ", "")
    return key


@dataclass(frozen=True, slots=True)
class InstanceType:
    """One row of ``cloud_instances.csv`` (None where the table leaves a figure unknown)."""

    provider: str
    instance_type: str
    vcpus: int
    platform_vcpus: int
    cpu: str
    microarchitecture: str  # "Skylake"; several as "Skylake|Broadwell" (watts are their mean)
    min_w_per_vcpu: float | None
    max_w_per_vcpu: float | None
    memory_gib: float | None
    gpus: int | None
    platform_embodied_kg: float | None  # the host without its GPUs
    embodied_kg: float | None  # the instance's share: host x vcpus / platform_vcpus
    embodied_basis: str
    embodied_year: int | None
    source: str
    year: int
    licence: str
    note: str

    @property
    def label(self) -> str:
        return f"{_LABELS.get(self.provider, self.provider)} {self.instance_type}"

    @property
    def has_watts(self) -> bool:
        return self.min_w_per_vcpu is not None and self.max_w_per_vcpu is not None

    @property
    def cpu_label(self) -> str:
        archs = self.microarchitecture.replace("|", " / ")
        if self.cpu and archs:
            return f"{archs} ({self.cpu})"
        return archs or self.cpu or "an unnamed CPU"

    def embodied_basis_text(self) -> str:
        return _EMBODIED_BASES.get(self.embodied_basis, self.embodied_basis)


def _num(text: str) -> float | None:
    return float(text) if text else None


def _int(text: str) -> int | None:
    return int(text) if text else None


_LINES: dict[tuple[str, str], str] = {}  # (provider, lookup key) -> the row's CSV line


def _lines() -> dict[tuple[str, str], str]:
    """Every row's raw line by (provider, key), read once. Rows are parsed only when looked up:
    building ~1,900 records would cost a cloud VM's tracker start about a tenth of a second."""
    if not _LINES:
        import os

        path = os.path.join(os.path.dirname(__file__), "data", "cloud_instances.csv")
        with open(path, encoding="utf-8") as fh:  # no pathlib on the tracker's start path
            text = fh.read()
        header, *lines = text.splitlines()
        if header.split(",") != _HEADER:
            raise ValueError("cloud_instances.csv: unexpected columns; regenerate the bundled "
                             "tables")
        for line in lines:
            provider, name, _ = line.split(",", 2)  # the build keeps these two unquoted
            _LINES[(provider, instance_key(provider, name))] = line
    return _LINES


def _fields(line: str) -> list[str]:
    """One CSV line as the build writes it (fields quoted when they hold a comma or a quote,
    quotes doubled). Not the csv module: it imports re, ~10 ms of a cloud VM's tracker start."""
    fields, field, quoted, i = [], [], False, 0
    while i < len(line):
        char = line[i]
        if quoted and char == '"':
            if line[i + 1:i + 2] == '"':
                field.append('"')
                i += 1
            else:
                quoted = False
        elif char == '"' and not field:
            quoted = True
        elif char == "," and not quoted:
            fields.append("".join(field))
            field = []
        else:
            field.append(char)
        i += 1
    fields.append("".join(field))
    return fields


def _parse(line: str) -> InstanceType:
    (provider, name, vcpus, platform, cpu, arch, lo, hi, memory, gpus, host_kg, share_kg, basis,
     basis_year, source, year, licence, note) = _fields(line)
    return InstanceType(
        provider, name, int(vcpus), int(platform), cpu, arch, _num(lo), _num(hi), _num(memory),
        _int(gpus), _num(host_kg), _num(share_kg), basis, _int(basis_year), source, int(year),
        licence, note,
    )


def instance_types() -> dict[str, dict[str, InstanceType]]:
    """The whole table: provider -> lookup key -> row (for tests and tools; a run looks up one)."""
    table: dict[str, dict[str, InstanceType]] = {p: {} for p in PROVIDERS}
    for (provider, key), line in _lines().items():
        table.setdefault(provider, {})[key] = _parse(line)
    return table


def lookup_instance(name: str, provider: str | None = None) -> InstanceType | None:
    """The row for an instance type, within one provider or, without one, in any (the build
    keeps the keys of different providers apart, so a bare name names one row at most)."""
    lines = _lines()
    for cloud in (provider,) if provider else PROVIDERS:
        line = lines.get((cloud or "", instance_key(cloud or "", name)))
        if line is not None:
            return _parse(line)
    return None


@dataclass(frozen=True, slots=True)
class InstanceChoice:
    """The instance type a run is on, where that came from, and the table's row for it.

    ``row`` is None when the table does not know the type; ``warning`` then says so, names the
    fallback and what to set. A known type without per-vCPU watts has a row *and* a warning.
    """

    name: str
    provider: str | None
    source: str  # "config (cloud_instance_type)", "AWS instance metadata"
    row: InstanceType | None
    warning: str | None = None


def choose_instance(name: str | None, provider: str | None, source: str) -> InstanceChoice | None:
    """Look up the instance type a run is on; None when no type is known at all."""
    if not name:
        return None
    cloud = provider if provider in PROVIDERS else None
    if provider and cloud is None:
        return InstanceChoice(name, provider, source, None, (
            f"instance type {name!r} ({source}) is on {provider}, for which wattprint has no "
            "instance table: the cloud-average CPU power per vCPU and a whole server's embodied "
            "emissions (an upper bound) are used"))
    row = lookup_instance(name, cloud)
    if row is None:
        where = f"{_LABELS[cloud]} " if cloud else ""
        return InstanceChoice(name, provider, source, None, (
            f"{where}instance type {name!r} ({source}) is not in the bundled instance table, so "
            "its CPU power falls back to the host CPU's TDP or the cloud average per vCPU, and "
            "its embodied emissions to a whole server's (an upper bound). If the name is "
            f"misspelt or the metadata is wrong, {_FIX}; otherwise set cpu_tdp_w"))
    warning = None
    if not row.has_watts:
        why = row.note or f"no per-vCPU coefficients for {row.cpu_label}"
        warning = (f"{row.label} ({source}) is known, but {why}; its CPU power falls back to the "
                   "host CPU's TDP or the cloud average per vCPU. If you know the host CPU's "
                   "TDP, set cpu_tdp_w")
    return InstanceChoice(name, row.provider, source, row, warning)


def instance_choice(options: SensorOptions) -> InstanceChoice | None:
    """The instance type the probe options name (the setting's or the metadata's), looked up."""
    return choose_instance(options.cloud_instance_type, options.cloud,
                           options.cloud_instance_type_from or "config (cloud_instance_type)")


def instance_cpu_power(info: CpuInfo, choice: InstanceChoice, model: PowerModel) -> CpuPower:
    """The CPU power of a known instance type: its microarchitecture's watts per vCPU times the
    table's vCPUs (what the VM is sold with), cross-checked against the CPUs this machine sees."""
    from .model import CpuPower

    row = choice.row
    if row is None or row.min_w_per_vcpu is None or row.max_w_per_vcpu is None:
        raise ValueError(f"{choice.name}: no per-vCPU coefficients to use")
    n = row.vcpus
    warning = None
    if info.logical_cpus != n:
        warning = (
            f"{row.label} has {n} vCPUs but this machine sees {info.logical_cpus} CPUs; the "
            f"instance's {n} are used. If the instance type ({choice.source}) is wrong, {_FIX}")
    source = f"{row.source}, {row.year}"
    coefficients = (f"{row.min_w_per_vcpu:g}-{row.max_w_per_vcpu:g} W per vCPU for "
                    f"{row.cpu_label}")
    return CpuPower(
        idle_w=row.min_w_per_vcpu * n,
        max_w=row.max_w_per_vcpu * n,
        unit_w=row.max_w_per_vcpu,
        scaling="per-vcpu",
        source=source,
        confidence="instance-type",
        idle_fraction=row.min_w_per_vcpu / row.max_w_per_vcpu,
        idle_source=source,
        basis=(f"cloud instance type {row.label} ({choice.source}): {n} vCPUs x {coefficients} "
               f"({source})"),
        warning=warning,
        attributes=(
            ("instance_type", row.instance_type),
            ("instance_provider", row.provider),
            ("instance_type_source", choice.source),
            ("instance_vcpus", str(n)),
            ("microarchitecture", row.microarchitecture),
            ("min_w_per_vcpu", f"{row.min_w_per_vcpu:g}"),
            ("max_w_per_vcpu", f"{row.max_w_per_vcpu:g}"),
        ),
    )


def with_instance_warning(power: CpuPower, choice: InstanceChoice | None) -> CpuPower:
    """The host-CPU fallback, saying why the instance type did not serve (or, on a VM whose
    type nobody named, how to name it)."""
    from .._struct import replace

    if choice is not None:
        extra = choice.warning
    elif power.confidence == "vcpu-average":
        extra = (f"If this VM is a cloud instance, {_FIX}, so that its CPU family's "
                 "coefficients are used")
    else:
        extra = None
    if not extra:
        return power
    warning = f"{power.warning} {extra}." if power.warning else f"{extra}."
    return replace(power, warning=warning)
