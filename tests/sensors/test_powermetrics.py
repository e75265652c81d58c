"""The powermetrics sensor on recorded-style plist output fed through a fake child process."""

from __future__ import annotations

import plistlib

import pytest

from fakes.clock import FakeClock as Clock
from fakes.powermetrics import FakeProcess, FakeSpawner, sample, stream
from wattprint.errors import SensorReadError, SensorUnavailable
from wattprint.meter import Gap, Meter
from wattprint.sensors import ProbeContext, Reading, Sensor, powermetrics
from wattprint.sensors.powermetrics import PlistStream, sample_energy_j

PM = "/usr/bin/powermetrics"



def _probe(
    spawner: FakeSpawner,
    clock: Clock | None = None,
    *,
    euid: int = 501,
    which: str | None = PM,
    platform: str = "darwin",
    machine: str = "arm64",
) -> powermetrics.PowermetricsSensor:
    return powermetrics.probe(
        ProbeContext(),
        platform=platform,
        machine=machine,
        which=lambda name: which,
        geteuid=lambda: euid,
        spawn=spawner,
        clock=clock or Clock(),
    )


def _unavailable(spawner: FakeSpawner | None = None, **kwargs: object) -> SensorUnavailable:
    with pytest.raises(SensorUnavailable) as caught:
        _probe(spawner or FakeSpawner(), **kwargs)  # type: ignore[arg-type]
    return caught.value


@pytest.fixture
def running() -> tuple[powermetrics.PowermetricsSensor, FakeProcess, Clock]:
    spawner, clock = FakeSpawner(), Clock()
    sensor = _probe(spawner, clock)
    assert spawner.process is not None
    yield sensor, spawner.process, clock
    sensor.close()


def _feed(process: FakeProcess, data: bytes) -> None:
    process.stdout.feed(data)
    assert process.stdout.wait_consumed()


def _energies(sensor: powermetrics.PowermetricsSensor) -> dict[str, float | None]:
    return {r.device: r.energy_j for r in sensor.read()}


# --- parsing the stream ------------------------------------------------------------------------


def test_stream_yields_each_sample_whole_or_byte_by_byte() -> None:
    data = stream(sample(second=1), sample(second=2), sample(second=3))
    whole = PlistStream().feed(data)
    assert [s["timestamp"].second for s in whole] == [1, 2, 3]

    parser = PlistStream()
    pieces = [parser.feed(data[i : i + 1]) for i in range(len(data))]
    assert [s["timestamp"].second for got in pieces for s in got] == [1, 2, 3]
    assert parser.errors == 0


def test_a_sample_is_complete_at_its_end_tag_not_at_the_next_nul() -> None:
    parser = PlistStream()
    first = sample(second=7)
    split = len(first) - len(b"/plist>\n")  # the chunk ends inside "</plist>"
    assert parser.feed(first[:split]) == []
    assert [s["timestamp"].second for s in parser.feed(first[split:])] == [7]
    assert parser.feed(b"\x00") == []  # the NUL that precedes the next sample


def test_a_garbled_sample_is_skipped_and_counted() -> None:
    parser = PlistStream()
    samples = parser.feed(stream(b"<plist><dict><key>x</plist>", sample(second=4)))
    assert [s["timestamp"].second for s in samples] == [4]
    assert parser.errors == 1


def test_sample_energy_is_power_times_elapsed_per_domain() -> None:
    parsed = plistlib.loads(sample(elapsed_ns=500_000_000, cpu_mw=2000.0, gpu_mw=300.0))
    assert parsed["processor"]["cpu_energy"] == 1000  # mJ, as the tool prints it
    assert sample_energy_j(parsed) == {"cpu": 1.0, "gpu": 0.15, "ane": 0.0625}


def test_sample_energy_falls_back_to_the_millijoule_fields() -> None:
    parsed = plistlib.loads(sample())
    for domain in ("cpu", "gpu", "ane"):
        del parsed["processor"][f"{domain}_power"]
    assert sample_energy_j(parsed) == {"cpu": 1.25, "gpu": 0.5, "ane": 0.125}


