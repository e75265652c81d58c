"""The otel sink: its own MeterProvider read by the SDK's InMemoryMetricReader; hw.energy and
the emissions counter equal the tracker's summary; the global provider is never touched."""

from __future__ import annotations

import socket
import sys
import time

import pytest

pytest.importorskip("opentelemetry.sdk.metrics")
from observability_helpers import finished_run_batch  # noqa: E402
from opentelemetry import metrics  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402

from wattprint.sinks.otel import OtelSink  # noqa: E402


def collected(reader) -> dict[str, object]:
    data = reader.get_metrics_data()
    (resource_metrics,) = data.resource_metrics
    (scope,) = resource_metrics.scope_metrics
    assert scope.scope.name == "wattprint"
    return {"resource": resource_metrics.resource,
            **{metric.name: metric for metric in scope.metrics}}


def points(metric) -> dict[str, object]:
    return {p.attributes.get("hw.id", ""): p for p in metric.data.data_points}


def test_energy_power_and_emissions_equal_the_summary(make_tracker, clock, monkeypatch):
    def refuse(provider):
        raise AssertionError("the global meter provider must never be replaced")

    monkeypatch.setattr(metrics, "set_meter_provider", refuse)
    global_before = metrics.get_meter_provider()
    reader = InMemoryMetricReader()
    sink = OtelSink(reader=reader)
    tracker = make_tracker(sink, pue=1.2)
    tracker.start()
    clock.advance(30.0)
    tracker.flush()
    middle = collected(reader)
    assert points(middle["hw.power"])["fake:gpu"].value == pytest.approx(250.0)
    clock.advance(30.0)
    summary = tracker.stop()
    final = collected(reader)

    energy = final["hw.energy"]
    assert energy.unit == "J" and energy.data.is_monotonic
    by_device = points(energy)
    assert {d: p.value for d, p in by_device.items()} == pytest.approx(
        {"fake:cpu": summary.energy_j["cpu"], "fake:gpu": summary.energy_j["gpu"],
         "fake:ram": summary.energy_j["ram"]}, rel=1e-12)
    gpu = by_device["fake:gpu"].attributes
    assert gpu["hw.type"] == "gpu" and gpu["wattprint.method"] == "sampled"
    assert by_device["fake:ram"].attributes["hw.type"] == "memory"
    assert gpu["wattprint.project"] == "vision" and gpu["wattprint.scope"] == "machine"
    assert "run_id" not in str(dict(gpu))  # the run is the resource, not a point attribute

    power = final["hw.power"]
    assert power.unit == "W"
    assert {d: p.value for d, p in points(power).items()} == pytest.approx(
        {"fake:cpu": 50.0, "fake:gpu": 250.0, "fake:ram": 5.0})

    (emissions,) = final["wattprint.emissions"].data.data_points
    assert final["wattprint.emissions"].unit == "g"
    assert emissions.value == pytest.approx(summary.emissions_g, rel=1e-12)
    (intensity,) = final["wattprint.intensity"].data.data_points
    assert intensity.value == 360.0 and intensity.attributes["wattprint.zone"] == "FR"

    resource = final["resource"].attributes
    assert resource["service.name"] == "wattprint"
    assert resource["service.instance.id"] == tracker.run_id
    assert metrics.get_meter_provider() is global_before


def test_a_batch_delivered_twice_counts_once(make_tracker, clock):
    batch = finished_run_batch(make_tracker, clock)
    reader = InMemoryMetricReader()
    sink = OtelSink(reader=reader)
    sink.export(batch)
    sink.export(batch)
    assert points(collected(reader)["hw.energy"])["fake:cpu"].value == pytest.approx(1000.0)
    sink.close()


def test_an_otlp_endpoint_that_is_down_never_fails_the_run(make_tracker, clock, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed at once: nothing listens there
    sink = OtelSink(endpoint=f"http://127.0.0.1:{port}/v1/metrics", timeout_s=0.5)
    tracker = make_tracker(sink)
    tracker.start()
    clock.advance(10.0)
    began = time.monotonic()
    summary = tracker.stop()
    assert time.monotonic() - began < 3.0  # two bounded exports: the last batch, the close
    assert summary.status == "finished" and summary.energy_j["cpu"] == 500.0
    assert summary.delivery is not None and summary.delivery["otel"] == "delivered"
    warnings = [r.getMessage() for r in caplog.records if r.name == "wattprint.sinks.otel"]
    assert len(warnings) == 1 and "is the OTLP collector up? set otlp_endpoint" in warnings[0]
    (said,) = [w for w in summary.warnings if w.startswith("sink otel:")]
    assert f"the last export of metrics to http://127.0.0.1:{port}/v1/metrics failed" in said


def test_missing_extra_is_a_one_line_hint(monkeypatch):
    from wattprint.integrations import MissingExtra

    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.metrics", None)
    with pytest.raises(MissingExtra, match=r"pip install 'wattprint\[otel\]'$"):
        OtelSink(reader=InMemoryMetricReader())


def test_otlp_over_http_to_an_in_process_collector(make_tracker, clock):
    """The default reader: OTLP/HTTP protobuf to a collector's /v1/metrics, decoded with the
    OTLP protobuf classes; the last export carries the run's cumulative hw.energy."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
        ExportMetricsServiceResponse,
    )

    received: list = []

    class Collector(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"],
                             ExportMetricsServiceRequest.FromString(body)))
            answer = ExportMetricsServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sink = OtelSink(endpoint=f"http://127.0.0.1:{server.server_port}/v1/metrics")
        tracker = make_tracker(sink)
        tracker.start()
        clock.advance(20.0)
        summary = tracker.stop()
    finally:
        server.shutdown()
        server.server_close()
    assert received and {(path, kind) for path, kind, _ in received} == {
        ("/v1/metrics", "application/x-protobuf")}
    last = received[-1][2]
    metrics_by_name = {m.name: m for rm in last.resource_metrics for sm in rm.scope_metrics
                       for m in sm.metrics}
    energy = metrics_by_name["hw.energy"]
    assert energy.unit == "J" and energy.sum.is_monotonic
    by_device = {next(a.value.string_value for a in p.attributes if a.key == "hw.id"): p.as_double
                 for p in energy.sum.data_points}
    assert by_device["fake:cpu"] == pytest.approx(summary.energy_j["cpu"], rel=1e-12)
    assert sum(by_device.values()) == pytest.approx(summary.energy_j["total"], rel=1e-12)
    assert not [w for w in summary.warnings if w.startswith("sink otel")]
