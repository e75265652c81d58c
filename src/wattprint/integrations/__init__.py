"""Framework integrations: callbacks that track a training run from inside the framework.

    from wattprint.integrations.hf import WattprintCallback         # pip install 'wattprint[hf]'
    from wattprint.integrations.lightning import WattprintCallback  # 'wattprint[lightning]'
    from wattprint.integrations.keras import WattprintCallback      # 'wattprint[keras]'

or by name: ``wattprint.integrations.callback("hf", project="bert")``. Each module imports its
framework when it is imported, never before (``import wattprint`` imports none of this); a
framework that is not installed is a :class:`MissingExtra` naming the extra to install. What
the three share lives in :mod:`wattprint.integrations._common`.

Integrations are registered in the ``wattprint.integrations`` entry-point group (name ->
callback class); the built-ins resolve without reading package metadata, as sinks do.
"""

from __future__ import annotations

import importlib

from ..errors import WattprintError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BUILTIN_INTEGRATIONS", "ENTRY_POINT_GROUP", "MissingExtra", "callback",
           "callback_class", "require"]

ENTRY_POINT_GROUP = "wattprint.integrations"

#: name -> (module:class, the framework's import name, the extra that installs it)
BUILTIN_INTEGRATIONS: dict[str, tuple[str, str, str]] = {
    "hf": ("wattprint.integrations.hf:WattprintCallback", "transformers", "hf"),
    "lightning": ("wattprint.integrations.lightning:WattprintCallback", "lightning", "lightning"),
    "keras": ("wattprint.integrations.keras:WattprintCallback", "keras", "keras"),
}


class MissingExtra(WattprintError, ImportError):
    """An integration's framework is not installed; the message names the extra to install."""

    def __init__(self, integration: str, module: str, extra: str) -> None:
        super().__init__(f"wattprint's {integration} integration needs {module}, which is not "
                         f"installed: pip install 'wattprint[{extra}]'", name=module)
        self.extra = extra


def require(module: str, *, integration: str, extra: str) -> Any:
    """Import ``module`` for an integration, or raise :class:`MissingExtra` saying what to
    install (a one-line message, without the import machinery's chained traceback)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the framework is there but broken: its own error says more
        raise MissingExtra(integration, module, extra) from None


def callback_class(name: str) -> type:
    """The callback class registered as ``name`` (a built-in, else an entry point)."""
    if name in BUILTIN_INTEGRATIONS:
        target = BUILTIN_INTEGRATIONS[name][0]
    else:
        from importlib.metadata import entry_points

        found = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
        if name not in found:
            known = sorted({*BUILTIN_INTEGRATIONS, *found})
            raise ValueError(f"unknown integration {name!r}; known: {', '.join(known)}. A "
                             f"package adds one in the {ENTRY_POINT_GROUP!r} entry-point group.")
        target = found[name].value
    module, _, attr = target.partition(":")
    cls: type = getattr(importlib.import_module(module), attr)
    return cls


def callback(name: str, **settings: Any) -> Any:
    """A new callback of integration ``name``: ``callback("keras", project="cnn")``."""
    return callback_class(name)(**settings)
