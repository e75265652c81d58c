"""A monotonic clock and a wall clock that move only when told (the `clock` fixture)."""

from __future__ import annotations


class FakeClock:
    """A monotonic clock and a wall clock that move only when told."""

    def __init__(self, start_s: float = 1000.0, wall_start_s: float = 1_767_225_600.0) -> None:
        self.now = start_s
        self.wall = wall_start_s

    def __call__(self) -> float:
        return self.now

    def wall_clock(self) -> float:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall += seconds
