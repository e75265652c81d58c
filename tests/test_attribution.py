"""Every bundled number is credited, under the terms of whoever published it.

The registry (tools/build_data/sources.py) is the one source of truth; these tests hold the
committed tables, their SOURCES.json and every ATTRIBUTION.md to it, over every CSV under
src/wattprint/**/data/ (a new table or column named ``source`` / ``*_source`` / ``licence`` is
covered without touching this file), and check that the wheel ships them.
"""

from __future__ import annotations

import importlib
import importlib.resources
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from build_tools import build_module

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "wattprint"


def _tool(module: str) -> ModuleType:
    return build_module(module)


attribution = _tool("attribution")
sources = _tool("sources")
Table = _tool("common").Table


def _committed() -> list:
    return attribution.committed_tables(PACKAGE)


def _shipped(rel: str) -> str:
    """A file as the installed package exposes it."""
    return (importlib.resources.files("wattprint") / rel).read_text(encoding="utf-8")


def _table(path: str, header: tuple[str, ...], rows: list[tuple[str, ...]], inputs=None):
    return Table(path=path, header=header, rows=rows, description="test table", inputs=inputs or [])


CODECARBON_INPUT = {
    "publisher": "CodeCarbon",
    "dataset": "cpu_power.csv",
    "vintage": "CodeCarbon 3.3.2",
    "licence": "MIT",
    "url": "https://github.com/mlco2/codecarbon",
    "raw_file": "hardware/codecarbon_cpu_power.csv",
}


# --- the committed tables ------------------------------------------------------------------


def test_the_registry_is_consistent() -> None:
    assert sources.upstream_problems() == []
    assert {u.licence for u in sources.UPSTREAMS} <= set(sources.LICENCES)


def test_every_bundled_csv_is_described_and_scanned() -> None:
    on_disk = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.glob("**/data/*.csv")}
    assert on_disk, "no bundled tables found"
    assert {t.path for t in _committed()} == on_disk


def test_every_row_and_input_names_a_registered_source_and_its_licence() -> None:
    usage = attribution.scan(_committed())
    assert sorted(usage.problems) == []
    # the scan looked at real cells: the big families are all found where they are used
    assert "codecarbon" in usage.by_table["sensors/data/cpu_tdp.csv"]
    assert {"ember-owid", "egrid", "mee-china", "entsoe", "codecarbon"} <= usage.by_table[
        "intensity/data/zones.csv"
    ]
    assert usage.by_table["intensity/data/gcp_region_intensity.csv"] >= {"google-region-carbon"}


def test_committed_attribution_files_are_what_the_registry_renders() -> None:
    expected = attribution.attribution_files(_committed())
    assert set(expected) == {
        "ATTRIBUTION.md",
        "intensity/data/ATTRIBUTION.md",
        "sensors/data/ATTRIBUTION.md",
    }
    for rel, text in expected.items():
        assert (PACKAGE / rel).read_text(encoding="utf-8") == text, (
            f"{rel} is stale: run python tools/build_data.py --attribution"
        )
    assert (REPO / "ATTRIBUTION.md").read_text(encoding="utf-8") == expected["ATTRIBUTION.md"]


def test_shipped_attribution_credits_every_source_with_its_licence_and_notice() -> None:
    usage = attribution.scan(_committed())
    whole = _shipped("ATTRIBUTION.md")
    for upstream in usage.used():
        lic = sources.LICENCES[upstream.licence]
        for rel in [*usage.tables_of(upstream.key), "ATTRIBUTION.md"]:
            folder_file = rel if rel == "ATTRIBUTION.md" else f"{Path(rel).parent}/ATTRIBUTION.md"
            text = _shipped(folder_file)
            assert f"### {upstream.title}\n" in text, (upstream.key, folder_file)
            assert upstream.creator in text and upstream.dataset in text, upstream.key
            assert (f"<{upstream.url}>" in text) if upstream.url else True, upstream.key
            assert lic.name in text and (f"({lic.url})" in text if lic.url else True), lic.key
            assert upstream.notice.rstrip("\n") in text, (upstream.key, folder_file)
        assert upstream.changes in whole, upstream.key


