"""Prometheus: a sink that serves a tracker's totals at ``/metrics`` (extra ``prometheus``).

Metrics (the unit in every name; counters are the run's totals so far, each record counted once
however often the exporter delivers it):

- ``wattprint_energy_joules_total{component}``: IT energy (before PUE) of cpu, gpu, ram, other
- ``wattprint_emissions_grams_total``: emissions with PUE, as in the records
- ``wattprint_power_watts{component}``: mean power over the latest record (a gauge)
- ``wattprint_intensity_grams_per_kwh{zone}``: the latest record's carbon intensity
- ``wattprint_pue``, ``wattprint_records_total``

Every series carries ``project``, ``experiment`` and ``host``: few values each, so the number
of series stays small. A run id would make a new series per run; it is added only when asked
(``prometheus_run_id_label``). The metrics live in a private ``CollectorRegistry`` per sink,
never prometheus_client's default one, so two trackers (or the host's own metrics) never
collide. Values follow the exporter's batches (``store_flush_s``, 10 s by default).

The HTTP server starts when the sink is made (in ``Tracker.prepare``), on its own daemon
thread, and stops at ``close``: a scrape after the run has ended finds nothing, so batch jobs
use the Pushgateway sink (:mod:`wattprint.sinks.pushgateway`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

from ._totals import COMPONENTS, RunTotals

if TYPE_CHECKING:
    from ..config import Config
    from ..wire import Item

__all__ = ["PrometheusSink", "TotalsCollector", "from_config", "parse_address", "private_registry"]


def _prometheus() -> Any:
    from ..integrations import require

    return require("prometheus_client", integration="Prometheus", extra="prometheus")


class TotalsCollector:
    """A prometheus_client collector reading :class:`RunTotals` at each scrape."""

    def __init__(self, totals: RunTotals, *, run_id_label: bool = False) -> None:
        self._totals = totals
        self._run_id_label = run_id_label

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        snap = self._totals.snapshot()
        if snap.run_id is None:
            return  # no run yet: no series with empty labels
        names = ["project", "experiment", "host"]
        values = [snap.project, snap.experiment, snap.host]
        if self._run_id_label:
            names.append("run_id")
            values.append(snap.run_id)

        yield _by_component(
            CounterMetricFamily("wattprint_energy_joules",
                                "IT energy (before PUE) by component, in joules",
                                labels=[*names, "component"], unit="joules"),
            values, snap.energy_j)
        emissions = CounterMetricFamily(
            "wattprint_emissions_grams", "emissions in grams CO2e (with PUE)", labels=names,
            unit="grams")
        emissions.add_metric(values, snap.emissions_g)
        yield emissions
        records = CounterMetricFamily("wattprint_records", "records counted", labels=names)
        records.add_metric(values, snap.records)
        yield records
        if snap.power_w:
            yield _by_component(
                GaugeMetricFamily("wattprint_power_watts",
                                  "mean power over the latest record, in watts",
                                  labels=[*names, "component"], unit="watts"),
                values, snap.power_w)
        if snap.intensity_g_per_kwh is not None:
            intensity = GaugeMetricFamily(
                "wattprint_intensity_grams_per_kwh",
                "carbon intensity of the latest record, grams CO2e per kWh",
                labels=[*names, "zone"])
            intensity.add_metric([*values, snap.intensity_zone], snap.intensity_g_per_kwh)
            yield intensity
        if snap.pue is not None:
            pue = GaugeMetricFamily("wattprint_pue", "power usage effectiveness applied",
                                    labels=names)
            pue.add_metric(values, snap.pue)
            yield pue


def _by_component(family: Any, values: list[str], figures: dict[str, float]) -> Any:
    """``family`` with one sample per component (its last label), the figure for each."""
    for component in COMPONENTS:
        family.add_metric([*values, component], figures[component])
    return family


def private_registry(totals: RunTotals, *, run_id_label: bool = False) -> Any:
    """A new CollectorRegistry holding only the totals' collector (never the default one)."""
    prometheus_client = _prometheus()
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(TotalsCollector(totals, run_id_label=run_id_label))
    return registry


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6) -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{address!r} is not HOST:PORT (e.g. 127.0.0.1:9464)")
    return host.strip("[]") or "0.0.0.0", int(port)


class PrometheusSink:
    name = "prometheus"

    def __init__(self, address: str = "127.0.0.1:9464", *, run_id_label: bool = False) -> None:
        prometheus_client = _prometheus()
        self.totals = RunTotals()
        self.registry = private_registry(self.totals, run_id_label=run_id_label)
        host, port = parse_address(address)
        try:
            self._server, self._thread = prometheus_client.start_http_server(
                port, addr=host, registry=self.registry)
        except OSError as exc:
            raise OSError(f"cannot serve /metrics on {address}: {exc.strerror or exc} (choose "
                          "another port with --prometheus HOST:PORT or prometheus_address)"
                          ) from None
        self.port: int = self._server.server_port
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{self.port}/metrics"

    def export(self, batch: Sequence[Item]) -> None:
        self.totals.add(batch)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def from_config(config: Config) -> PrometheusSink:
    return PrometheusSink(config.prometheus_address,
                          run_id_label=config.prometheus_run_id_label)
