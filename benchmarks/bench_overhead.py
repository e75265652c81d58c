"""Tracker CPU cost at a 1 s interval, as CPU seconds per hour of tracking.

Three measurements:
- per tick: CPU time of N back-to-back ticks (sensors, meter, intensity, record, buffered
  store write; `_cut` is called directly so the store batches as in a real run), times 3600;
- end to end: process CPU time of an idle program tracked for `--seconds` at 1 s minus the same
  program untracked, scaled to an hour, after a `--warmup` whose CPU time (import, start, opening
  the store) is reported apart as `startup_cpu_ms`: an hour of tracking pays it once.
- floor: the same idle program with a thread that only wakes once a second and does nothing
  (the cost of waking at all on this machine, which no tracker can go under).
Goal: <= 0.02 % of one core = 0.72 CPU s per hour.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import emit, fresh_env, run_python

PER_TICK = r"""
import json, time, wattprint
tracker = wattprint.Tracker(interval_s=3600).start()
for _ in range(20):
    tracker._cut()
n = {n}
t0 = time.process_time()
for _ in range(n):
    tracker._cut()
per_tick = (time.process_time() - t0) / n
tracker.stop()
print(json.dumps({{"per_tick_us": per_tick * 1e6, "sensors": [d.device for d in tracker.devices]}}))
"""

IDLE = r"""
import json, threading, time
tracked = {tracked}
s0 = time.process_time()
if tracked == "floor":
    stop = threading.Lock()
    stop.acquire()
    def wake():
        while not stop.acquire(timeout=1.0):
            pass
    threading.Thread(target=wake, daemon=True).start()
elif tracked:
    import wattprint
    tracker = wattprint.Tracker(interval_s={interval}).start()
time.sleep({warmup})  # start-up (opening the store, first records) is reported apart
t0 = time.process_time()
time.sleep({seconds})
used = time.process_time() - t0
if tracked is True:
    tracker.stop()
print(json.dumps({{"cpu_s": used, "startup_cpu_s": t0 - s0}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--interval", type=float, default=1.0,
                        help="record interval of the idle run (the goal is stated at 1 s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(Path(tmp))
        cwd = Path(tmp)
        tick = json.loads(run_python(PER_TICK.format(n=args.ticks), env, cwd))

        def idle_run(tracked: str) -> dict[str, float]:
            code = IDLE.format(tracked=tracked, seconds=args.seconds, warmup=args.warmup,
                               interval=args.interval)
            result: dict[str, float] = json.loads(run_python(code, env, cwd))
            return result

        idle, busy, floor = idle_run("False"), idle_run("True"), idle_run('"floor"')
    per_hour_tick = tick["per_tick_us"] * 1e-6 * 3600
    per_hour_e2e = max(0.0, busy["cpu_s"] - idle["cpu_s"]) * 3600 / args.seconds
    per_hour_floor = max(0.0, floor["cpu_s"] - idle["cpu_s"]) * 3600 / args.seconds
    emit("overhead", {
        "sensors": tick["sensors"],
        "per_tick_us": round(tick["per_tick_us"], 1),
        "cpu_s_per_hour_from_ticks": round(per_hour_tick, 3),
        "cpu_s_per_hour_end_to_end": round(per_hour_e2e, 3),
        "share_of_one_core_pct": round(per_hour_e2e / 3600 * 100, 4),
        "cpu_s_per_hour_wake_floor": round(per_hour_floor, 3),
        "startup_cpu_ms": round((busy["startup_cpu_s"] - idle["startup_cpu_s"]) * 1e3, 1),
        "seconds_measured": args.seconds,
        "interval_s": args.interval,
        "goal_cpu_s_per_hour": 0.72,
    })


if __name__ == "__main__":
    main()
