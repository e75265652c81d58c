"""Run as a real process by test_spool.py: `write-forever ROOT MARKER` or `deliver ROOT LOG GO`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from exporter_helpers import make_info, make_record  # noqa: E402

from wattprint.records import Record  # noqa: E402
from wattprint.spool import Spool  # noqa: E402


def write_forever(root: Path, marker: Path) -> None:
    def items():
        for seq in range(2000):
            yield make_record(seq)
        marker.write_text("writing")
        time.sleep(120)  # the test SIGKILLs us here, in the middle of Spool.write
        yield make_record(2000)

    Spool(root).write("csv", make_info(), items())


class LogSink:
    """Appends one line per exported batch to a shared log: pid and the records' keys."""

    name = "csv"

    def __init__(self, log: Path) -> None:
        self._fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def export(self, batch) -> None:
        keys = " ".join(f"{i.run_id}:{i.seq}" for i in batch if isinstance(i, Record))
        time.sleep(0.005)  # widen the window in which deliverers overlap
        os.write(self._fd, f"{os.getpid()} {keys}\n".encode())  # one O_APPEND write: atomic

    def close(self) -> None:
        os.close(self._fd)


def deliver(root: Path, log: Path, go: Path) -> None:
    (go.parent / f"ready-{os.getpid()}").write_text("ready")
    while not go.exists():  # start together with the other deliverers
        time.sleep(0.001)
    report = Spool(root).deliver(lambda name: LogSink(log))
    assert report.ok, report


if __name__ == "__main__":
    if sys.argv[1] == "write-forever":
        write_forever(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        deliver(Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
