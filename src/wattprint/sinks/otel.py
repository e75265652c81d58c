"""OpenTelemetry: a run's energy as OTel metrics over OTLP/HTTP (extra ``otel``).

Instruments, after the hardware semantic conventions (``hw.*``, status: development) where
they exist, and under ``wattprint.`` where they do not:

- ``hw.energy`` (Counter, ``J``): energy of each device, attributes ``hw.id`` (the device,
  e.g. ``nvml:0``), ``hw.type`` (``cpu``, ``gpu``, ``memory``, else wattprint's component) and
  ``wattprint.method`` (measured, sampled or modelled: provenance is never lost). In process
  scope the figure is the tracked processes' share of the device (``wattprint.scope``).
- ``hw.power`` (Gauge, ``W``): mean power of each device over the latest record.
- ``wattprint.emissions`` (Counter, ``g``): emissions with PUE; ``wattprint.intensity``
  (Gauge, ``g/kW.h``) with ``wattprint.zone``.

Every point also carries ``wattprint.project`` and ``wattprint.experiment``; the run is the
resource's ``service.instance.id`` (one per run, never a per-point attribute), beside
``service.name`` (``wattprint`` unless ``OTEL_SERVICE_NAME`` says otherwise) and ``host.name``.

The sink builds its OWN MeterProvider and never touches the global one
(``metrics.set_meter_provider``), so a host program's own OTel setup is left as it is. Its
reader exports when a batch has been recorded (no extra thread: the periodic reader runs with
an infinite interval and is flushed from the exporter's thread) and at close, each export
bounded by ``timeout_s``. A batch's records reach the instruments as one call per device (their
energy summed, the latest power). An OTLP endpoint that is down or slow is logged once per
streak, and said in the run's warnings if the last export failed (``problem``); the sink never
raises into the exporter, since the cumulative counters carry everything at the next export.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from .._log import get_logger
from ..records import Record, RunInfo

if TYPE_CHECKING:
    from ..config import Config
    from ..wire import Item

__all__ = ["OtelSink", "from_config"]

log = get_logger(__name__)

# wattprint's component -> the conventions' well-known hw.type
_HW_TYPE = {"cpu": "cpu", "gpu": "gpu", "ram": "memory"}


def _require(module: str) -> Any:
    from ..integrations import require

    return require(module, integration="OpenTelemetry", extra="otel")


class OtelSink:
    name = "otel"

    _watched: Any = None  # the OTLP exporter, wrapped to see each export's result

    def __init__(self, *, endpoint: str | None = None, reader: Any = None,
                 timeout_s: float = 2.0) -> None:
        """``reader``: an SDK MetricReader (tests pass an InMemoryMetricReader); by default a
        periodic reader with an OTLP/HTTP exporter to ``endpoint`` (None: OTel's default,
        http://localhost:4318/v1/metrics, or its OTEL_EXPORTER_OTLP_* variables).

        ``timeout_s`` bounds each export, the OTLP exporter's retries included: an export and
        the last one at close stay within the tracker's 5 s for its final batch, so a collector
        that is down or slow delays the end of a run by at most that."""
        _require("opentelemetry.sdk.metrics")
        if reader is None:
            import math

            from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

            exporter_module = _require("opentelemetry.exporter.otlp.proto.http.metric_exporter")
            self._watched = _watched(
                exporter_module.OTLPMetricExporter(endpoint=endpoint, timeout=timeout_s))
            reader = PeriodicExportingMetricReader(
                self._watched, export_interval_millis=math.inf)  # inf: no thread; flushed per batch
        self.reader = reader
        self.endpoint = endpoint
        self._timeout_ms = timeout_s * 1000
        self.provider: Any = None
        self._instruments: Any = None
        self._attributes: dict[str, str] = {}
        self._scope = "machine"
        self._seen: set[tuple[str, int]] = set()
        self._flush_failed = False
        #: what went wrong with the last export, None once one succeeds (the exporter puts it
        #: in the run's warnings at close)
        self.problem: str | None = None

    def _start(self, run: RunInfo) -> None:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.resources import Resource

        from .. import __version__

        resource = Resource.create({
            "service.name": "wattprint", "service.version": __version__,
            "service.instance.id": run.run_id,
            "host.name": str(run.host.get("hostname", "")),
        })
        self.provider = MeterProvider(metric_readers=[self.reader], resource=resource)
        meter = self.provider.get_meter("wattprint", __version__)
        self._instruments = (
            meter.create_counter("hw.energy", unit="J", description="Energy consumed by the "
                                 "component (in process scope: the tracked processes' share)"),
            meter.create_gauge("hw.power", unit="W",
                               description="Mean power of the component over the latest record"),
            meter.create_counter("wattprint.emissions", unit="g",
                                 description="Emissions in grams CO2e, with PUE"),
            meter.create_gauge("wattprint.intensity", unit="g/kW.h",
                               description="Carbon intensity of the latest record"),
        )
        self._attributes = {"wattprint.project": run.project,
                            "wattprint.experiment": run.experiment}
        self._scope = run.scope

    def export(self, batch: Sequence[Item]) -> None:
        new: list[Record] = []
        for item in batch:
            if isinstance(item, RunInfo) and self.provider is None:
                self._start(item)
            elif isinstance(item, Record) and self._instruments is not None:
                key = (item.run_id, item.seq)
                if key not in self._seen:  # a retried batch must not count twice
                    self._seen.add(key)
                    new.append(item)
        if new:
            self._record(new)
            self._flush()

    def _record(self, records: list[Record]) -> None:
        # One instrument call per device and batch, not per record: at short intervals a batch
        # holds hundreds of records, and each SDK call costs tens of microseconds.
        energy, power, emissions, intensity = self._instruments
        energy_j: dict[tuple[str, str, str], float] = {}
        power_w: dict[tuple[str, str, str], float] = {}
        records = sorted(records, key=lambda record: record.seq)
        for record in records:
            for component, device_id, method, device_j in _devices(record):
                key = (component, device_id, method)
                energy_j[key] = energy_j.get(key, 0.0) + device_j
                if record.duration_s > 0:  # the last record, cut at stop, has no time: no power
                    power_w[key] = device_j / record.duration_s
        for key, device_j in energy_j.items():
            attributes = self._device_attributes(key)
            energy.add(device_j, attributes)
            if key in power_w:
                power.set(power_w[key], attributes)
        emissions.add(sum(record.emissions_g for record in records), self._attributes)
        latest = records[-1]
        intensity.set(latest.intensity_g_per_kwh,
                      {**self._attributes, "wattprint.zone": latest.intensity_zone})

    def _device_attributes(self, key: tuple[str, str, str]) -> dict[str, str]:
        component, device_id, method = key
        return {**self._attributes, "hw.id": device_id,
                "hw.type": _HW_TYPE.get(component, component),
                "wattprint.method": method, "wattprint.scope": self._scope}

    def _flush(self) -> None:
        try:
            done = self.reader.force_flush(timeout_millis=self._timeout_ms)
        except Exception as exc:  # noqa: BLE001 - the host never pays for a collector
            log.debug("otel: force_flush raised %r", exc)
            done = False
        failed = done is False or (self._watched is not None and not self._watched.last_ok)
        if failed and not self._flush_failed:
            log.warning("otel: metrics could not be exported to %s (is the OTLP collector up? "
                        "set otlp_endpoint); the counters are cumulative, so the next export "
                        "carries them", self.endpoint or "OpenTelemetry's default endpoint")
        elif not failed and self._flush_failed:
            log.info("otel: exporting metrics again")
        self._flush_failed = failed
        self.problem = self._failure_text() if failed else None

    def _failure_text(self) -> str:
        where = self.endpoint or "OpenTelemetry's default endpoint"
        return (f"the last export of metrics to {where} failed; the collector holds older "
                "totals of this run, or none")

    def close(self) -> None:
        if self.provider is not None:
            try:
                self.provider.shutdown(timeout_millis=self._timeout_ms)  # a last export
            except Exception as exc:  # noqa: BLE001
                log.warning("otel: shutting the meter provider down failed (%s)", exc)
            if self._watched is not None and not self._watched.last_ok:
                self._flush_failed = True
                self.problem = self._failure_text()


def _watched(inner: Any) -> Any:
    """``inner`` (a MetricExporter) behind one that keeps whether its last export succeeded:
    the periodic reader logs a failure but does not return it."""
    from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult

    class WatchedExporter(MetricExporter):
        def __init__(self) -> None:
            super().__init__(preferred_temporality=inner._preferred_temporality,
                             preferred_aggregation=inner._preferred_aggregation)
            self.last_ok = True

        def export(self, metrics_data: Any, timeout_millis: float = 10_000,
                   **kwargs: Any) -> Any:
            result = inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)
            self.last_ok = result is MetricExportResult.SUCCESS
            return result

        def force_flush(self, timeout_millis: float = 10_000) -> bool:
            return bool(inner.force_flush(timeout_millis=timeout_millis))

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            inner.shutdown(timeout_millis=timeout_millis, **kwargs)

    return WatchedExporter()


def _devices(record: Record) -> list[tuple[str, str, str, float]]:
    """(component, device, method, energy_j) per device; per component column for records
    without device detail."""
    if record.components:
        return [(c.component, c.device, c.method, c.energy_j) for c in record.components]
    columns = (("cpu", record.cpu_energy_j), ("gpu", record.gpu_energy_j),
               ("ram", record.ram_energy_j), ("other", record.other_energy_j))
    return [(name, name, "unknown", energy_j) for name, energy_j in columns if energy_j]


def from_config(config: Config) -> OtelSink:
    return OtelSink(endpoint=config.otlp_endpoint)
