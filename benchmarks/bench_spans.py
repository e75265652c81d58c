"""Cost of spans and work counting on the caller's thread, and memory over many steps.

- span: median wall time of one ``with tracker.span("step"): pass`` (open + close), measured in
  blocks of 1,000 to keep the clock's own cost out; goal <= 20 us on this machine.
- nested span: the same inside an open parent span.
- step: one ``tracker.step(32, unit="samples")``.
- memory: RSS growth over 2 million more spans of one name, after a first million (aggregated
  and settled as they go: should stay flat).
The tracker runs with its default sensors and the SQLite store, at a 1 s interval, so its own
thread settles spans concurrently, as in a training loop.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _common import emit, fresh_env, run_python

SNIPPET = r"""
import json, resource, statistics, time, wattprint

def rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 2**20

tracker = wattprint.Tracker(interval_s=1.0).start()
span, step, perf = tracker.span, tracker.step, time.perf_counter
block = 1000

def per_call_us(body, blocks):
    out = []
    for _ in range(blocks):
        t0 = perf()
        body()
        out.append((perf() - t0) / block * 1e6)
    return statistics.median(out)

def spans():
    for _ in range(block):
        with span("step"):
            pass

def nested():
    with span("epoch"):
        for _ in range(block):
            with span("step"):
                pass

def steps():
    for _ in range(block):
        step(32, unit="samples")

for _ in range(5):
    spans()  # warm up
span_us = per_call_us(spans, {blocks})
nested_us = per_call_us(nested, {blocks})
step_us = per_call_us(steps, {blocks})
# Memory: after 1 M empty spans, then after 2 M more; flat means the second figure stays put.
for _ in range(1000):
    spans()
before = rss_mb()
for _ in range(2000):
    spans()
after = rss_mb()
summary = tracker.stop()
rows = {{s["span_id"]: s["count"] for s in summary.spans}}
print(json.dumps({{"span_us": span_us, "nested_span_us": nested_us, "step_us": step_us,
                  "spans": sum(rows.values()), "span_rows": len(rows),
                  "rss_growth_mb": after - before}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(Path(tmp))
        result = json.loads(run_python(SNIPPET.format(blocks=args.blocks), env, Path(tmp)))
    emit("spans", {
        "span_us": round(result["span_us"], 2),
        "nested_span_us": round(result["nested_span_us"], 2),
        "step_us": round(result["step_us"], 2),
        "spans_recorded": result["spans"],
        "span_rows": result["span_rows"],
        "rss_growth_mb": round(result["rss_growth_mb"], 2),
        "goal_span_us": 20,
    })


if __name__ == "__main__":
    main()
