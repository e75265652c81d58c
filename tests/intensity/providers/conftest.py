"""Fixtures for the live intensity provider tests.

The shared fakes import as ``fakes.*`` (tests/conftest.py puts ``tests/`` on ``sys.path``).
Recordings and the replaying transport live in ``tests/fakes/http_recordings/``. No test
touches the network or sleeps for a backoff: ``sleeps`` collects what the client would have waited.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from fakes.http_recordings.replay import Replay  # tests/ is on sys.path (root conftest)
from wattprint.intensity.providers._http import HttpOptions

NOW_OFFSET_S = 10 * 3600 + 20 * 60  # tests run at 2026-01-01T10:20Z (clock wall start + this)


@pytest.fixture
def replay() -> Replay:
    return Replay()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "wattprint-home" / "cache" / "intensity"


@pytest.fixture
def http(replay: Replay, sleeps: list[float], clock: Any, cache_dir: Path) -> HttpOptions:
    """Options wired to the replay, the fake clock (moved to 10:20Z) and a temp cache."""
    clock.advance(NOW_OFFSET_S)
    return HttpOptions(transport=replay.transport, cache_dir=cache_dir, sleep=sleeps.append,
                       wall_clock=clock.wall_clock, jitter=lambda: 0.0)


@pytest.fixture
def utcnow(clock: Any) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(clock.wall, timezone.utc)
