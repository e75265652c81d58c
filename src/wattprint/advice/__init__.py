"""Advice that lowers emissions: where a run could have gone, what it wasted, and (in sibling
modules) when to start, how much a run will cost, and reports.

One module per question, each importable on its own:

- :mod:`~wattprint.advice.where`: regions ranked by what a run's energy would emit there
  (``rank_regions``, ``where_advice``), on the lifecycle-comparable basis.
- :mod:`~wattprint.advice.waste`: what a stored run wasted, from its own records
  (``waste_report``): idle accelerators, a GPU waiting on the CPU, machine-scope energy other
  processes used, and the saving each change would bring.

Nothing is imported here: ``import wattprint.advice`` stays as light as ``import wattprint``.
A submodule is loaded on first use, so ``wattprint.advice.where`` works after importing only
the package.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType

__all__: list[str] = []


def __getattr__(name: str) -> ModuleType:
    # Submodules on demand (PEP 562), so the package itself imports nothing.
    if name.startswith("_"):
        raise AttributeError(name)
    import importlib

    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{name}":
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
