"""CPU model lookup and power-model constants over the committed hardware tables."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wattprint.sensors import procfs
from wattprint.sensors.hardware_data import (
    CpuMatch,
    cpu_specs,
    lookup_cpu,
    normalize_cpu_name,
    power_model,
)

# The shared fake-/proc builder lives in tests/fakes (no packages under --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fakes.procfs import FakeHost  # noqa: E402


@pytest.mark.parametrize(
    ("reported", "key"),
    [
        ("Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", "intel xeon platinum 8370c"),
        ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", "intel core i7-8700k"),
        ("AMD EPYC 7B13 64-Core Processor", "amd epyc 7b13"),
        ("AMD Ryzen 9 5950X 16-Core Processor", "amd ryzen 9 5950x"),
        ("13th Gen Intel(R) Core(TM) i9-13900K", "intel core i9-13900k"),
        ("AMD Ryzen 7 5800H with Radeon Graphics", "amd ryzen 7 5800h"),
        ("Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz", "intel core 2 duo e8400"),
        ("Xeon Gold 6248", "intel xeon gold 6248"),  # brand inferred from the family
        ("Apple M2", "apple m2"),
        ("Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", "intel xeon e5-2670"),  # stepping "0"
        ("AMD Ryzen 7 PRO 7840U w/ Radeon 780M Graphics", "amd ryzen 7 pro 7840u"),
        ("AWS Graviton3 (ARM Neoverse-V1)", "aws graviton3"),
        ("NVIDIA Grace (ARM Neoverse-V2)", "nvidia grace"),
        # Maker words count as a brand only in first place: this one is AMD's.
        (
            "AMD Ryzen 7 3780U Microsoft Surface (R) Edition",
            "amd ryzen 7 3780u microsoft surface edition",
        ),
    ],
)
def test_normalize_cpu_name(reported: str, key: str) -> None:
    assert normalize_cpu_name(reported) == key


@pytest.mark.parametrize(
    ("reported", "name", "tdp_w"),
    [
        ("Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", "Intel Xeon Platinum 8370C", 205.0),
        ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", "Intel Core i7-8700K", 95.0),
        ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105.0),
        ("13th Gen Intel(R) Core(TM) i9-13900K", "Intel Core i9-13900K", 125.0),
        ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280.0),
        ("Apple M2", "Apple M2", 22.0),
    ],
)
def test_exact_matches(reported: str, name: str, tdp_w: float) -> None:
    match = lookup_cpu(reported)
    assert isinstance(match, CpuMatch)
    assert (match.matched_name, match.tdp_w, match.confidence) == (name, tdp_w, "exact")
    assert match.model_name == reported
    assert match.source and 1990 <= match.year <= 2030


def test_exact_match_carries_cores_and_year_where_known() -> None:
    match = lookup_cpu("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz")
    assert match is not None
    assert (match.cores, match.threads, match.year) == (6, None, 2017)
    match = lookup_cpu("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz")
    assert match is not None and (match.cores, match.threads) == (40, 80)


def test_close_match_needs_same_brand_and_model_number() -> None:
    # The family tier missing from the reported name: still the same chip.
    match = lookup_cpu("Intel(R) Xeon(R) 8370C CPU @ 2.80GHz")
    assert match is not None
    assert (match.matched_name, match.tdp_w, match.confidence) == (
        "Intel Xeon Platinum 8370C",
        205.0,
        "close",
    )


@pytest.mark.parametrize(
    "reported",
    [
        "AMD EPYC",  # what some VMs report
        "Intel Xeon Processor (Skylake)",
        "Intel Xeon Processor (Skylake, IBRS)",
        "Intel(R) Xeon(R) CPU @ 2.20GHz",
        "QEMU Virtual CPU version 2.5+",
        "ARM Neoverse-N1",  # the core without the cloud: Graviton2 or Altra, not known which
        "ARM Neoverse-V2",
        "Ampere AmpereOne (Ampere AmpereOne)",  # named, but no public TDP to list
        "NVIDIA",
        "Google",
        "Intel(R) Pentium(R) 570",  # a model number shared with AMD and Celeron parts
        "Ryzen 9",
        "",
    ],
)
def test_no_guessing(reported: str) -> None:
    assert lookup_cpu(reported) is None


# --- real /proc/cpuinfo model strings --------------------------------------------------------

# (string as the kernel prints it, table row, base power per socket W, threads per socket).
REAL_MODEL_STRINGS = [
    # Intel desktop and mobile, the 12th-gen-on parts at their base power, not the turbo limit.
    ("12th Gen Intel(R) Core(TM) i9-12900K", "Intel Core i9-12900K", 125.0, None),
    ("12th Gen Intel(R) Core(TM) i9-12900KF", "Intel Core i9-12900KF", 125.0, None),
    ("12th Gen Intel(R) Core(TM) i7-12700K", "Intel Core i7-12700K", 125.0, None),
    ("12th Gen Intel(R) Core(TM) i5-12600K", "Intel Core i5-12600K", 125.0, None),
    ("12th Gen Intel(R) Core(TM) i7-1270P", "Intel Core i7-1270P", 28.0, None),
    ("13th Gen Intel(R) Core(TM) i5-1335U", "Intel Core i5-1335U", 15.0, None),
    ("13th Gen Intel(R) Core(TM) i9-13900K", "Intel Core i9-13900K", 125.0, None),
    ("Intel(R) Core(TM) Ultra 7 155H", "Intel Core Ultra 7 155H", 28.0, None),
    ("Intel(R) Core(TM) Ultra 9 285K", "Intel Core Ultra 9 285K", 125.0, None),
    ("11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz", "Intel Core i7-1165G7", 28.0, None),
    ("Intel(R) Core(TM) i7-10750H CPU @ 2.60GHz", "Intel Core i7-10750H", 45.0, None),
    ("Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz", "Intel Core i7-8700K", 95.0, None),
    ("Intel(R) Core(TM) i7-7700HQ CPU @ 2.80GHz", "Intel Core i7-7700HQ", 45.0, None),
    ("Intel(R) Core(TM) i5-6500 CPU @ 3.20GHz", "Intel Core i5-6500", 65.0, None),
    # Xeon, including cloud strings with Sandy Bridge's stepping "0" and custom cloud SKUs.
    ("Intel(R) Xeon(R) CPU E5-2670 0 @ 2.60GHz", "Intel Xeon E5-2670", 115.0, 16),
    ("Intel(R) Xeon(R) CPU E5-2650 0 @ 2.00GHz", "Intel Xeon E5-2650", 95.0, 16),
    ("Intel(R) Xeon(R) CPU E5-2676 v3 @ 2.40GHz", "Intel Xeon E5-2676 v3", 120.0, 24),
    ("Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz", "Intel Xeon E5-2686 v4", 145.0, 36),
    ("Intel(R) Xeon(R) CPU E5-2673 v4 @ 2.30GHz", "Intel Xeon E5-2673 v4", 135.0, None),
    ("Intel(R) Xeon(R) Platinum 8124M CPU @ 3.00GHz", "Intel Xeon Platinum 8124M", 240.0, 36),
    ("Intel(R) Xeon(R) Platinum 8175M CPU @ 2.50GHz", "Intel Xeon Platinum 8175M", 240.0, 48),
    ("Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", "Intel Xeon Platinum 8259CL", 210.0, 48),
    ("Intel(R) Xeon(R) Platinum 8275CL CPU @ 3.00GHz", "Intel Xeon Platinum 8275CL", 240.0, 48),
    ("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "Intel Xeon Platinum 8375C", 300.0, 64),
    ("Intel(R) Xeon(R) Platinum 8488C", "Intel Xeon Platinum 8488C", 350.0, 96),
    ("Intel(R) Xeon(R) Platinum 8171M CPU @ 2.60GHz", "Intel Xeon Platinum 8171M", 165.0, None),
    ("Intel(R) Xeon(R) Platinum 8272CL CPU @ 2.60GHz", "Intel Xeon Platinum 8272CL", 195.0, None),
    ("Intel(R) Xeon(R) Platinum 8370C CPU @ 2.80GHz", "Intel Xeon Platinum 8370C", 205.0, None),
    ("Intel(R) Xeon(R) Platinum 8481C CPU @ 2.70GHz", "Intel Xeon Platinum 8481C", 350.0, None),
    ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", "Intel Xeon Gold 6248", 150.0, 40),
    ("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", "Intel Xeon Platinum 8380", 270.0, 80),
    # AMD Ryzen (with "w/ Radeon" and "with Radeon" suffixes), Threadripper and EPYC.
    ("AMD Ryzen 7 5800H with Radeon Graphics", "AMD Ryzen 7 5800H", 45.0, None),
    ("AMD Ryzen 5 5600G with Radeon Graphics", "AMD Ryzen 5 5600G", 65.0, None),
    ("AMD Ryzen 7 7840U w/ Radeon 780M Graphics", "AMD Ryzen 7 7840U", 28.0, None),
    ("AMD Ryzen 9 7950X 16-Core Processor", "AMD Ryzen 9 7950X", 170.0, None),
    ("AMD Ryzen 9 5950X 16-Core Processor", "AMD Ryzen 9 5950X", 105.0, None),
    (
        "AMD Ryzen Threadripper PRO 5995WX 64-Cores",
        "AMD Ryzen Threadripper PRO 5995WX",
        280.0,
        128,
    ),
    ("AMD EPYC 7B13", "AMD EPYC 7B13", 280.0, 128),  # Google Cloud
    ("AMD EPYC 7B13 64-Core Processor", "AMD EPYC 7B13", 280.0, 128),
    ("AMD EPYC 7R13 Processor", "AMD EPYC 7R13", 225.0, 96),  # AWS
    ("AMD EPYC 9R14", "AMD EPYC 9R14", 360.0, 96),  # AWS, one thread per core
    ("AMD EPYC 7R32", "AMD EPYC 7R32", 225.0, 96),
    ("AMD EPYC 7571", "AMD EPYC 7571", 120.0, 48),
    ("AMD EPYC 7763 64-Core Processor", "AMD EPYC 7763", 280.0, 128),  # Azure
    ("AMD EPYC 7452 32-Core Processor", "AMD EPYC 7452", 155.0, 64),
    ("AMD EPYC 9654 96-Core Processor", "AMD EPYC 9654", 360.0, 192),
]


@pytest.mark.parametrize(("reported", "name", "tdp_w", "threads"), REAL_MODEL_STRINGS)
def test_real_model_strings_resolve(
    reported: str, name: str, tdp_w: float, threads: int | None
) -> None:
    match = lookup_cpu(reported)
    assert match is not None, reported
    assert (match.matched_name, match.tdp_w, match.threads) == (name, tdp_w, threads)
    assert match.confidence == "exact"


# (MIDR implementer, part, DMI sys_vendor, table row, W per socket, threads, confidence)
ARM_SERVERS = [
    ("0x41", "0xd0c", "Amazon EC2", "AWS Graviton2", 125.0, 64, "exact"),
    ("0x41", "0xd40", "Amazon EC2", "AWS Graviton3", 222.22, 64, "exact"),
    ("0x41", "0xd4f", "Amazon EC2", "AWS Graviton4", 333.33, 96, "exact"),
    ("0x41", "0xd4f", "Google", "Google Axion", 250.0, 72, "exact"),
    ("0x41", "0xd4f", "Supermicro", "NVIDIA Grace", 250.0, 72, "exact"),
    ("0x6d", "0xd49", "Microsoft Corporation", "Microsoft Azure Cobalt 100", 250.0, 128, "exact"),
    # The SKU is not in /proc/cpuinfo: the stand-in the clouds run, flagged "close".
    ("0x41", "0xd0c", "Google", "Ampere Altra Q80-30", 210.0, 80, "close"),
    ("0x41", "0xd0c", "Microsoft Corporation", "Ampere Altra Q80-30", 210.0, 80, "close"),
]


@pytest.mark.parametrize(
    ("implementer", "part", "vendor", "name", "tdp_w", "threads", "confidence"), ARM_SERVERS
)
def test_arm_servers_resolve_from_cpuinfo(
    tmp_path: Path,
    implementer: str,
    part: str,
    vendor: str,
    name: str,
    tdp_w: float,
    threads: int,
    confidence: str,
) -> None:
    host = FakeHost(tmp_path)
    host.arm64_cpuinfo(implementer, part, cpus=4)
    host.dmi(vendor)
    info = procfs.cpu_info(host.paths)
    match = lookup_cpu(info.model_name)
    assert match is not None, info.model_name
    assert (match.matched_name, match.tdp_w, match.threads, match.confidence) == (
        name,
        tdp_w,
        threads,
        confidence,
    )
    assert "wattprint curated" in match.source and "https://" in match.source


def test_at_least_thirty_real_strings_are_covered() -> None:
    assert len(REAL_MODEL_STRINGS) + len(ARM_SERVERS) >= 30


def test_stated_core_count_gives_threads_where_the_row_has_none() -> None:
    # The row has no thread count; AMD's name says 32 cores and every EPYC runs 2 per core.
    match = lookup_cpu("AMD EPYC 7452 32-Core Processor")
    assert match is not None and (match.cores, match.threads) == (32, 64)
    assert "2 x the 32 cores the CPU's name states" in match.source
    bare = lookup_cpu("AMD EPYC 7452")
    assert bare is not None and bare.threads is None
    # Ryzen's name states cores too, but not every Ryzen runs 2 threads per core.
    assert lookup_cpu("AMD Ryzen 9 7950X 16-Core Processor").threads is None  # type: ignore[union-attr]


def test_every_table_row_finds_itself() -> None:
    # The build guarantees unique keys; a regression there would make rows unreachable.
    for spec in cpu_specs()[::97]:
        match = lookup_cpu(spec.name)
        assert match is not None and match.matched_name == spec.name
        assert match.confidence == "exact"


def test_power_model_constants() -> None:
    model = power_model()
    assert set(model) >= {
        "cpu_idle_fraction",
        "ram_w_per_gb",
        "vcpu_min_w",
        "vcpu_max_w",
        "default_cpu_tdp_w",
    }
    assert model["ram_w_per_gb"].value == 0.3725 and model["ram_w_per_gb"].unit == "W/GB"
    assert model["cpu_idle_fraction"].value == pytest.approx(0.203)
    assert model["default_cpu_tdp_w"].value == 125.0
    assert model["vcpu_min_w"].value == pytest.approx(1.0113)
    assert model["vcpu_max_w"].value == pytest.approx(3.795)
    assert all(ref.source and 1990 <= ref.year <= 2030 for ref in model.values())
