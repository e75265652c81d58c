"""The advice package imports nothing until a submodule is asked for, and `import wattprint`
never loads it."""

from __future__ import annotations

import subprocess
import sys

import pytest


def modules_after(code: str) -> set[str]:
    probe = (f"import sys\n{code}\n"
             "print(','.join(sorted(m for m in sys.modules if m.startswith('wattprint'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    return set(done.stdout.strip().split(","))


def test_the_package_alone_loads_no_submodule_and_wattprint_does_not_load_it():
    base = modules_after("import wattprint")
    assert "wattprint.advice" not in base
    assert modules_after("import wattprint.advice") - base == {"wattprint.advice"}


def test_submodules_load_on_first_use_and_unknown_names_are_attribute_errors():
    import wattprint.advice as advice

    assert advice.where.rank_regions is not None  # loaded by the attribute access
    assert "wattprint.advice.where" in sys.modules
    with pytest.raises(AttributeError, match="no attribute 'nowhere'"):
        advice.nowhere  # noqa: B018
    with pytest.raises(AttributeError):
        advice._private  # noqa: B018
