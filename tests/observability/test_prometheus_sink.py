"""The prometheus sink: /metrics scraped over real HTTP and parsed with prometheus_client's own
parser; every value equals the tracker's summary."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

prometheus_client = pytest.importorskip("prometheus_client")
from observability_helpers import KeepOpen, finished_run_batch  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from wattprint.sinks.prometheus import PrometheusSink, parse_address  # noqa: E402


def scrape(url: str) -> dict[str, list]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def by_component(samples, name):
    return {s.labels["component"]: s.value for s in samples if s.name == name}


def test_scraped_counters_equal_the_summary(make_tracker, clock):
    sink = PrometheusSink("127.0.0.1:0")
    kept = KeepOpen(sink)
    try:
        tracker = make_tracker(kept, pue=1.2)
        tracker.start()
        clock.advance(36.0)
        tracker.flush()
        middle = scrape(sink.url)
        assert by_component(middle["wattprint_energy_joules"], "wattprint_energy_joules_total") \
            == pytest.approx({"cpu": 1800.0, "gpu": 9000.0, "ram": 180.0, "other": 0.0})
        assert by_component(middle["wattprint_power_watts"], "wattprint_power_watts") \
            == pytest.approx({"cpu": 50.0, "gpu": 250.0, "ram": 5.0, "other": 0.0})
        clock.advance(24.0)
        summary = tracker.stop()
        assert kept.closed
        final = scrape(sink.url)
    finally:
        sink.close()
    energy = by_component(final["wattprint_energy_joules"], "wattprint_energy_joules_total")
    assert energy == {k: summary.energy_j[k] for k in ("cpu", "gpu", "ram", "other")}
    assert sum(energy.values()) == pytest.approx(summary.energy_j["total"])
    (emissions,) = final["wattprint_emissions_grams"]
    assert emissions.name == "wattprint_emissions_grams_total"
    assert emissions.value == summary.emissions_g
    assert emissions.value == pytest.approx(summary.energy_j["total"] * 1.2 * 360 / 3.6e6)
    (records,) = final["wattprint_records"]
    assert records.value == summary.records
    (intensity,) = final["wattprint_intensity_grams_per_kwh"]
    assert intensity.value == 360.0 and intensity.labels["zone"] == "FR"
    assert final["wattprint_pue"][0].value == 1.2
    # low cardinality: project, experiment, host (+ component); never the run id
    labels = {key for samples in final.values() for s in samples for key in s.labels}
    assert labels == {"project", "experiment", "host", "component", "zone"}
    assert {s.labels["project"] for s in final["wattprint_records"]} == {"vision"}


def test_run_id_label_only_when_asked(make_tracker, clock):
    sink = PrometheusSink("127.0.0.1:0", run_id_label=True)
    tracker = make_tracker(sink)
    tracker.start()
    clock.advance(10.0)
    tracker.flush()
    try:
        samples = scrape(sink.url)["wattprint_records"]
        assert samples[0].labels["run_id"] == tracker.run_id
    finally:
        tracker.stop()


def test_private_registry_and_two_trackers(make_tracker, clock):
    first, second = PrometheusSink("127.0.0.1:0"), PrometheusSink("127.0.0.1:0")
    tracker_a = make_tracker(first, project="a")
    tracker_b = make_tracker(second, project="b")
    tracker_a.start()
    tracker_b.start()
    clock.advance(10.0)
    tracker_a.flush()
    tracker_b.flush()
    try:
        assert {s.labels["project"] for s in scrape(first.url)["wattprint_records"]} == {"a"}
        assert {s.labels["project"] for s in scrape(second.url)["wattprint_records"]} == {"b"}
        default = prometheus_client.generate_latest(prometheus_client.REGISTRY).decode()
        assert "wattprint_" not in default  # the default registry is never touched
    finally:
        tracker_a.stop()
        tracker_b.stop()


def test_a_batch_delivered_twice_counts_once(make_tracker, clock):
    batch = finished_run_batch(make_tracker, clock)
    sink = PrometheusSink("127.0.0.1:0")
    try:
        sink.export(batch)
        sink.export(batch)  # the exporter's retry, or the spool after a crash
        energy = scrape(sink.url)["wattprint_energy_joules"]
    finally:
        sink.close()
    assert by_component(energy, "wattprint_energy_joules_total")["cpu"] == pytest.approx(1000.0)


def test_nothing_is_served_before_the_run_and_the_server_stops_at_close():
    sink = PrometheusSink("127.0.0.1:0")
    assert scrape(sink.url) == {}  # no series with empty labels
    sink.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(sink.url, timeout=5)


def test_a_port_in_use_says_what_to_do():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot serve /metrics on 127.0.0.1:{port}.*another"):
            PrometheusSink(f"127.0.0.1:{port}")


@pytest.mark.parametrize("address", ["9464", "host:", "host:70000", "host:x"])
def test_bad_addresses(address):
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address(address)


def test_ipv6_address():
    assert parse_address("[::1]:9464") == ("::1", 9464)


def test_missing_extra_is_a_one_line_hint(monkeypatch):
    from wattprint.integrations import MissingExtra

    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(MissingExtra) as caught:
        PrometheusSink("127.0.0.1:0")
    assert str(caught.value) == ("wattprint's Prometheus integration needs prometheus_client, "
                                 "which is not installed: pip install 'wattprint[prometheus]'")


def test_monitor_serves_metrics_while_it_runs(tmp_path):
    """`wattprint monitor --prometheus` in a real process: the URL is said on stderr, the
    endpoint answers during the run with the run's project label."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WATTPRINT_HOME": str(tmp_path / "wp"),
           "WATTPRINT_STORE_FLUSH_S": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wattprint", "monitor", "--country", "FR", "--project", "mon",
         "--interval", "0.2", "--duration", "30", "--prometheus", "127.0.0.1:0"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = None
        for line in proc.stderr:
            if "serving metrics at " in line:
                url = line.split("serving metrics at ", 1)[1].strip()
                break
        assert url is not None and url.endswith("/metrics")
        samples: list = []
        for _ in range(200):  # a real process on real time: records come every 0.2 s
            assert proc.poll() is None, "monitor ended before any record was served"
            samples = scrape(url).get("wattprint_records", [])
            if samples and samples[0].value >= 1:
                break
            time.sleep(0.05)
        assert samples and samples[0].value >= 1
        assert samples[0].labels["project"] == "mon"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_monitor_port_in_use_is_a_usage_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "wattprint", "monitor", "--country", "FR", "--duration", "1",
             "--prometheus", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                 "WATTPRINT_HOME": str(tmp_path / "wp")})
    assert done.returncode == 2, done.stderr
    assert f"cannot serve /metrics on 127.0.0.1:{port}" in done.stderr
    assert "--prometheus HOST:PORT" in done.stderr


def test_monitor_bad_address_is_a_usage_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "wattprint", "monitor", "--country", "FR", "--duration", "1",
         "--prometheus", "9464"], capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WATTPRINT_HOME": str(tmp_path / "wp")})
    assert done.returncode == 2
    assert "--prometheus: " in done.stderr and "expected HOST:PORT" in done.stderr
    assert not (tmp_path / "wp" / "wattprint.db").exists()  # stopped before measuring
