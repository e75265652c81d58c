"""Integrations by name, their entry points, and what a missing framework says."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from wattprint.integrations import (
    BUILTIN_INTEGRATIONS,
    ENTRY_POINT_GROUP,
    MissingExtra,
    callback,
    callback_class,
)

# integration -> the modules that must be missing for it to be (Lightning has two packages)
BLOCKED = {"hf": ("transformers",),
           "lightning": ("lightning", "lightning.pytorch", "pytorch_lightning"),
           "keras": ("keras",)}


def test_every_builtin_is_declared_as_an_entry_point_of_the_installed_package():
    declared = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert {name: target for name, (target, _, _) in BUILTIN_INTEGRATIONS.items()} == {
        name: declared[name] for name in BUILTIN_INTEGRATIONS}


def test_a_callback_by_name_is_the_framework_callback(tracked):
    pytest.importorskip("lightning.pytorch")
    from lightning.pytorch import Callback

    made = callback("lightning", **tracked.settings)
    assert isinstance(made, Callback)
    assert callback_class("lightning") is type(made)


def test_an_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown integration 'hugging'.*hf, keras, lightning"):
        callback_class("hugging")


@pytest.mark.parametrize("name", sorted(BUILTIN_INTEGRATIONS))
def test_a_missing_framework_is_a_one_line_hint_naming_the_extra(monkeypatch, name):
    for module in BLOCKED[name]:
        monkeypatch.setitem(sys.modules, module, None)  # what an uninstalled package gives
    monkeypatch.delitem(sys.modules, f"wattprint.integrations.{name}", raising=False)
    with pytest.raises(MissingExtra) as raised:
        importlib.import_module(f"wattprint.integrations.{name}")
    message = str(raised.value)
    assert message.endswith(f"which is not installed: pip install 'wattprint[{name}]'")
    assert "\n" not in message and isinstance(raised.value, ImportError)
    assert raised.value.extra == name and raised.value.__suppress_context__


def test_the_hint_is_all_a_program_that_lacks_the_framework_prints(tmp_path):
    script = ("import sys; sys.modules['transformers'] = None\n"
              "from wattprint.integrations.hf import WattprintCallback\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert done.stderr.count("Traceback") == 1  # no chained ImportError above it
    assert done.stderr.strip().splitlines()[-1] == (
        "wattprint.integrations.MissingExtra: wattprint's Hugging Face integration needs "
        "transformers, which is not installed: pip install 'wattprint[hf]'")


def test_importing_wattprint_or_the_registry_imports_no_framework():
    code = ("import sys, wattprint, wattprint.integrations\n"
            "heavy = {'torch', 'transformers', 'lightning', 'keras', 'pytorch_lightning'}\n"
            "print(sorted(heavy & set(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"
