"""A fake ``amdsmi`` module that behaves like ROCm's Python bindings, for ``ctx.modules``.

It keeps the real API's shape (amdsmi ``py-interface``): module-level functions taking processor
handles, results as dicts with the real key names (``energy_accumulator`` and its pre-6.2 alias
``power``, ``counter_resolution``, ``timestamp``; ``average_socket_power`` /
``current_socket_power`` / ``socket_power`` in W, ``"N/A"`` where unsupported), and failures as
``AmdSmiLibraryException`` carrying an ``amdsmi_status_t`` code. Counters advance in ticks of
``counter_resolution`` µJ, wrap at their width and can be reset.

Topologies: :func:`gpu` (one die), :func:`mi250x` (two GCDs, only the primary reports the card's
energy; the secondary reads 0, as Linux ``aldebaran_ppt.c`` does) and :func:`mi300x` (partitions
sharing one socket counter and one PCI bus:device).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

__all__ = [
    "AmdSmiException",
    "AmdSmiInitFlags",
    "AmdSmiLibraryException",
    "AmdSmiParameterException",
    "AmdSmiRetCode",
    "FakeAmdSmi",
    "FakeCounter",
    "FakeGpu",
    "gpu",
    "mi250x",
    "mi300x",
]

#: 2**-6 mJ: a binary fraction, so whole joules stay exact floats through ticks x resolution / 1e6.
RESOLUTION_UJ = 15.625
TICKS_PER_J = 64_000


class AmdSmiRetCode(IntEnum):
    """The ``amdsmi_status_t`` values the sensor cares about (amdsmi.h)."""

    SUCCESS = 0
    ERR_INVAL = 1
    ERR_NOT_SUPPORTED = 2
    TIMEOUT = 8
    ERR_NO_PERM = 10
    INIT_ERROR = 18
    ERR_NOT_FOUND = 31
    NOT_INIT = 32
    DRIVER_NOT_LOADED = 34


class AmdSmiException(Exception):
    """Base of everything amdsmi raises (``amdsmi_exception.py``)."""


class AmdSmiLibraryException(AmdSmiException):
    def __init__(self, err_code: int) -> None:
        err_code = abs(err_code)
        super().__init__(err_code)
        self.err_code = err_code
        name = AmdSmiRetCode(err_code).name if err_code in set(AmdSmiRetCode) else "UNKNOWN"
        self.err_info = f"AMDSMI_STATUS_{name}"

    def __str__(self) -> str:
        return f"An error occured with code: {self.err_code}({self.err_info})"

    def get_error_code(self) -> int:
        return self.err_code

    def get_error_info(self) -> str:
        return self.err_info


class AmdSmiParameterException(AmdSmiException):
    def __init__(self, received: object, expected: type) -> None:
        super().__init__(f"Invalid parameter: {type(received)} instead of {expected}")


class AmdSmiInitFlags(IntEnum):
    INIT_ALL_PROCESSORS = 0xFFFFFFFF
    INIT_AMD_CPUS = 1 << 0
    INIT_AMD_GPUS = 1 << 1


@dataclass
class FakeCounter:
    """One firmware energy accumulator; partitions of one socket share it."""

    resolution_uj: float = RESOLUTION_UJ
    bits: int = 64
    ticks: int = 0  # true ticks since power-on, unaffected by wraparound

    def spend(self, joules: float) -> None:
        self.ticks += round(joules * 1e6 / self.resolution_uj)

    def reset(self) -> None:
        self.ticks = 0

    @property
    def value(self) -> int:
        return self.ticks % (1 << self.bits)


@dataclass
class FakeGpu:
    """One processor handle as amdsmi lists it (a GPU, a GCD or a partition)."""

    market_name: str = "AMD Radeon PRO W7900"
    bdf: str = "0000:03:00.0"
    uuid: str = "c4ff744c-0000-1000-8000-000000000001"
    product_serial: str = "SN0001"
    asic_serial: str = "0x00000000C0FFEE01"
    gfx: str = "gfx1100"
    counter: FakeCounter | None = field(default_factory=FakeCounter)  # None: not supported
    reads_zero: bool = False  # a secondary die: supported, always 0
    power_w: dict[str, float] = field(default_factory=lambda: {"average_socket_power": 250.0})
    legacy_keys: bool = False  # amdsmi < 6.2 returns the counter as "power" only
    failure: int | None = None  # a status code every energy/power call raises
    timestamp_ns: int = 0


class _Handle:
    """Stands for ``amdsmi_wrapper.amdsmi_processor_handle`` (an opaque ctypes pointer)."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"<processor handle {self.index}>"