def test_a_domain_without_fields_is_left_out() -> None:
    parsed = plistlib.loads(sample(ane_mw=None))
    assert sample_energy_j(parsed) == {"cpu": 1.25, "gpu": 0.5}
    assert sample_energy_j({"elapsed_ns": 1}) == {}


# --- the running sensor ------------------------------------------------------------------------


def test_samples_accumulate_into_exact_joules_through_the_meter(running) -> None:  # type: ignore[no-untyped-def]
    sensor, process, clock = running
    assert isinstance(sensor, Sensor)
    assert sensor.read() == [
        Reading("powermetrics:cpu", "cpu", "sampled", energy_j=0.0),
        Reading("powermetrics:gpu", "gpu", "sampled", energy_j=0.0),
        Reading("powermetrics:ane", "gpu", "sampled", energy_j=0.0),
    ]
    meter = Meter([sensor], clock=clock, wall_clock=clock)
    meter.start()

    _feed(process, stream(sample(), sample(cpu_mw=2500.0, gpu_mw=1000.0, ane_mw=250.0)))
    clock.now += 2.0
    interval = meter.measure()
    assert {(d.device, d.component, d.method, d.energy_j) for d in interval.devices} == {
        ("powermetrics:cpu", "cpu", "sampled", 3.75),
        ("powermetrics:gpu", "gpu", "sampled", 1.5),
        ("powermetrics:ane", "gpu", "sampled", 0.375),
    }
    assert interval.energy_j("gpu") == 1.875
    assert sensor.samples == 2


def test_a_sample_split_across_reads_counts_once_complete(running) -> None:  # type: ignore[no-untyped-def]
    sensor, process, _clock = running
    data = sample(cpu_mw=4000.0)
    _feed(process, data[:700])
    assert _energies(sensor)["powermetrics:cpu"] == 0.0
    _feed(process, data[700:] + b"\x00")
    assert _energies(sensor)["powermetrics:cpu"] == 4.0


def test_devices_and_mapping(running) -> None:  # type: ignore[no-untyped-def]
    sensor, _process, _clock = running
    assert [(d.device, d.component, d.method) for d in sensor.devices()] == [
        ("powermetrics:cpu", "cpu", "sampled"),
        ("powermetrics:gpu", "gpu", "sampled"),
        ("powermetrics:ane", "gpu", "sampled"),
    ]
    assert sensor.devices()[2].detail == (
        "Apple Silicon Neural Engine (ANE) energy from powermetrics (every 1000 ms)"
    )
    assert any("Neural Engine" in note for note in sensor.notes)


def test_a_domain_missing_from_the_latest_sample_is_a_gap(running) -> None:  # type: ignore[no-untyped-def]
    sensor, process, clock = running
    meter = Meter([sensor], clock=clock, wall_clock=clock)
    meter.start()
    _feed(process, sample(ane_mw=None))
    clock.now += 1.0
    interval = meter.measure()
    assert Gap("powermetrics:ane", "device missing from its sensor's readings") in interval.gaps
    assert {d.device: d.energy_j for d in interval.devices} == {
        "powermetrics:cpu": 1.25,
        "powermetrics:gpu": 0.5,
    }


def test_no_sample_for_too_long_is_a_read_error(running) -> None:  # type: ignore[no-untyped-def]
    sensor, process, clock = running
    _feed(process, sample())
    clock.now += 9.0
    assert _energies(sensor)["powermetrics:cpu"] == 1.25
    clock.now += 2.0  # 11 s since the last sample; stale after max(10 s, 5 intervals)
    with pytest.raises(SensorReadError, match="no powermetrics sample for 11 s"):
        sensor.read()
    _feed(process, sample())  # it recovers as soon as samples flow again
    assert _energies(sensor)["powermetrics:cpu"] == 2.5


