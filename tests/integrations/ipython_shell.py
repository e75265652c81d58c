"""Run cells through a real IPython ``InteractiveShell`` in a process of its own (the shell is a
process-wide singleton that takes over display hooks), and print what each cell showed as JSON.

    python ipython_shell.py < request.json

The request: {"cells": [...], "fake": true, "break_stop": false}. With ``fake``, the magics are
registered with a fake 100 W CPU on a fake clock (``clock`` in the user's namespace; cells move
it), 360 g/kWh and a memory sink; without it the cells load the extension themselves and
measure this machine. The user's namespace also holds ``boom``, an exception to raise, so the
test can check that the very same object comes out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared fakes

from fakes.clock import FakeClock  # noqa: E402
from fakes.intensity import FixedIntensity  # noqa: E402

CPU_W = 100.0
G_PER_KWH = 360.0


def register_fakes(shell, clock: FakeClock | None = None):
    """Register the magics on ``shell`` with the fakes; ``clock`` goes in the user's namespace.
    Returns the memory sink."""
    from wattprint.integrations import jupyter
    from wattprint.sensors.fake import FakeDevice, FakeSensor
    from wattprint.sinks.memory import MemorySink

    clock = clock or FakeClock()
    shell.user_ns["clock"] = clock
    sink = MemorySink()
    jupyter.register(shell, sensors=[FakeSensor([FakeDevice("fake:cpu", "cpu", CPU_W)],
                                                clock=clock)],
                     intensity=FixedIntensity(G_PER_KWH), sinks=[sink], clock=clock,
                     wall_clock=clock.wall_clock, country="FR", interval_s=3600)
    return sink


def main() -> None:
    request = json.load(sys.stdin)
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.InteractiveShell.colors = "nocolor"
    shell = InteractiveShell.instance(config=config)
    clock = FakeClock()
    boom = ValueError("the user's own <error>")
    shell.user_ns.update(clock=clock, boom=boom)
    sink = register_fakes(shell, clock) if request.get("fake", True) else None
    if request.get("break_stop"):
        from wattprint.tracker import Tracker

        def broken_stop(self, **kwargs):
            raise RuntimeError("sink exploded")

        Tracker.stop = broken_stop  # type: ignore[method-assign]
    results = []
    for cell in request["cells"]:
        with capture_output() as captured:
            result = shell.run_cell(cell, store_history=True)  # numbered, as in a notebook
        from wattprint.integrations.jupyter import last_summary

        summary = last_summary(shell)
        error = result.error_in_exec or result.error_before_exec
        results.append({
            "result": repr(result.result),
            "error": type(error).__name__ if error is not None else None,
            "error_is_boom": error is boom,
            "stdout": captured.stdout,
            "stderr": captured.stderr,
            "outputs": [dict(output.data) for output in captured.outputs],
            "summary": summary.to_json() if summary is not None else None,
            "tags": dict(sink.run.tags) if sink is not None and sink.run is not None else None,
            "user_x": repr(shell.user_ns.get("x")),
        })
    json.dump({"results": results, "modules": sorted(m for m in sys.modules
                                                      if m.startswith("wattprint"))},
              sys.stdout)


if __name__ == "__main__":
    main()