class FakeAmdSmi:
    """The module object: pass it as ``ProbeContext(modules={"amdsmi": fake})``."""

    AmdSmiException = AmdSmiException
    AmdSmiLibraryException = AmdSmiLibraryException
    AmdSmiParameterException = AmdSmiParameterException
    AmdSmiRetCode = AmdSmiRetCode
    AmdSmiInitFlags = AmdSmiInitFlags

    def __init__(self, gpus: list[FakeGpu], *, init_error: int | None = None) -> None:
        self.gpus = gpus
        self.init_error = init_error
        self.init_flags: list[int] = []
        self.references = 0  # amdsmi reference-counts init / shut_down
        self.shut_downs = 0
        self._handles = [_Handle(i) for i in range(len(gpus))]

    # --- lifecycle --------------------------------------------------------------------------

    def amdsmi_init(self, flag: int = AmdSmiInitFlags.INIT_AMD_GPUS) -> None:
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)
        self.init_flags.append(int(flag))
        self.references += 1

    def amdsmi_shut_down(self) -> None:
        if self.references == 0:
            raise AmdSmiLibraryException(AmdSmiRetCode.NOT_INIT)
        self.references -= 1
        self.shut_downs += 1

    def amdsmi_get_processor_handles(self) -> list[_Handle]:
        self._require_init()
        return list(self._handles)

    # --- static information -----------------------------------------------------------------

    def amdsmi_get_gpu_asic_info(self, handle: _Handle) -> dict[str, Any]:
        gpu = self._gpu(handle)
        return {
            "market_name": gpu.market_name,
            "vendor_id": "0x1002",
            "vendor_name": "Advanced Micro Devices Inc. [AMD/ATI]",
            "asic_serial": gpu.asic_serial,
            "oam_id": "N/A",
            "target_graphics_version": gpu.gfx,
        }

    def amdsmi_get_gpu_board_info(self, handle: _Handle) -> dict[str, Any]:
        gpu = self._gpu(handle)
        return {
            "model_number": "102-D65209-00",
            "product_serial": gpu.product_serial,
            "fru_id": "N/A",
            "product_name": gpu.market_name,
            "manufacturer_name": "AMD",
        }

    def amdsmi_get_gpu_device_bdf(self, handle: _Handle) -> str:
        return self._gpu(handle).bdf

    def amdsmi_get_gpu_device_uuid(self, handle: _Handle) -> str:
        return self._gpu(handle).uuid

    # --- readings ---------------------------------------------------------------------------

    def amdsmi_get_energy_count(self, handle: _Handle) -> dict[str, Any]:
        gpu = self._live(handle)
        if gpu.counter is None:
            raise AmdSmiLibraryException(AmdSmiRetCode.ERR_NOT_SUPPORTED)
        gpu.timestamp_ns += 1_000_000
        value = 0 if gpu.reads_zero else gpu.counter.value
        result: dict[str, Any] = {"power": value}
        if not gpu.legacy_keys:
            result["energy_accumulator"] = value  # ROCm 6.4 returns both; "power" deprecated
        result["counter_resolution"] = gpu.counter.resolution_uj
        result["timestamp"] = gpu.timestamp_ns
        return result

    def amdsmi_get_power_info(self, handle: _Handle, sensor_ind: int = 0) -> dict[str, Any]:
        gpu = self._live(handle)
        fields = ("socket_power", "current_socket_power", "average_socket_power")
        result: dict[str, Any] = {key: gpu.power_w.get(key, "N/A") for key in fields}
        result.update(gfx_voltage="N/A", soc_voltage="N/A", mem_voltage="N/A", power_limit=300)
        return result

    # --- helpers ----------------------------------------------------------------------------

    def _require_init(self) -> None:
        if self.references == 0:
            raise AmdSmiLibraryException(AmdSmiRetCode.NOT_INIT)

    def _gpu(self, handle: object) -> FakeGpu:
        if not isinstance(handle, _Handle):
            raise AmdSmiParameterException(handle, _Handle)
        self._require_init()
        return self.gpus[handle.index]

    def _live(self, handle: object) -> FakeGpu:
        gpu = self._gpu(handle)
        if gpu.failure is not None:
            raise AmdSmiLibraryException(gpu.failure)
        return gpu


