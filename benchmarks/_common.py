"""Helpers shared by the benchmarks: run a Python snippet in a fresh interpreter."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

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