def test_child_dying_mid_run_is_a_gap_with_its_message(running) -> None:  # type: ignore[no-untyped-def]
    sensor, process, clock = running
    meter = Meter([sensor], clock=clock, wall_clock=clock)
    meter.start()
    process.exit(1, b"powermetrics: SMC read failed\n")
    assert process.stderr.wait_consumed()
    with pytest.raises(SensorReadError, match=r"exited with status 1 \(powermetrics: SMC read"):
        sensor.read()
    clock.now += 1.0
    interval = meter.measure()
    assert interval.devices == ()
    assert [g.device for g in interval.gaps] == ["powermetrics"]


# --- shutting down -------------------------------------------------------------------------------


def test_close_terminates_reaps_and_joins() -> None:
    spawner = FakeSpawner()
    sensor = _probe(spawner)
    process = spawner.process
    assert process is not None
    sensor.close()
    assert (process.terminated, process.killed, process.reaped) == (1, 0, True)
    assert all(not thread.is_alive() for thread in sensor._threads)
    assert process.stdout.closed and process.stderr.closed
    sensor.close()  # idempotent
    assert process.terminated == 1
    with pytest.raises(SensorReadError, match="closed"):
        sensor.read()


def test_close_kills_a_child_that_ignores_sigterm() -> None:
    spawner = FakeSpawner(ignores_terminate=True)
    sensor = _probe(spawner)
    sensor.close()
    process = spawner.process
    assert process is not None
    assert (process.terminated, process.killed, process.reaped) == (1, 1, True)
    assert all(not thread.is_alive() for thread in sensor._threads)


# --- probe ---------------------------------------------------------------------------------------


def test_command_line_uses_sudo_n_unless_root() -> None:
    spawner = FakeSpawner()
    _probe(spawner).close()
    assert spawner.argv == [
        "sudo",
        "-n",
        PM,
        "--samplers",
        "cpu_power,gpu_power,ane_power",
        "-i",
        "1000",
        "-f",
        "plist",
        "-b",
        "0",
    ]
    as_root = FakeSpawner()
    _probe(as_root, euid=0).close()
    assert as_root.argv is not None and as_root.argv[0] == PM


def test_not_macos() -> None:
    error = _unavailable(platform="linux")
    assert error.reason == "powermetrics is macOS only (this is linux)"


def test_intel_mac_keeps_the_cpu_model() -> None:
    error = _unavailable(machine="x86_64")
    assert error.reason.startswith("not Apple Silicon (x86_64)")
    assert "CPU model" in error.reason


def test_powermetrics_missing() -> None:
    assert "not found" in _unavailable(which=None).reason


def test_sudo_without_a_rule_explains_the_sudoers_fix() -> None:
    spawner = FakeSpawner(exit_code=1, stderr=b"sudo: a password is required\n")
    error = _unavailable(spawner)
    assert error.reason == (
        "powermetrics needs root, and `sudo -n` may not run it without a password "
        "(sudo: a password is required)"
    )
    assert error.fix is not None
    assert "sudo wattprint" in error.fix
    assert "visudo -f /etc/sudoers.d/wattprint" in error.fix
    assert "NOPASSWD: /usr/bin/powermetrics" in error.fix
    assert spawner.process is not None and spawner.process.reaped


def test_unknown_sampler_on_an_old_macos() -> None:
    spawner = FakeSpawner(exit_code=64, stderr=b"unrecognized sampler: ane_power\n")
    error = _unavailable(spawner)
    assert error.reason.startswith("this macOS's powermetrics lacks the")


def test_spawn_failure() -> None:
    def refuse(argv: list[str]) -> FakeProcess:
        raise FileNotFoundError(2, "No such file or directory", argv[0])

    with pytest.raises(SensorUnavailable, match="cannot start sudo"):
        powermetrics.probe(
            ProbeContext(),
            platform="darwin",
            machine="arm64",
            which=lambda name: PM,
            geteuid=lambda: 501,
            spawn=refuse,
        )
