"""Arm processor names from MIDR codes, with the machine's DMI vendor where the core is shared."""

from __future__ import annotations

import pytest

from wattprint.sensors.arm_cpus import arm_cpu_name, cloud_of_vendor


def _never() -> str | None:
    raise AssertionError("DMI must not be read when the codes name the chip")


@pytest.mark.parametrize(
    ("implementer", "part", "vendor", "name"),
    [
        # Codes from the kernel's arch/arm64/include/asm/cputype.h; vendors as DMI prints them.
        ("0x41", "0xd0c", "Amazon EC2", "AWS Graviton2 (ARM Neoverse-N1)"),
        ("0x41", "0xd40", "Amazon EC2", "AWS Graviton3 (ARM Neoverse-V1)"),
        ("0x41", "0xd4f", "Amazon EC2", "AWS Graviton4 (ARM Neoverse-V2)"),
        ("0x41", "0xd08", "Amazon EC2", "AWS Graviton (ARM Cortex-A72)"),
        ("0x41", "0xd4f", "Google", "Google Axion (ARM Neoverse-V2)"),
        ("0x41", "0xd0c", "Google", "Ampere Altra (ARM Neoverse-N1)"),  # GCP T2A
        ("0x41", "0xd0c", "Microsoft Corporation", "Ampere Altra (ARM Neoverse-N1)"),  # Dpsv5
        ("0x41", "0xd0c", "GIGABYTE", "Ampere Altra (ARM Neoverse-N1)"),  # bare metal
        ("0x41", "0xd4f", "Supermicro", "NVIDIA Grace (ARM Neoverse-V2)"),
        ("0x41", "0xd4f", "NVIDIA", "NVIDIA Grace (ARM Neoverse-V2)"),
        ("0x41", "0xd40", "GIGABYTE", "ARM Neoverse-V1"),  # no merchant V1 server chip
        ("0x41", "0xd49", "Alibaba Cloud", "ARM Neoverse-N2"),
        ("0x41", "0xd08", "Raspberry Pi Foundation", "ARM Cortex-A72"),
    ],
)
def test_shared_cores_are_told_apart_by_the_cloud(
    implementer: str, part: str, vendor: str, name: str
) -> None:
    assert arm_cpu_name(implementer, part, lambda: vendor) == name


@pytest.mark.parametrize(
    ("implementer", "part", "name"),
    [
        ("0x6d", "0xd49", "Microsoft Azure Cobalt 100 (Microsoft Azure Cobalt 100)"),
        ("0xc0", "0xac3", "Ampere AmpereOne (Ampere AmpereOne)"),
        ("0xC0", "0xAC4", "Ampere AmpereOne (Ampere AmpereOne-1A)"),  # case as printed varies
    ],
)
def test_codes_of_a_single_chip_need_no_dmi(implementer: str, part: str, name: str) -> None:
    assert arm_cpu_name(implementer, part, _never) == name


def test_without_dmi_the_core_name_is_kept() -> None:
    # A container that hides /sys/class/dmi: Graviton2 and Altra look alike, so no guess.
    assert arm_cpu_name("0x41", "0xd0c", lambda: None) == "ARM Neoverse-N1"


def test_unknown_codes_stay_visible() -> None:
    assert arm_cpu_name("0x7a", "0x123", _never) == "implementer 0x7a part 0x123"
    assert arm_cpu_name("0x41", "", _never) == "ARM"
    assert arm_cpu_name("", "0xd0c", _never) == ""


def test_cloud_of_vendor() -> None:
    assert cloud_of_vendor("Amazon EC2") == "aws"
    assert cloud_of_vendor("Google") == "gcp"
    assert cloud_of_vendor("Microsoft Corporation") == ""
    assert cloud_of_vendor("") == ""
