"""CPU model lookup and power-model constants over the committed hardware tables."""

from __future__ import annotations

import pytest

from wattprint.sensors.hardware_data import (
    CpuMatch,
    cpu_specs,
    lookup_cpu,
    normalize_cpu_name,
    power_model,
)


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
        "AMD EPYC 7B13 64-Core Processor",  # a cloud-only part no table lists
        "QEMU Virtual CPU version 2.5+",
        "Intel(R) Pentium(R) 570",  # a model number shared with AMD and Celeron parts
        "Ryzen 9",
        "",
    ],
)
def test_no_guessing(reported: str) -> None:
    assert lookup_cpu(reported) is None


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
