"""Helpers shared by the benchmarks: run a Python snippet in a fresh interpreter, wait for a
server to be up, time its pages."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def fresh_env(tmp: Path) -> dict[str, str]:
    """An environment with a private store and no user config, like a first run."""
    # A pip-installed package ships compiled bytecode; a sandbox that sets
    # PYTHONDONTWRITEBYTECODE would otherwise make every run recompile every module.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("WATTPRINT_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["WATTPRINT_HOME"] = str(tmp / "home")
    env["XDG_CONFIG_HOME"] = str(tmp / "config")
    env["WATTPRINT_COUNTRY"] = "FR"
    return env


def compile_package() -> None:
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "wattprint")],
                   check=True, env={k: v for k, v in os.environ.items()
                                    if k != "PYTHONDONTWRITEBYTECODE"})


def run_python(code: str, env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True,
                          text=True, check=True)
    return done.stdout


def wall_ms(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000


def median(values: list[float]) -> float:
    return statistics.median(values)


def emit(name: str, result: dict[str, object]) -> None:
    print(json.dumps({"benchmark": name, **result}))


def wait_healthy(client: Any, url: str = "/healthz", timeout_s: float = 30.0,
                 poll_s: float = 0.1) -> None:
    """Until the server behind the httpx ``client`` answers 200 at ``url`` (it is starting)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if client.get(url).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer /healthz within {timeout_s:g} s")
        time.sleep(poll_s)


def time_pages(client: Any, pages: dict[str, str], repeat: int) -> dict[str, dict[str, float]]:
    """Each page's first request (cold caches) and then ``repeat`` more: ms of the first, the
    median and the p95 of the rest, and the answer's size in KiB."""
    result: dict[str, dict[str, float]] = {}
    for name, page in pages.items():
        t = time.perf_counter()
        client.get(page).raise_for_status()
        first_ms = round(1000 * (time.perf_counter() - t), 1)
        times, size = [], 0
        for _ in range(repeat):
            t = time.perf_counter()
            answer = client.get(page)
            times.append(time.perf_counter() - t)
            answer.raise_for_status()
            size = len(answer.content)
        times.sort()
        p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
        result[name] = {"first_ms": first_ms,
                        "median_ms": round(1000 * statistics.median(times), 1),
                        "p95_ms": round(1000 * p95, 1), "kb": round(size / 1024)}
    return result