def test_the_notices_the_licences_require_are_there_word_for_word() -> None:
    whole = _shipped("ATTRIBUTION.md")
    # CodeCarbon (MIT): both copyright lines of its LICENSE, then the permission notice
    assert (
        "Copyright (c) 2019 Mila, BCG Gamma, CometML, Haverford College\n"
        "Copyright (c) 2023 Code Carbon NGO\n\n"
        "Permission is hereby granted, free of charge, to any person obtaining a copy\n"
    ) in whole
    assert "The above copyright notice and this permission notice shall be included in all\n" in whole
    # CC BY 4.0: the licence link, with creator, title, source and changes per source
    assert "(https://creativecommons.org/licenses/by/4.0/)" in whole
    assert "- Creator: Loïc Lannelongue, Jason Grealey and Michael Inouye" in whole
    # ENTSO-E: its terms, linked, and the source credit they ask for
    assert "transparency.entsoe.eu/content/static_content/Static%20content/terms" in whole
    assert "Source: ENTSO-E Transparency Platform" in whole
    # Apache-2.0: CCF's NOTICE and eco2ai's copyright line; the licence text ships as LICENSE
    assert "Cloud Carbon Footprint\n© 2021 Thoughtworks, Inc." in whole
    assert "Copyright (c) Vladimir Lazarev, Nikita Zakharenko, Semyon Budyonny" in whole
    assert (REPO / "LICENSE").read_text(encoding="utf-8").lstrip().startswith("Apache License")
    assert "SPEC and SPECpower_ssj2008 are trademarks" in whole


# --- the checks can fail -------------------------------------------------------------------


def test_a_row_that_loses_its_source_or_licence_is_refused() -> None:
    header = ("name", "source", "licence")
    table = _table(
        "sensors/data/x.csv",
        header,
        [("a", "", "MIT"), ("b", "CodeCarbon 3.3.2 cpu_power.csv", "")],
        [CODECARBON_INPUT],
    )
    problems = sorted(attribution.scan([table]).problems)
    assert problems == [
        "sensors/data/x.csv line 2: empty source",
        "sensors/data/x.csv line 3: empty licence",
    ]
    with pytest.raises(ValueError, match="2 attribution problem"):
        attribution.attribution_files([table])


def test_a_source_or_licence_missing_from_the_registry_is_refused() -> None:
    header = ("name", "source", "licence")
    table = _table(
        "intensity/data/y.csv",
        header,
        [
            ("a", "Electricity Maps 2024 yearly data", "ODbL"),  # unregistered source
            ("b", "CodeCarbon 3.3.2 cpu_power.csv", "CC BY-SA 4.0"),  # not CodeCarbon's licence
            ("c", "CodeCarbon 3.3.2 cpu_power.csv", "MIT"),  # fine
        ],
        [{**CODECARBON_INPUT, "publisher": "Acme Data", "url": "https://acme.example/"}],
    )
    problems = sorted(attribution.scan([table]).problems)
    assert len(problems) == 3, problems
    assert "'Electricity Maps 2024 yearly data' names no source registered" in problems[2]
    assert "'CC BY-SA 4.0' is not the registered licence of its source (MIT)" in problems[1]
    assert problems[0].startswith("intensity/data/y.csv: SOURCES.json input 'Acme Data' names no")


def test_an_input_whose_licence_is_not_its_sources_is_refused() -> None:
    table = _table(
        "sensors/data/z.csv", ("name",), [("a",)], [{**CODECARBON_INPUT, "licence": "GPL-3.0"}]
    )
    assert sorted(attribution.scan([table]).problems) == [
        "sensors/data/z.csv: SOURCES.json input 'CodeCarbon': licence 'GPL-3.0' is not its "
        "registered licence"
    ]


def test_a_qualified_source_column_may_be_empty_only_with_its_value() -> None:
    header = ("cloud", "pue", "source", "wue_l_per_kwh", "wue_year", "wue_source")
    ga = "Green Algorithms defaults_PUE.csv"
    table = _table(
        "intensity/data/pue.csv",
        header,
        [
            ("aws", "1.2", ga, "", "", ""),  # no WUE: no WUE source needed
            ("gcp", "1.1", ga, "0.9", "2024", ""),  # a WUE value without its source
        ],
    )
    assert sorted(attribution.scan([table]).problems) == [
        "intensity/data/pue.csv line 3: empty wue_source"
    ]


def test_a_new_table_is_credited_in_its_folders_file_and_the_packages() -> None:
    # e.g. the Australian rows from NGA 2024 landing in a new table of a new folder
    nga = "DCCEEW, National Greenhouse Accounts Factors 2024, table 1 (scope 2 + scope 3)"
    table = _table("advice/data/au.csv", ("zone", "source", "licence"), [("AU-NSW", nga, "CC BY 4.0")])
    cpu = _table("sensors/data/cpu.csv", ("name", "source"), [("i7", "CodeCarbon cpu_power.csv")])
    files = attribution.attribution_files([table, cpu])
    assert set(files) == {"advice/data/ATTRIBUTION.md", "sensors/data/ATTRIBUTION.md", "ATTRIBUTION.md"}
    for rel in ("advice/data/ATTRIBUTION.md", "ATTRIBUTION.md"):
        text = files[rel]
        assert "### Australian National Greenhouse Accounts Factors 2024\n" in text
        assert "- Used in: `advice/data/au.csv`" in text
        assert "(https://creativecommons.org/licenses/by/4.0/)" in text
    assert "National Greenhouse Accounts" not in files["sensors/data/ATTRIBUTION.md"]
    assert "Copyright (c) 2023 Code Carbon NGO" in files["sensors/data/ATTRIBUTION.md"]
    assert "Code Carbon NGO" not in files["advice/data/ATTRIBUTION.md"]
    # a source no table names is not listed, so nothing is credited for what is not shipped
    assert "experiment-impact-tracker" not in files["ATTRIBUTION.md"]


