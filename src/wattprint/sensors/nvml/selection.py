"""Which GPUs to measure: NVML's enumeration, then ``gpu_ids`` or ``CUDA_VISIBLE_DEVICES``.

``options.gpu_ids`` (NVML indices, as ``nvidia-smi`` shows them, or UUIDs) when set; else
``CUDA_VISIBLE_DEVICES`` read the way CUDA reads it (indices, ``GPU-`` UUID prefixes, MIG UUIDs,
which select their parent GPU; an empty value hides every GPU; parsing stops at the first entry
that matches nothing); else every GPU.
"""

from __future__ import annotations

import re

from ..._struct import dataclass
from ...errors import SensorUnavailable
from .. import ProbeContext
from .library import Errors, ask, mig_on

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

_INDEX = re.compile(r"^\d+$")


@dataclass(frozen=True, slots=True)
class Found:
    """A GPU as enumerated by NVML, before selection."""

    index: int
    handle: object | None  # None when NVML would not give a handle (problem says why)
    name: str
    uuid: str
    problem: str | None = None

    def label(self) -> str:
        return f"{self.index}: {self.name} ({self.uuid})"


def discover(lib: Any, errors: Errors) -> list[Found]:
    try:
        count = int(lib.nvmlDeviceGetCount())
    except errors as exc:
        raise SensorUnavailable(f"NVML could not count GPUs: {exc}", "check `nvidia-smi`") from None
    if count == 0:
        raise SensorUnavailable("NVML found no NVIDIA GPU", None)
    return [_describe(lib, errors, index) for index in range(count)]


def _describe(lib: Any, errors: Errors, index: int) -> Found:
    try:
        handle = lib.nvmlDeviceGetHandleByIndex(index)
    except errors as exc:
        return Found(index, None, "?", "?", problem=str(exc))
    name = ask(errors, lib.nvmlDeviceGetName, handle) or "NVIDIA GPU"
    uuid = ask(errors, lib.nvmlDeviceGetUUID, handle) or "?"
    return Found(index, handle, str(name), str(uuid))


def select_gpus(
    lib: Any,
    errors: Errors,
    present: list[Found],
    ctx: ProbeContext,
    notes: list[str],
) -> tuple[list[Found], str | None]:
    """The GPUs to measure, and a warning that applies to all of them (or None)."""
    resolver = _Resolver(lib, errors, present)
    if ctx.options.gpu_ids is not None:
        return _select_configured(ctx.options.gpu_ids, resolver, present, notes), None
    raw = ctx.env.get("CUDA_VISIBLE_DEVICES")
    if raw is None:
        return present, None
    chosen = _select_cuda_visible(raw, resolver, present, notes)
    return chosen, _order_warning(raw, ctx.env, present, notes)


def _select_configured(
    ids: Iterable[str], resolver: _Resolver, present: list[Found], notes: list[str]
) -> list[Found]:
    chosen: list[Found] = []
    ids = list(ids)
    for entry in ids:
        text = entry.strip()
        if text.lower().startswith("nvml:"):
            text = text[len("nvml:") :]
        elif ":" in text:
            continue  # another sensor's device name ("amdsmi:1", "hwmon:card0"), not ours
        found = resolver.resolve(text)
        if found is None:
            raise SensorUnavailable(
                f"gpu_ids entry {entry!r} matches no NVIDIA GPU (present: {_listing(present)})",
                "set gpu_ids to indices or UUIDs as `nvidia-smi -L` lists them",
            )
        _add_once(chosen, found)
    if not chosen:
        raise SensorUnavailable(
            f"gpu_ids {ids} name no NVIDIA GPU" if ids else "gpu_ids is empty: no GPU is selected",
            "remove gpu_ids to measure every GPU",
        )
    notes.append("GPUs chosen by gpu_ids: " + ", ".join(str(f.index) for f in chosen))
    return chosen


