"""Sinks by name: the built-ins and the ``wattprint.sinks`` entry-point group."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from exporter_helpers import make_info, make_record

from wattprint.config import load_config
from wattprint.errors import ConfigError
from wattprint.sinks import make_sink, sink_names
from wattprint.sinks.csv import CsvSink
from wattprint.sinks.memory import MemorySink
from wattprint.sinks.registry import BUILTIN_SINKS, ENTRY_POINT_GROUP

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A third-party distribution, installed the way pip leaves one: a module and a dist-info."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "acme_sink.py").write_text(textwrap.dedent('''
        class AcmeSink:
            name = "acme"

            def __init__(self, project):
                self.project = project
                self.batches = []

            def export(self, batch):
                self.batches.append(list(batch))

            def close(self):
                pass


        def from_config(config):
            return AcmeSink(config.project)
    '''))
    dist = site / "acme_wattprint-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-wattprint\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nacme = acme_sink:from_config\n")
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("acme_sink", None)


def test_an_entry_point_sink_is_accepted_by_config_and_made(plugin, tmp_path):
    config = load_config({"sinks": "sqlite,acme", "project": "rocket"}, environ={}, cwd=tmp_path)
    assert config.sinks == ("sqlite", "acme")
    assert "acme" in sink_names() and sink_names()[:len(BUILTIN_SINKS)] == list(BUILTIN_SINKS)
    sink = make_sink("acme", config)
    assert type(sink).__name__ == "AcmeSink" and sink.project == "rocket"
    sink.export([make_info(), make_record(0)])
    assert len(sink.batches) == 1


def test_builtins_are_made_without_reading_package_metadata(tmp_path):
    config = load_config({"csv_path": str(tmp_path / "x.csv")}, environ={}, cwd=tmp_path)
    assert isinstance(make_sink("csv", config), CsvSink)
    assert make_sink("csv", config).path == tmp_path / "x.csv"
    assert isinstance(make_sink("memory", config), MemorySink)
    code = ("import sys; from wattprint.config import load_config; "
            "load_config({'sinks': 'sqlite,CSV,jsonl,memory'}, environ={}); "
            "print('importlib.metadata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_an_unknown_sink_says_what_is_close_and_what_is_known(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config({"sinks": "sqlite,jsnol"}, environ={}, cwd=tmp_path)
    message = str(err.value)
    assert "Unknown sink 'jsnol'" in message and "Did you mean jsonl?" in message
    assert "Known sinks: sqlite, csv, jsonl, memory, http" in message
    assert "'wattprint.sinks'" in message  # how to add one
    with pytest.raises(ConfigError, match="unknown sink 'nope'"):
        make_sink("nope", load_config(environ={}, cwd=tmp_path))


def test_pyproject_declares_the_builtins_in_the_entry_point_group():
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["entry-points"][ENTRY_POINT_GROUP] == BUILTIN_SINKS
