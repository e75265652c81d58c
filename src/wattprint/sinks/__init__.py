"""Records -> somewhere. One module per destination, registered by name.

A sink receives *batches* from the exporter (:mod:`wattprint.exporter`), on the exporter's own
thread, never on the host program's. A batch is a list of items of ONE run, in order:
:class:`~wattprint.records.RunInfo` (first, whenever the sink has not yet accepted it),
:class:`~wattprint.records.Record`, :class:`~wattprint.records.SpanRecord` (aggregated spans;
a later one with the same ``span_id`` replaces the earlier), :class:`~wattprint.records.Heartbeat`
and, last of a run, :class:`~wattprint.records.RunSummary`.

The contract, as in the OpenTelemetry SDK's exporters:

- ``export(batch)`` either makes the whole batch durable or raises. It never half-succeeds
  silently: a sink that wrote part of a batch before failing undoes it or makes the retry
  harmless (records are identified by ``(run_id, seq)``, spans by ``(run_id, span_id)``).
- The exporter retries a failed batch with backoff and spools what it cannot deliver, so the
  same batch may arrive twice: exporting it again must not duplicate data.
- ``close()`` releases resources; it is called once, after the last batch.

Sinks are found by name: the built-ins below, then the ``wattprint.sinks`` entry-point group, so
an extra or a third party adds one without editing this package::

    [project.entry-points."wattprint.sinks"]
    mysink = "mypackage.sink:from_config"   # factory(config) -> Sink
"""

from __future__ import annotations

from .registry import make_sink, sink_names

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .protocol import Sink

__all__ = ["Sink", "make_sink", "sink_names"]


def __getattr__(name: str) -> object:
    # The protocol needs ``typing`` (a few ms to import); only type checks and isinstance use it.
    if name == "Sink":
        from .protocol import Sink

        return Sink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
