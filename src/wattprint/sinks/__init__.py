"""Records -> somewhere. One module per destination, found through :data:`SINKS`.

A sink is opened once with the run's :class:`~wattprint.records.RunInfo`, receives each
interval :class:`~wattprint.records.Record` and each finished span, may buffer until
``flush()``, and is closed with the run's summary. The tracker calls sinks from its sampling
thread and isolates them: one failing
sink is logged once and never stops the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

from ..records import Record, RunInfo, RunSummary, SpanRecord

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["SINKS", "Sink", "make_sink"]


@runtime_checkable
class Sink(Protocol):
    name: str

    def open(self, run: RunInfo) -> None: ...

    def write(self, record: Record) -> None: ...

    def write_span(self, span: SpanRecord) -> None: ...

    def flush(self) -> None: ...

    def close(self, summary: RunSummary) -> None: ...


#: sink name -> "module:factory"; factories take the effective Config.
SINKS: dict[str, str] = {
    "sqlite": "wattprint.sinks.sqlite:from_config",
    "csv": "wattprint.sinks.csv:from_config",
    "jsonl": "wattprint.sinks.jsonl:from_config",
    "memory": "wattprint.sinks.memory:from_config",
}


def make_sink(name: str, config: Config) -> Sink:
    target = SINKS.get(name)
    if target is None:
        raise KeyError(f"unknown sink {name!r}; known: {', '.join(SINKS)}")
    module_name, _, attr = target.partition(":")
    factory: Callable[[Config], Sink] = getattr(importlib.import_module(module_name), attr)
    return factory(config)
