"""The exceptions wattprint raises, all under one root.

    WattprintError
    ├── ConfigError            a bad config value or unknown key (names the key, value, what is allowed)
    ├── SensorUnavailable      a probe could not open a sensor (carries the reason and the fix)
    ├── SensorReadError        an opened sensor failed to read (the meter records a gap)
    ├── LocationError          an unknown country / subdivision / region (lists close matches)
    ├── IntensityUnavailable   a carbon-intensity source has no value for a place or time
    ├── ProviderError          a live intensity API failed or sent something malformed
    ├── StoreError             the local store cannot be opened or a run is not found
    └── ExportRejected         a sink refused one batch for good (the server said it is invalid)

The tracker catches sensor, intensity and sink failures at the stage boundary and logs them once;
only construction-time mistakes (``ConfigError``) reach the host program.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ExportRejected",
    "IntensityUnavailable",
    "LocationError",
    "ProviderError",
    "SensorReadError",
    "SensorUnavailable",
    "StoreError",
    "WattprintError",
]


class WattprintError(Exception):
    """Root of every exception wattprint raises on purpose."""


class ConfigError(WattprintError, ValueError):
    """A configuration key is unknown or its value is not allowed."""

    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.source = source


class SensorUnavailable(WattprintError):
    """A sensor could not be opened; ``reason`` says why, ``fix`` what the user can do."""

    def __init__(self, reason: str, fix: str | None = None) -> None:
        super().__init__(reason if not fix else f"{reason} (fix: {fix})")
        self.reason = reason
        self.fix = fix


class SensorReadError(WattprintError):
    """An open sensor failed while reading."""


class LocationError(WattprintError, ValueError):
    """A place is unknown; the message lists the closest known names."""

    def __init__(self, message: str, *, suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.suggestions = suggestions


class IntensityUnavailable(WattprintError):
    """A carbon-intensity source has no value for the place or time asked."""


class ProviderError(IntensityUnavailable):
    """A live carbon-intensity API failed, timed out or returned a malformed payload."""


class StoreError(WattprintError):
    """The local store could not be opened, migrated or queried."""


class ExportRejected(WattprintError):
    """A sink refused THIS batch for good (e.g. HTTP 400): retrying the same items cannot help.

    The exporter sets such a batch aside in the spool (so it is kept, visibly, and can be sent
    again with ``wattprint spool deliver`` once the receiver is fixed) and goes on with the next
    one, instead of retrying it forever in front of everything else.
    """