def _select_cuda_visible(
    raw: str, resolver: _Resolver, present: list[Found], notes: list[str]
) -> list[Found]:
    # "NoDevFiles" is what HTCondor sets when a job was given no GPU.
    if raw.strip() in ("", "NoDevFiles"):
        raise SensorUnavailable(
            f"CUDA_VISIBLE_DEVICES={raw!r} hides every GPU from this program",
            "unset CUDA_VISIBLE_DEVICES, or set gpu_ids to measure GPUs the program cannot see",
        )
    chosen: list[Found] = []
    for entry in raw.split(","):
        found = resolver.resolve(entry)
        if found is None:
            # CUDA's rule: only the devices listed before an invalid entry are visible.
            notes.append(
                f"CUDA_VISIBLE_DEVICES entry {entry.strip()!r} matches no GPU; as in CUDA, it and "
                "the entries after it are ignored"
            )
            break
        _add_once(chosen, found)
    if not chosen:
        raise SensorUnavailable(
            f"CUDA_VISIBLE_DEVICES={raw!r} selects no NVIDIA GPU on this host "
            f"(present: {_listing(present)})",
            "set CUDA_VISIBLE_DEVICES to indices or UUIDs as `nvidia-smi -L` lists them",
        )
    notes.append(
        "GPUs visible through CUDA_VISIBLE_DEVICES: " + ", ".join(str(f.index) for f in chosen)
    )
    return chosen


def _order_warning(
    raw: str, env: dict[str, str], present: list[Found], notes: list[str]
) -> str | None:
    # CUDA numbers devices fastest first (compute capability, then PCI bus) unless
    # CUDA_DEVICE_ORDER=PCI_BUS_ID; NVML and nvidia-smi use PCI order. The two agree when every GPU
    # is the same model, so only a mixed host makes an index ambiguous.
    uses_index = any(_INDEX.match(e.strip()) for e in raw.split(","))
    mixed = len({f.name for f in present}) > 1
    if not uses_index or not mixed or env.get("CUDA_DEVICE_ORDER") == "PCI_BUS_ID":
        return None
    warning = (
        "CUDA_VISIBLE_DEVICES uses indices on a host of mixed GPU models without "
        "CUDA_DEVICE_ORDER=PCI_BUS_ID: CUDA's index N may not be nvidia-smi's GPU N; set "
        "CUDA_DEVICE_ORDER=PCI_BUS_ID or use UUIDs"
    )
    notes.append(warning)
    return warning


def _add_once(chosen: list[Found], found: Found) -> None:
    if all(f.index != found.index for f in chosen):
        chosen.append(found)


def _listing(present: list[Found]) -> str:
    return "; ".join(f.label() for f in present)


class _Resolver:
    """Maps one CUDA-style id (index, UUID prefix, MIG UUID) to the physical GPU it names."""

    def __init__(
        self, lib: Any, errors: Errors, present: list[Found]
    ) -> None:
        self._lib = lib
        self._errors = errors
        self._present = present
        self._mig: dict[str, Found] | None = None  # MIG UUID -> parent, built when first asked

    def resolve(self, entry: str) -> Found | None:
        text = entry.strip()
        lowered = text.lower()
        if _INDEX.match(text):
            index = int(text)
            return self._present[index] if index < len(self._present) else None
        if lowered.startswith("mig-gpu-"):
            # The CUDA 11.0-11.x MIG form: MIG-GPU-<parent uuid>/<gpu instance>/<compute instance>.
            return self._unique(
                text[len("mig-") :].split("/")[0], {f.uuid: f for f in self._present}
            )
        if lowered.startswith("gpu-"):
            return self._unique(text, {f.uuid: f for f in self._present})
        if lowered.startswith("mig-"):
            return self._unique(text, self._mig_parents())
        return None

    @staticmethod
    def _unique(prefix: str, by_uuid: dict[str, Found]) -> Found | None:
        # CUDA accepts any prefix that names exactly one device.
        matches = {f.index: f for u, f in by_uuid.items() if u.lower().startswith(prefix.lower())}
        return next(iter(matches.values())) if len(matches) == 1 else None

    def _mig_parents(self) -> dict[str, Found]:
        if self._mig is None:
            self._mig = {}
            for found in self._present:
                if found.handle is not None and mig_on(self._lib, self._errors, found.handle):
                    for uuid in self._mig_uuids(found.handle):
                        self._mig[uuid] = found
        return self._mig

    def _mig_uuids(self, handle: object) -> list[str]:
        lib, errors = self._lib, self._errors
        slots = ask(errors, lib.nvmlDeviceGetMaxMigDeviceCount, handle) or 0
        uuids = []
        for slot in range(int(slots)):
            # Empty slots answer NVML_ERROR_NOT_FOUND.
            mig = ask(errors, lib.nvmlDeviceGetMigDeviceHandleByIndex, handle, slot)
            uuid = None if mig is None else ask(errors, lib.nvmlDeviceGetUUID, mig)
            if uuid:
                uuids.append(str(uuid))
        return uuids


