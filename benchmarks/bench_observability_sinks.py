"""What the observability sinks cost the exporter's thread: microseconds per record exported
(batches of 100 records, as the exporter sends at a 0.1 s interval and a 10 s flush), and one
scrape of /metrics. The sinks run on the exporter's thread, never the host's; the figures
say how much of that thread a record takes.

    python benchmarks/bench_observability_sinks.py [--records 20000]

Pure CPU, loopback HTTP only (the Pushgateway and OTLP exports are not included: their cost is
the network's). Note `uptime` beside the figures.
"""

from __future__ import annotations

import argparse
import logging
import time
import urllib.request

from _common import emit


def make_batches(count: int, size: int = 100) -> list[list]:
    from wattprint.records import ComponentEnergy, Record, RunInfo

    info = RunInfo(run_id="bench", project="bench", experiment="sinks", started_s=1.767e9,
                   scope="machine", interval_s=0.1, pue=1.1, location={"zone": "DE"},
                   host={"hostname": "bench-host"}, devices=(), skipped=())
    components = (ComponentEnergy("cpu", "rapl:0", "measured", 5.0),
                  ComponentEnergy("gpu", "nvml:0", "measured", 30.0),
                  ComponentEnergy("ram", "rapl:0:dram", "measured", 0.5))
    records = [Record(run_id="bench", seq=i, start_s=1.767e9 + 0.1 * i, duration_s=0.1,
                      cpu_energy_j=5.0, gpu_energy_j=30.0, ram_energy_j=0.5, other_energy_j=0.0,
                      energy_j=35.5, pue=1.1, emissions_g=0.003, intensity_g_per_kwh=300.0,
                      intensity_zone="DE", intensity_source="Ember", intensity_year=2024,
                      intensity_kind="average", intensity_live=False, components=components)
               for i in range(count)]
    batches = [records[i:i + size] for i in range(0, count, size)]
    batches[0] = [info, *batches[0]]
    return batches


def per_record_us(sink, batches: list[list], count: int) -> float:
    began = time.perf_counter()
    for batch in batches:
        sink.export(batch)
    return (time.perf_counter() - began) * 1e6 / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    count = parser.parse_args().records
    batches = make_batches(count)

    from wattprint.sinks.logs import LogSink
    from wattprint.sinks.otel import OtelSink
    from wattprint.sinks.prometheus import PrometheusSink

    # the log sink through a real handler writing nowhere, as a program's would write a file
    handler = logging.StreamHandler(open("/dev/null", "w"))  # noqa: SIM115 - closed at exit
    logging.getLogger("wattprint.records").addHandler(handler)
    emit("log_sink_export", {"records": count, "us_per_record": round(
        per_record_us(LogSink(), batches, count), 2)})

    prometheus = PrometheusSink("127.0.0.1:0")
    try:
        emit("prometheus_sink_export", {"records": count, "us_per_record": round(
            per_record_us(prometheus, batches, count), 2)})
        scrapes = []
        for _ in range(50):
            began = time.perf_counter()
            with urllib.request.urlopen(prometheus.url, timeout=5) as response:
                response.read()
            scrapes.append((time.perf_counter() - began) * 1000)
        scrapes.sort()
        emit("prometheus_scrape", {"median_ms": round(scrapes[len(scrapes) // 2], 2)})
    finally:
        prometheus.close()

    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    otel = OtelSink(reader=InMemoryMetricReader())  # a collect per batch, as with OTLP
    emit("otel_sink_export", {"records": count, "us_per_record": round(
        per_record_us(otel, batches, count), 2)})
    otel.close()


if __name__ == "__main__":
    main()
