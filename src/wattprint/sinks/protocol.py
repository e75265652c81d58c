"""The sink protocol (see :mod:`wattprint.sinks`), apart so that importing sinks stays cheap."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..wire import Item

__all__ = ["Sink"]


@runtime_checkable
class Sink(Protocol):
    name: str

    def export(self, batch: Sequence[Item]) -> None: ...

    def close(self) -> None: ...
