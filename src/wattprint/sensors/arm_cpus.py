"""Names for 64-bit Arm processors, which ``/proc/cpuinfo`` identifies only by MIDR codes.

An arm64 kernel prints no "model name", only the Main ID Register fields ("CPU implementer:
0x41", "CPU part: 0xd0c"). The codes name the *core*; :func:`arm_cpu_name` turns them into the
name the CPU table knows:

- codes that name a chip outright (Microsoft's own implementer code for Azure Cobalt 100,
  Ampere's for AmpereOne) give the chip;
- Arm's Neoverse cores are licensed whole, so the same code appears in several chips; the cloud
  (the machine's DMI ``sys_vendor``) tells them apart: Neoverse-N1 is AWS Graviton2 on AWS,
  Neoverse-V1 Graviton3, Neoverse-V2 Graviton4 on AWS and Google Axion on Google Cloud;
- elsewhere a Neoverse-N1 server is an Ampere Altra (Altra and Altra Max are the N1 server
  chips sold outside AWS; Azure, Google Cloud and Oracle Cloud rent them) and a Neoverse-V2
  server an NVIDIA Grace (the V2 chip sold outside AWS and Google). Without DMI (a container
  that hides it) the core name is kept: guessing the cloud would be a guess.

The result reads "<chip> (<vendor> <core>)", e.g. "AWS Graviton3 (ARM Neoverse-V1)": the table
matches the chip (parentheses are ignored), and the core stays visible in the model name.

Codes are those of the Linux kernel's ``arch/arm64/include/asm/cputype.h``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["arm_cpu_name", "cloud_of_vendor"]

IMPLEMENTERS = {
    "0x41": "ARM",
    "0x42": "Broadcom",
    "0x43": "Cavium",
    "0x46": "Fujitsu",
    "0x48": "HiSilicon",
    "0x4e": "NVIDIA",
    "0x51": "Qualcomm",
    "0x61": "Apple",
    "0x6d": "Microsoft",
    "0xc0": "Ampere",
}
PARTS = {
    ("0x41", "0xd03"): "Cortex-A53",
    ("0x41", "0xd07"): "Cortex-A57",
    ("0x41", "0xd08"): "Cortex-A72",
    ("0x41", "0xd0b"): "Cortex-A76",
    ("0x41", "0xd0c"): "Neoverse-N1",
    ("0x41", "0xd40"): "Neoverse-V1",
    ("0x41", "0xd49"): "Neoverse-N2",
    ("0x41", "0xd4f"): "Neoverse-V2",
    ("0x41", "0xd84"): "Neoverse-V3",
    ("0x41", "0xd8e"): "Neoverse-N3",
    ("0x46", "0x001"): "A64FX",
    ("0x48", "0xd01"): "TaiShan-v110",
    ("0x4e", "0x003"): "Denver",
    ("0x4e", "0x004"): "Carmel",
    ("0x6d", "0xd49"): "Azure Cobalt 100",  # "based on r0p0 of ARM Neoverse N2" (cputype.h)
    ("0xc0", "0xac3"): "AmpereOne",
    ("0xc0", "0xac4"): "AmpereOne-1A",
}
# Codes that are one chip wherever they run.
CHIPS = {
    ("0x6d", "0xd49"): "Microsoft Azure Cobalt 100",
    ("0xc0", "0xac3"): "Ampere AmpereOne",
    ("0xc0", "0xac4"): "Ampere AmpereOne",
}
# (core, cloud) -> the cloud's own chip built on that core.
CLOUD_CHIPS = {
    ("Cortex-A72", "aws"): "AWS Graviton",
    ("Neoverse-N1", "aws"): "AWS Graviton2",
    ("Neoverse-V1", "aws"): "AWS Graviton3",
    ("Neoverse-V2", "aws"): "AWS Graviton4",
    ("Neoverse-V2", "gcp"): "Google Axion",
}
# core -> the server chip built on it that is sold outside the clouds above.
MERCHANT_CHIPS = {
    "Neoverse-N1": "Ampere Altra",
    "Neoverse-V2": "NVIDIA Grace",
}

_SHARED_CORES = frozenset(core for core, _ in CLOUD_CHIPS) | frozenset(MERCHANT_CHIPS)


def cloud_of_vendor(sys_vendor: str) -> str:
    """'aws' / 'gcp' from a DMI sys_vendor, '' for any other machine (the only two that matter
    here: the clouds with chips of their own on a shared Neoverse core)."""
    if sys_vendor.startswith("Amazon EC2"):
        return "aws"
    if sys_vendor.startswith("Google"):
        return "gcp"
    return ""


def arm_cpu_name(implementer: str, part: str, sys_vendor: Callable[[], str | None]) -> str:
    """The name of an arm64 CPU from its MIDR codes (as /proc/cpuinfo prints them).

    ``sys_vendor`` reads the DMI vendor only when the core alone cannot tell the chip; it
    returns None where DMI is unreadable.
    """
    implementer, part = implementer.lower(), part.lower()
    if not implementer:
        return ""
    vendor = IMPLEMENTERS.get(implementer, f"implementer {implementer}")
    core = PARTS.get((implementer, part), f"part {part}" if part else "")
    midr = f"{vendor} {core}".strip()
    chip = CHIPS.get((implementer, part))
    if chip is None and core in _SHARED_CORES:
        vendor_text = sys_vendor()
        if vendor_text is not None:
            cloud = cloud_of_vendor(vendor_text)
            chip = CLOUD_CHIPS.get((core, cloud)) or MERCHANT_CHIPS.get(core)
    return f"{chip} ({midr})" if chip else midr
