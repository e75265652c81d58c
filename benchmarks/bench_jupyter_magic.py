"""What ``%%wattprint`` adds to a notebook cell (wattprint.integrations.jupyter).

- cell_ms: an empty ``%%wattprint`` cell in a real IPython ``InteractiveShell``, minus the same
  cell without the magic: a tracker made, started (sensors probed) and stopped (final record,
  summary, the SQLite store written) plus the summary shown; median over ``--cells`` of each,
  alternated.
- session_cell_ms: the same during a ``%wattprint start`` session, where a cell is a span of the
  session's run rather than a run of its own.
- first_cell_ms: the first measured cell in a fresh process (modules loaded, the store made).
The tracker runs with its default sensors and the SQLite store (a fresh home), country FR.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from _common import emit, fresh_env, run_python

CODE = r"""
import json, statistics, time
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

config = Config()
config.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=config)
shell.run_cell("%load_ext wattprint")
perf = time.perf_counter

def cell_ms(source):
    with capture_output():
        t0 = perf()
        result = shell.run_cell(source, store_history=True)
        elapsed = (perf() - t0) * 1000
    assert result.success, result
    return elapsed

first = cell_ms("%%wattprint\npass") - cell_ms("pass")
plain, magic = [], []
for _ in range({cells}):
    plain.append(cell_ms("pass"))
    magic.append(cell_ms("%%wattprint\npass"))
cell_ms("%wattprint start --quiet")
spans = [cell_ms("%%wattprint\npass") for _ in range({cells})]
cell_ms("%wattprint stop --quiet")
median = statistics.median
print(json.dumps({{"cell_ms": median(magic) - median(plain),
                   "session_cell_ms": median(spans) - median(plain), "first_cell_ms": first}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(Path(tmp))
        out = json.loads(run_python(CODE.format(cells=args.cells), env, Path(tmp))
                         .strip().splitlines()[-1])
    emit("jupyter_magic", {**{k: round(v, 1) for k, v in out.items()},
                           "load_average": round(os.getloadavg()[0], 1)})


if __name__ == "__main__":
    main()
