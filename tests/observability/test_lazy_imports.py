"""The observability libraries load only when their sink is made: a tracker configured without
them never imports prometheus_client or opentelemetry."""

from __future__ import annotations

import subprocess
import sys


def test_a_tracker_without_them_never_imports_them(tmp_path):
    code = (
        "import sys, wattprint\n"
        "from wattprint.sinks.memory import MemorySink\n"
        "from wattprint.sinks.registry import sink_names\n"
        "import wattprint.sinks.prometheus, wattprint.sinks.otel, wattprint.sinks.logs\n"
        "wattprint.Tracker(country='FR', sinks=[MemorySink()], interval_s=3600).start().stop()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('prometheus_client', 'opentelemetry')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                               "WATTPRINT_HOME": str(tmp_path / "wp")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
