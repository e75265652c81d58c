"""wattprint: measure the energy and emissions of computing, honestly and cheaply.

    import wattprint

    with wattprint.Tracker(project="resnet", country="FR") as tracker:
        with tracker.span("epoch-1"):
            train_one_epoch()
    print(tracker.summary.emissions_g)

The public names below load on first use, so ``import wattprint`` costs almost nothing
(no sensors, no SQLite, no threads until a tracker starts).
"""

from __future__ import annotations

# typing costs milliseconds to import; the names below are only needed by type checkers.
TYPE_CHECKING = False

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "Intensity",
    "Location",
    "LocationError",
    "Record",
    "RunInfo",
    "RunSummary",
    "Span",
    "Tracker",
    "WattprintError",
    "__version__",
    "load_config",
    "track",
]

_LAZY = {
    "Config": "wattprint.config",
    "load_config": "wattprint.config",
    "ConfigError": "wattprint.errors",
    "LocationError": "wattprint.errors",
    "WattprintError": "wattprint.errors",
    "Intensity": "wattprint.intensity",
    "Location": "wattprint.intensity",
    "Record": "wattprint.records",
    "RunInfo": "wattprint.records",
    "RunSummary": "wattprint.records",
    "Span": "wattprint.tracker",
    "Tracker": "wattprint.tracker",
    "track": "wattprint.tracker",
}

if TYPE_CHECKING:
    from .config import Config, load_config
    from .errors import ConfigError, LocationError, WattprintError
    from .intensity import Intensity, Location
    from .records import Record, RunInfo, RunSummary
    from .tracker import Span, Tracker, track


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'wattprint' has no attribute {name!r}")
    import sys

    __import__(module_name)  # importlib itself would add ~1 ms (it imports warnings)
    value = getattr(sys.modules[module_name], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext wattprint``: the ``%%wattprint`` and ``%wattprint`` magics (see
    :mod:`wattprint.integrations.jupyter`, loaded only now)."""
    from .integrations.jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from .integrations.jupyter import unload_ipython_extension as unload

    unload(ipython)
