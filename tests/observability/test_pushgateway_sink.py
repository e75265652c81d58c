"""The pushgateway sink against an in-process gateway that answers like the real one: pushes at
the first batch, every N s and at close; a gateway down, failing or slow never reaches the
host program."""

from __future__ import annotations

import logging
import socket

import pytest

pytest.importorskip("prometheus_client")
from observability_helpers import FakePushgateway  # noqa: E402

from wattprint.errors import ConfigError  # noqa: E402
from wattprint.host import hostname  # noqa: E402
from wattprint.sinks.pushgateway import PushgatewaySink, from_config  # noqa: E402


def start(tracker):
    """Start and wait for the exporter's first batch (the run's info), which its thread sends
    at once: the first push then happens at the fake clock's start, not whenever the thread
    gets there."""
    tracker.start()
    tracker.flush()


@pytest.fixture
def gateway():
    server = FakePushgateway()
    yield server
    server.close()


def energy(group) -> dict[str, float]:
    return {s.labels["component"]: s.value for s in group["wattprint_energy_joules"]
            if s.name == "wattprint_energy_joules_total"}


def test_pushes_at_start_every_n_seconds_and_at_close(make_tracker, clock, gateway):
    sink = PushgatewaySink(gateway.url, job="train", every_s=60.0, clock=clock)
    tracker = make_tracker(sink, pue=1.1)
    start(tracker)  # the first batch (the run's info): pushed, zero so far
    assert len(gateway.requests) == 1
    clock.advance(30.0)
    tracker.flush()  # 30 s after the last push: not yet
    clock.advance(20.0)
    tracker.flush()
    assert len(gateway.requests) == 1
    clock.advance(10.0)
    tracker.flush()  # 60 s after: pushed
    assert len(gateway.requests) == 2
    clock.advance(5.0)
    summary = tracker.stop()  # and the last push at close
    assert len(gateway.requests) == 3 and sink.pushes == 3
    group = f"train/experiment/resnet/instance/{hostname()}/project/vision"  # keys sorted
    assert {path for _, path in gateway.requests} == {f"/metrics/job/{group}"}
    assert {method for method, _ in gateway.requests} == {"PUT"}
    pushed = gateway.groups[group]
    assert energy(pushed) == {k: summary.energy_j[k] for k in ("cpu", "gpu", "ram", "other")}
    assert pushed["wattprint_emissions_grams"][0].value == summary.emissions_g
    assert pushed["wattprint_records"][0].value == summary.records
    assert summary.delivery is not None and summary.delivery["pushgateway"] == "delivered"


def test_202_accepted_is_a_push(make_tracker, clock):
    gateway = FakePushgateway(accept_status=202)  # what the real one answers to some pushes
    try:
        sink = PushgatewaySink(gateway.url, clock=clock)
        tracker = make_tracker(sink)
        start(tracker)
        clock.advance(10.0)
        tracker.stop()
        assert sink.pushes >= 1 and sink.failures == 0
    finally:
        gateway.close()


def test_a_failing_gateway_is_logged_once_and_the_totals_arrive_later(make_tracker, clock,
                                                                      gateway, caplog):
    caplog.set_level(logging.DEBUG, logger="wattprint.sinks.pushgateway")
    sink = PushgatewaySink(gateway.url, every_s=10.0, clock=clock)
    tracker = make_tracker(sink)
    gateway.mode = "error"
    start(tracker)
    for _ in range(3):
        clock.advance(10.0)
        tracker.flush()  # never raises into the program
    assert sink.failures == 4 and sink.pushes == 0 and gateway.groups == {}  # start + 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING
                and "pushgateway" in r.getMessage()]
    assert len(warnings) == 1  # the later failures of the streak at debug level
    assert sum("failed again" in r.getMessage() for r in caplog.records) == 3
    assert "HTTPError" in warnings[0].getMessage() and "pushgateway_url" in warnings[0].getMessage()
    gateway.mode = "ok"
    summary = tracker.stop()
    assert sink.pushes == 1
    (group,) = gateway.groups.values()
    assert energy(group)["cpu"] == summary.energy_j["cpu"]  # everything, counted once
    assert any("pushing again after 4 failed pushes" in r.getMessage() for r in caplog.records)
    assert not [w for w in summary.warnings if w.startswith("sink pushgateway")]


def test_a_gateway_that_is_down_never_fails_the_run(make_tracker, clock, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed at once: nothing listens there
    sink = PushgatewaySink(f"http://127.0.0.1:{port}", clock=clock)
    tracker = make_tracker(sink)
    start(tracker)
    clock.advance(10.0)
    summary = tracker.stop()
    assert summary.status == "finished" and summary.energy_j["cpu"] == 500.0
    assert sink.pushes == 0 and sink.failures == 2  # the start's batch and the close
    # the run's summary says so (a log nobody configured would hide it)
    (warning,) = [w for w in summary.warnings if w.startswith("sink pushgateway:")]
    assert f"the last push to http://127.0.0.1:{port} failed" in warning
    assert "2 of 2 pushes failed" in warning
    assert "Connection refused" in caplog.text or "ConnectionRefusedError" in caplog.text


def test_a_slow_gateway_costs_at_most_the_timeout(make_tracker, clock, gateway):
    gateway.mode = "slow"
    sink = PushgatewaySink(gateway.url, clock=clock, timeout_s=0.2)
    tracker = make_tracker(sink)
    start(tracker)
    clock.advance(10.0)
    summary = tracker.stop()
    assert summary.status == "finished"
    assert sink.failures == 2 and sink.pushes == 0
    assert summary.delivery is not None and summary.delivery["pushgateway"] == "delivered"


def test_the_url_is_required():
    from wattprint.config import Config

    with pytest.raises(ConfigError, match="pushgateway_url"):
        from_config(Config())
