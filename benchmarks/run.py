"""Run every benchmark and print a table; `make bench` calls this."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_import.py", "bench_startstop.py", "bench_overhead.py", "bench_rss.py",
           "bench_spans.py"]


def main() -> int:
    sys.path.insert(0, str(HERE))
    from _common import compile_package

    compile_package()
    results = []
    for name in BENCHES:
        done = subprocess.run([sys.executable, str(HERE / name), *sys.argv[1:]],
                              capture_output=True, text=True, cwd=HERE)
        if done.returncode != 0:
            print(f"{name} failed:\n{done.stderr}", file=sys.stderr)
            return 1
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    for result in results:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