def test_the_attribution_command_rewrites_only_the_attribution_files(tmp_path: Path) -> None:
    root = tmp_path / "wattprint"
    shutil.copytree(PACKAGE / "intensity" / "data", root / "intensity" / "data")
    shutil.copytree(PACKAGE / "sensors" / "data", root / "sensors" / "data")
    (root / "sensors" / "data" / "ATTRIBUTION.md").write_text("stale\n", encoding="utf-8")
    driver = _tool("driver")
    lines: list[str] = []
    check = ["--out-root", str(root), "--attribution", "--check"]
    assert driver.main(check, echo=lines.append) == 1
    assert any(line.startswith("stale: sensors/data/ATTRIBUTION.md") for line in lines)
    assert any(line.startswith("missing: ATTRIBUTION.md") for line in lines)
    assert driver.main(["--out-root", str(root), "--attribution"], echo=lines.append) == 0
    assert driver.main(check, echo=lines.append) == 0
    assert (root / "ATTRIBUTION.md").read_bytes() == (PACKAGE / "ATTRIBUTION.md").read_bytes()
    assert not (tmp_path / "ATTRIBUTION.md").exists()  # the root copy is this checkout's only


# --- the wheel -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_wheel_ships_every_table_its_attribution_and_the_licence_files(tmp_path: Path) -> None:
    # A copy of what the build reads, so the build leaves nothing in the shared checkout.
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "ATTRIBUTION.md"):
        shutil.copy2(REPO / name, tree / name)
    shutil.copytree(PACKAGE, tree / "src" / "wattprint", ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
         str(tree)],
        capture_output=True, text=True, timeout=120,
    )
    if done.returncode and "setuptools" in done.stderr and "satisfies the requirement" in done.stderr:
        pytest.skip("the build backend (setuptools>=77) cannot be installed offline here")
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("wattprint-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        wanted = [p for p in PACKAGE.glob("**/data/*") if p.is_file()] + [PACKAGE / "ATTRIBUTION.md"]
        for path in wanted:
            arc = "wattprint/" + path.relative_to(PACKAGE).as_posix()
            assert arc in names, arc
            assert zf.read(arc) == path.read_bytes(), arc
        licences = {n.rsplit("/", 1)[-1] for n in names if ".dist-info/licenses/" in n}
        assert licences == {"LICENSE", "ATTRIBUTION.md"}


# --- vendored code -------------------------------------------------------------------------

VENDOR_FOLDERS = (PACKAGE / "server" / "dashboard" / "static", REPO / "tests" / "dashboard" / "vendor")
VERSIONED = re.compile(r"-\d+\.\d+\.\d+[.-]")  # uplot-1.6.32.min.js, axe-core-4.14.1.LICENSE


def test_every_vendored_file_is_credited_with_its_licence_text_beside_it() -> None:
    on_disk = {
        p.relative_to(REPO).as_posix()
        for folder in VENDOR_FOLDERS
        for p in folder.iterdir()
        if p.is_file() and VERSIONED.search(p.name)
    }
    assert on_disk, "no vendored files found"
    listed = {f for v in sources.VENDORED for f in v.files}
    assert on_disk == listed  # nothing vendored uncredited, nothing credited that is gone
    whole = _shipped("ATTRIBUTION.md")
    assert (REPO / "ATTRIBUTION.md").read_text(encoding="utf-8") == whole
    for v in sources.VENDORED:
        lic = sources.LICENCES[v.licence]
        assert any(f.endswith(".LICENSE") for f in v.files), v.title
        assert f"### {v.title}\n" in whole and v.creator in whole and f"<{v.url}>" in whole
        assert f"[{lic.name}]({lic.url})" in whole and v.complies in whole
        assert all(f"`{f}`" in whole for f in v.files), v.title


def _words(text: str) -> list[str]:
    return text.split()


def test_uplots_notice_is_its_licence_files_word_for_word() -> None:
    [uplot] = [v for v in sources.VENDORED if v.title.startswith("uPlot")]
    licence = (REPO / f"{sources.UPLOT_STATIC}.LICENSE").read_text(encoding="utf-8")
    after_title = licence.split("\n", 1)[1]  # "The MIT License (MIT)" vs "MIT License"
    assert _words(uplot.notice.split("\n", 1)[1]) == _words(after_title)
    assert uplot.notice.rstrip("\n") in _shipped("ATTRIBUTION.md")
    # the MPL text beside axe-core is the licence itself
    axe = (REPO / f"{sources.AXE_VENDOR}.LICENSE").read_text(encoding="utf-8")
    assert axe.startswith("Mozilla Public License, version 2.0")
