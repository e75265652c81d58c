"""Sink names -> factories: the built-ins, then the ``wattprint.sinks`` entry-point group.

The built-ins are also declared as entry points in ``pyproject.toml`` (so tools that list a
group see them), but they are resolved here without reading package metadata:
``importlib.metadata`` scans every installed distribution, which costs tens of milliseconds, so
it is consulted only when a name that is not built in is asked for. A built-in name cannot be
replaced by a plugin.
"""

from __future__ import annotations

import importlib

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from ..config import Config
    from . import Sink

__all__ = ["BUILTIN_SINKS", "ENTRY_POINT_GROUP", "is_sink_name", "make_sink", "sink_names",
           "unknown_sink_message"]

ENTRY_POINT_GROUP = "wattprint.sinks"

#: name -> "module:factory"; each factory takes the effective Config and returns a Sink.
BUILTIN_SINKS: dict[str, str] = {
    "sqlite": "wattprint.sinks.sqlite:from_config",
    "csv": "wattprint.sinks.csv:from_config",
    "jsonl": "wattprint.sinks.jsonl:from_config",
    "memory": "wattprint.sinks.memory:from_config",
    "http": "wattprint.sinks.http:from_config",
    "codecarbon-csv": "wattprint.sinks.codecarbon_csv:from_config",
    "log": "wattprint.sinks.logs:from_config",
    "prometheus": "wattprint.sinks.prometheus:from_config",  # extra prometheus
    "pushgateway": "wattprint.sinks.pushgateway:from_config",  # extra prometheus
    "otel": "wattprint.sinks.otel:from_config",  # extra otel
    "mlflow": "wattprint.integrations.mlflow:from_config",  # extra mlflow
}


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    found: dict[str, Any] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep)  # the first on sys.path wins, as for imports
    return found


def sink_names() -> list[str]:
    """Every sink name that can be configured: built-ins first, then installed plugins."""
    plugins = sorted(n for n in _entry_points() if n not in BUILTIN_SINKS)
    return [*BUILTIN_SINKS, *plugins]


def is_sink_name(name: str) -> bool:
    return name in BUILTIN_SINKS or name in _entry_points()


def unknown_sink_message(name: str) -> str:
    """Says ``name`` is no sink, what is close, what is known and how to add one."""
    import difflib

    known = sink_names()
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (f"unknown sink {name!r}.{hint} Known sinks: {', '.join(known)}. A package adds one "
            f"by declaring an entry point in the {ENTRY_POINT_GROUP!r} group.")


def make_sink(name: str, config: Config) -> Sink:
    """A new sink called ``name``, built by its factory from ``config``.

    Raises :class:`~wattprint.errors.ConfigError` for an unknown name; whatever the factory
    raises (a file it cannot open, a missing optional dependency) propagates.
    """
    factory: Callable[[Config], Sink]
    if name in BUILTIN_SINKS:
        module, _, attr = BUILTIN_SINKS[name].partition(":")
        factory = getattr(importlib.import_module(module), attr)
    else:
        ep = _entry_points().get(name)
        if ep is None:
            raise ConfigError(unknown_sink_message(name), key="sinks")
        factory = ep.load()
    return factory(config)
