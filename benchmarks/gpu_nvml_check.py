"""Check the NVML sensor on a real NVIDIA GPU against NVML's own numbers.

While a matrix-multiply load runs on one GPU for ~60 s (torch if installed, else cupy; else the
GPU is measured idle and the report says so), four measurements cover the same window:

1. ``sensor_counter_meter``: :class:`wattprint.sensors.nvml.NvmlSensor` (its energy counter)
   read through the real :class:`wattprint.meter.Meter` every second, intervals summed;
2. ``sensor_sampled_meter``: the same sensor forced to read power (``Sampling(force=True)``, the
   path pre-Volta GPUs take), through a second Meter measured every 0.1 s: the sensor keeps no
   thread, so this script plays the tracker's sampler, which reads power-only devices at that
   cadence by default;
3. ``raw_counter_delta``: ``nvmlDeviceGetTotalEnergyConsumption`` read directly at both ends;
4. ``raw_power_integral``: ``nvmlDeviceGetPowerUsage`` sampled every 0.1 s by this script and
   integrated with the trapezoid rule.

(1) and (3) read the same counter and should agree to well under 1 %. (2) and (4) integrate the
power reading, which NVML documents as a 1 s average on Ampere (except GA100) and newer GPUs: it
lags the load by about half a second at each edge, so a few % off the counter is expected there.

The load runs in a child process, so its kernel launches never compete with the measuring
threads for the GIL. Prints a JSON report, and writes it to ``$OUT/nvml_check.json`` when ``$OUT``
is set::

    python benchmarks/gpu_nvml_check.py [--seconds 60] [--gpu 0] [--size 8192]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if importlib.util.find_spec("wattprint") is None:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT / "src"))

from wattprint.meter import Meter
from wattprint.sensors import ProbeContext, SensorOptions
from wattprint.sensors.nvml import NvmlSensor, Sampling, probe

METER_INTERVAL_S = 1.0
SAMPLER_INTERVAL_S = 0.1  # the tracker's sampler's default cadence for power-only devices
RAW_SAMPLE_INTERVAL_S = 0.1
TAIL_S = 3.0  # measured after the load stops: the 1 s power average settles within it

# The child waits for a line on stdin, runs matrix multiplies for argv[2] seconds, then exits.
# Synchronising every few multiplies keeps the launch queue short, so it stops on time.
_TORCH_LOAD = """
import sys, time, torch
n, seconds = int(sys.argv[1]), float(sys.argv[2])
a = torch.randn(n, n, device="cuda", dtype=torch.float16)
b = torch.randn(n, n, device="cuda", dtype=torch.float16)
c = torch.empty_like(a)
torch.matmul(a, b, out=c); torch.cuda.synchronize()
print("ready", flush=True); sys.stdin.readline()
end = time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(8):
        torch.matmul(a, b, out=c)
    torch.cuda.synchronize()
"""

_CUPY_LOAD = """
import sys, time, cupy as cp
n, seconds = int(sys.argv[1]), float(sys.argv[2])
a = cp.random.rand(n, n, dtype=cp.float32)
b = cp.random.rand(n, n, dtype=cp.float32)
c = cp.matmul(a, b); cp.cuda.Device().synchronize()
print("ready", flush=True); sys.stdin.readline()
end = time.monotonic() + seconds
while time.monotonic() < end:
    for _ in range(4):
        c = cp.matmul(a, b)
    cp.cuda.Device().synchronize()