# --- topologies ------------------------------------------------------------------------------


def gpu(bus: int = 3, *, joules: float = 1000.0, **changes: Any) -> FakeGpu:
    """A single-die GPU at ``0000:<bus>:00.0`` whose counter already reads ``joules``.

    ``counter=None`` makes one without an energy counter (a VM guest, an old ASIC).
    """
    counter = changes.pop("counter") if "counter" in changes else FakeCounter()
    if counter is not None:
        counter.spend(joules)
    serial = f"SN{bus:04X}"
    return FakeGpu(
        bdf=f"0000:{bus:02x}:00.0",
        uuid=f"c4ff744c-0000-1000-8000-0000000000{bus:02x}",
        product_serial=serial,
        asic_serial=f"0x00000000C0FFEE{bus:02X}",
        counter=counter,
        **changes,
    )


def mi250x(bus: int, *, joules: float = 5000.0, serial: str | None = None) -> list[FakeGpu]:
    """One MI250X card: primary GCD (reports the card) and secondary GCD (reads 0)."""
    serial = serial or f"MI250X-{bus:02X}"
    counter = FakeCounter()
    counter.spend(joules)
    common = {"market_name": "AMD Instinct MI250X", "gfx": "gfx90a", "product_serial": serial}
    primary = FakeGpu(
        bdf=f"0000:{bus:02x}:00.0",
        uuid=f"9aff740c-0000-1000-8000-0000000000{bus:02x}",
        asic_serial=f"0x00000000A1DE{bus:02X}00",
        counter=counter,
        power_w={"average_socket_power": 400.0},
        **common,
    )
    secondary = FakeGpu(
        bdf=f"0000:{bus + 1:02x}:00.0",
        uuid=f"9aff740c-0000-1000-8000-0000000000{bus + 1:02x}",
        asic_serial=f"0x00000000A1DE{bus:02X}01",
        counter=FakeCounter(),
        reads_zero=True,
        power_w={"average_socket_power": 0.0},
        **common,
    )
    return [primary, secondary]


def mi300x(bus: int, *, partitions: int = 8, joules: float = 9000.0) -> list[FakeGpu]:
    """One MI300X split into ``partitions`` (CPX = 8): one socket counter, one bus:device."""
    counter = FakeCounter()
    counter.spend(joules)
    return [
        FakeGpu(
            market_name="AMD Instinct MI300X",
            bdf=f"0000:{bus:02x}:00.{p}",  # the partition id sits in the function bits
            uuid=f"5cff74a1-0000-1000-80{p:02x}-0000000000{bus:02x}",
            product_serial=f"MI300X-{bus:02X}",
            asic_serial=f"0x00000000B00{bus:02X}{p:02X}",
            gfx="gfx942",
            counter=counter,
            power_w={"current_socket_power": 700.0, "socket_power": 700.0},
        )
        for p in range(partitions)
    ]
