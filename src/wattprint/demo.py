"""A real, CPU-bound workload of about 20 s, tracked: ``python -m wattprint.demo``.

Three phases, each a span: one busy core, every core busy (worker processes), then a quiet
phase, so the summary shows how power follows load. Nothing is simulated: the energy comes from
this machine's sensors (or the CPU model, when no counter is readable; the summary says which).
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import sys
import time


def burn(seconds: float) -> int:
    """Chain SHA-256 for ``seconds`` of wall time; returns the rounds done."""
    digest = b"wattprint"
    rounds = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(2000):
            digest = hashlib.sha256(digest).digest()
        rounds += 2000
    return rounds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m wattprint.demo", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="total length (default 20)")
    parser.add_argument("--country", default=None, help="where this machine is, e.g. FR")
    args = parser.parse_args(argv)

    from . import Tracker
    from .report import format_summary

    cores = os.cpu_count() or 1
    third = args.seconds / 3
    tracker = Tracker(project="wattprint-demo", experiment="sha256", interval_s=1.0,
                      country=args.country, command="python -m wattprint.demo")
    print(f"wattprint demo: {args.seconds:.0f} s of real work on {cores} core(s)...",
          file=sys.stderr)
    with tracker:
        with tracker.span("one-core"):
            burn(third)
        with tracker.span(f"{cores}-cores"):
            with multiprocessing.get_context("spawn").Pool(cores) as pool:
                pool.map(burn, [third] * cores)
        with tracker.span("quiet"):
            time.sleep(third)
    summary = tracker.summary
    assert summary is not None
    stored = str(tracker.config.store_path) if "sqlite" in tracker.config.sinks else None
    print(format_summary(summary, store_path=stored))
    return 0


if __name__ == "__main__":
    sys.exit(main())