"""


@dataclass
class PowerIntegrator:
    """Samples nvmlDeviceGetPowerUsage on a thread and integrates it (trapezoid)."""

    read_mw: Callable[[], int]
    interval_s: float = RAW_SAMPLE_INTERVAL_S
    energy_j: float = 0.0
    samples: int = 0
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _last: tuple[float, float] | None = None  # (time s, power W)

    def start(self) -> None:
        self._sample()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()  # close the integral at the very end of the window

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        try:
            watts = self.read_mw() / 1000
        except Exception as exc:  # noqa: BLE001 - reported in the JSON, never fatal here
            self.errors.append(repr(exc))
            self._last = None
            return
        now = time.monotonic()
        if self._last is not None:
            self.energy_j += 0.5 * (watts + self._last[1]) * (now - self._last[0])
        self._last = (now, watts)
        self.samples += 1


def _load_command(size: int, seconds: float) -> tuple[list[str] | None, str]:
    for module, code, label in (
        ("torch", _TORCH_LOAD, f"torch fp16 matmul {size}x{size}"),
        ("cupy", _CUPY_LOAD, f"cupy fp32 matmul {size}x{size}"),
    ):
        if importlib.util.find_spec(module) is not None:
            return [sys.executable, "-c", code, str(size), str(seconds)], label
    print(
        "neither torch nor cupy is installed: measuring the GPU idle "
        "(pip install torch, or cupy-cuda12x, for a loaded run)",
        file=sys.stderr,
    )
    return None, "none (torch and cupy not installed): idle GPU"


def _start_load(command: list[str] | None, uuid: str) -> subprocess.Popen[str] | None:
    if command is None:
        return None
    # Pin the child by UUID: CUDA's own index order may differ from NVML's.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": uuid}
    child = subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        raise SystemExit("the load process failed to start (see its stderr above)")
    return child


def _stop_load(child: subprocess.Popen[str] | None) -> None:
    if child is not None and child.poll() is None:
        child.kill()
        child.wait()


def _meter_until(
    meters: list[tuple[Meter, float]], done: Callable[[], bool]
) -> list[list[Any]]:
    """Measure each meter every its own period (s) until done(); the intervals of each meter."""
    intervals: list[list[Any]] = [[] for _ in meters]
    due = [time.monotonic() + period for _, period in meters]
    while not done():
        time.sleep(max(0.0, min(due) - time.monotonic()))
        now = time.monotonic()
        for i, (meter, period) in enumerate(meters):
            if now >= due[i]:
                intervals[i].append(meter.measure())
                due[i] += period
    # A last measure of every meter, so all windows end within microseconds of each other.
    for kept, (meter, _) in zip(intervals, meters, strict=True):
        kept.append(meter.measure())
    return intervals


def _relative(value: float, reference: float) -> float | None:
    return None if reference == 0 else (value - reference) / reference


def run(pynvml: Any, *, gpu: int, seconds: float, size: int) -> dict[str, Any]:
    pynvml.nvmlInit()
    with contextlib.ExitStack() as stack:
        stack.callback(pynvml.nvmlShutdown)
        handle = pynvml.nvmlDeviceGetHandleByIndex(gpu)
        name = pynvml.nvmlDeviceGetName(handle)
        uuid = pynvml.nvmlDeviceGetUUID(handle)
        driver = pynvml.nvmlSystemGetDriverVersion()
        ctx = ProbeContext(options=SensorOptions(gpu_ids=(str(gpu),)), modules={"pynvml": pynvml})
        counter: NvmlSensor = probe(ctx)
        stack.callback(counter.close)
        sampled: NvmlSensor = probe(ctx, sampling=Sampling(force=True))
        stack.callback(sampled.close)
        command, load = _load_command(size, seconds)
        child = _start_load(command, uuid)
        stack.callback(_stop_load, child)
        meters = [(Meter([counter]), METER_INTERVAL_S), (Meter([sampled]), SAMPLER_INTERVAL_S)]
        power = PowerIntegrator(lambda: int(pynvml.nvmlDeviceGetPowerUsage(handle)))

        # Every measurement starts within a few ms of the others, then the load is released.
        start_s = time.monotonic()
        start_mj = int(pynvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        power.start()
        for meter, _ in meters:
            meter.start()
        if child is not None:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        load_end_s = start_s + seconds
        intervals = _meter_until(meters, lambda: time.monotonic() >= load_end_s + TAIL_S)
        end_mj = int(pynvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        power.stop()
        duration_s = time.monotonic() - start_s
        if child is not None:
            child.wait(timeout=30)

    energies = {
        "sensor_counter_meter": sum(i.energy_j() for i in intervals[0]),
        "sensor_sampled_meter": sum(i.energy_j() for i in intervals[1]),
        "raw_counter_delta": (end_mj - start_mj) / 1000,
        "raw_power_integral": power.energy_j,
    }
    reference = energies["raw_counter_delta"]
    gaps = [[g.device, g.reason] for kept in intervals for i in kept for g in i.gaps]
    relative = {k: _relative(v, reference) for k, v in energies.items() if k != "raw_counter_delta"}
    return {
        "check": "nvml_sensor_vs_raw_nvml",
        "gpu": {"index": gpu, "name": name, "uuid": uuid, "driver": driver},
        "load": load,
        "load_s": seconds,
        "window_s": round(duration_s, 3),
        "meter_interval_s": METER_INTERVAL_S,
        "sampled_meter_interval_s": SAMPLER_INTERVAL_S,
        "raw_power_sample_interval_s": RAW_SAMPLE_INTERVAL_S,
        "raw_power_samples": power.samples,
        "energy_j": {k: round(v, 3) for k, v in energies.items()},
        "mean_power_w": round(reference / duration_s, 2) if duration_s else None,
        "relative_to_raw_counter": {
            k: None if v is None else round(v, 5) for k, v in relative.items()
        },
        "meter_gaps": gaps,
        "errors": power.errors,
        "sensor_notes": list(counter.notes) + list(sampled.notes),
        "ok": {
            # The same counter read two ways: only read timing separates them.
            "sensor_counter_matches_raw_counter": _within(relative["sensor_counter_meter"], 0.01),
            # The power path: sampling, the 1 s averaging on recent GPUs, and the trapezoid.
            "sensor_sampled_within_10pct": _within(relative["sensor_sampled_meter"], 0.10),
            "no_gaps": not gaps,
        },
    }


def _within(relative: float | None, tolerance: float) -> bool:
    return relative is not None and abs(relative) <= tolerance


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration (s)")
    parser.add_argument("--gpu", type=int, default=0, help="NVML index of the GPU to check")
    parser.add_argument("--size", type=int, default=8192, help="matrix side")
    args = parser.parse_args(argv)
    try:
        import pynvml
    except ImportError:
        print("nvidia-ml-py is not installed: pip install 'wattprint[nvidia]'", file=sys.stderr)
        return 2
    try:
        report = run(pynvml, gpu=args.gpu, seconds=args.seconds, size=args.size)
    except pynvml.NVMLError as exc:
        print(f"NVML failed: {exc} (is there an NVIDIA GPU and driver here?)", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2)
    print(text)
    out = os.environ.get("OUT")
    if out:
        Path(out, "nvml_check.json").write_text(text + "\n")
    return 0 if all(report["ok"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
