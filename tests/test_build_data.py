"""The committed data tables: schema and sanity offline, and reproducibility from the raw files.

The sanity checks read the CSVs directly (not through the loaders), so a bad regeneration is
caught even where a loader would paper over it. The reproduction test needs the upstream files
in ``../shared/reference-data`` and is skipped where they are absent.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "wattprint"
INTENSITY = PACKAGE / "intensity" / "data"
SENSORS = PACKAGE / "sensors" / "data"
RAW = REPO.parent / "shared" / "reference-data"


def _tool() -> ModuleType:
    # tools/ is not a package; load the script by path, once.
    if "build_data" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "build_data", REPO / "tools" / "build_data.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["build_data"] = module
        spec.loader.exec_module(module)
    return sys.modules["build_data"]


def _rows(path: Path, header: list[str]) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == header, path.name
        rows = list(reader)
    assert rows, f"{path.name} is empty"
    return rows


def _iso2() -> set[str]:
    return {r["iso2"] for r in _rows(INTENSITY / "countries.csv", ["iso2", "iso3", "name"])}


# --- intensity tables ------------------------------------------------------------------------


ZONE_HEADER = [
    "zone",
    "country",
    "subdivision",
    "name",
    "g_per_kwh",
    "year",
    "basis",
    "scope",
    "gases",
    "source",
    "licence",
]


def test_zones_schema_ranges_and_provenance() -> None:
    rows = _rows(INTENSITY / "zones.csv", ZONE_HEADER)
    known = _iso2()
    ids = [r["zone"] for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for r in rows:
        assert 0 <= float(r["g_per_kwh"]) <= 1500, r
        assert re.fullmatch(r"\d+\.\d\d", r["g_per_kwh"]), r  # fixed two decimals
        assert 1990 <= int(r["year"]) <= 2030, r
        assert r["source"] and r["licence"] and r["name"], r
        assert r["basis"] == "generation" and r["scope"] == "lifecycle" and r["gases"] == "CO2e"
        if r["zone"] != "WORLD":
            assert re.fullmatch(r"[A-Z]{2}", r["country"]) and r["country"] in known, r
            assert r["zone"] == r["country"] or r["zone"].startswith(r["country"] + "-"), r
    assert len(rows) >= 200


def test_world_row_is_the_documented_generation_weighted_mean() -> None:
    world = {r["zone"]: r for r in _rows(INTENSITY / "zones.csv", ZONE_HEADER)}["WORLD"]
    assert world["country"] == "" and world["name"] == "World"
    assert world["g_per_kwh"] == "480.62"
    assert world["year"] == "2023"
    choices = json.loads((INTENSITY / "SOURCES.json").read_text())["tables"]["zones.csv"]["choices"]
    assert any("WORLD = sum(total_TWh x carbon_intensity)" in c for c in choices)


def test_countries_cover_iso3166() -> None:
    rows = _rows(INTENSITY / "countries.csv", ["iso2", "iso3", "name"])
    assert len(rows) == 249
    for r in rows:
        assert re.fullmatch(r"[A-Z]{2}", r["iso2"]) and r["name"], r
        assert r["iso3"] == "" or re.fullmatch(r"[A-Z]{3}", r["iso3"]), r
    by_code = {r["iso2"]: r for r in rows}
    assert by_code["FR"]["iso3"] == "FRA"
    assert by_code["NA"]["iso3"] == "NAM"  # Namibia's "NA" survives as a code, not a missing value


def test_aliases_and_timezones_point_at_known_countries() -> None:
    known = _iso2()
    aliases = _rows(INTENSITY / "country_aliases.csv", ["alias", "iso2", "source"])
    assert all(r["iso2"] in known and r["source"] for r in aliases)
    tz = {r["tz"]: r["iso2"] for r in _rows(INTENSITY / "timezones.csv", ["tz", "iso2"])}
    assert set(tz.values()) <= known
    assert tz["Europe/Paris"] == "FR" and tz["Asia/Calcutta"] == "IN"
    for not_a_place in ("UTC", "Etc/UTC", "Etc/GMT", "GMT", "CET", "EST5EDT"):
        assert not_a_place not in tz


def test_equivalents_carry_unit_source_and_year() -> None:
    rows = _rows(
        INTENSITY / "equivalents.csv", ["key", "value", "unit", "description", "source", "year"]
    )
    by_key = {r["key"]: r for r in rows}
    assert by_key["car_eu_km"]["value"] == "175" and by_key["car_us_km"]["value"] == "251"
    assert by_key["tree_year"]["value"] == "11000"
    for r in rows:
        assert float(r["value"]) > 0 and r["unit"].startswith("gCO2/")
        assert r["source"] and r["description"] and 1990 <= int(r["year"]) <= 2030, r


# --- hardware tables -------------------------------------------------------------------------


def test_cpu_tdp_rows_are_plausible_and_sourced() -> None:
    rows = _rows(SENSORS / "cpu_tdp.csv", ["name", "tdp_w", "cores", "threads", "source", "year"])
    assert len(rows) > 5000
    names = [r["name"] for r in rows]
    assert len(set(names)) == len(names)
    for r in rows:
        assert 1 <= float(r["tdp_w"]) <= 1000, r
        assert r["cores"] == "" or int(r["cores"]) >= 1, r
        assert r["source"] and 1990 <= int(r["year"]) <= 2030, r


def test_cpu_names_are_unique_under_the_lookup_key() -> None:
    from wattprint.sensors.hardware_data import normalize_cpu_name

    names = [
        r["name"]
        for r in _rows(
            SENSORS / "cpu_tdp.csv", ["name", "tdp_w", "cores", "threads", "source", "year"]
        )
    ]
    keys = [normalize_cpu_name(n) for n in names]
    assert len(set(keys)) == len(keys)
    assert all(any(c.isdigit() for c in k) for k in keys)  # no bare "Intel Xeon" row


def test_power_model_has_the_required_keys() -> None:
    rows = _rows(SENSORS / "power_model.csv", ["key", "value", "unit", "source", "year"])
    by_key = {r["key"]: r for r in rows}
    required = {
        "cpu_idle_fraction",
        "ram_w_per_gb",
        "vcpu_min_w",
        "vcpu_max_w",
        "default_cpu_tdp_w",
    }
    assert required <= set(by_key)
    for r in rows:
        assert r["source"] and r["unit"] and 1990 <= int(r["year"]) <= 2030, r
    assert 0 < float(by_key["cpu_idle_fraction"]["value"]) < 1
    assert "N=626" in by_key["cpu_idle_fraction"]["source"]
    assert float(by_key["ram_w_per_gb"]["value"]) == 0.3725
    assert 0 < float(by_key["vcpu_min_w"]["value"]) < float(by_key["vcpu_max_w"]["value"])
    assert float(by_key["default_cpu_tdp_w"]["value"]) == 125


# --- SOURCES.json and attribution ------------------------------------------------------------


@pytest.mark.parametrize("folder", [INTENSITY, SENSORS], ids=["intensity", "sensors"])
def test_sources_json_lists_every_data_file(folder: Path) -> None:
    doc = json.loads((folder / "SOURCES.json").read_text(encoding="utf-8"))
    data_files = {
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.name not in ("SOURCES.json", "ATTRIBUTION.md")
    }
    assert set(doc["tables"]) == data_files
    for name, entry in doc["tables"].items():
        with (folder / name).open(encoding="utf-8", newline="") as fh:
            assert entry["rows"] == sum(1 for _ in csv.reader(fh)) - 1, name
        assert entry["inputs"], name
        for source in entry["inputs"]:
            assert source["publisher"] and source["licence"] and source["vintage"], name
    attribution = (folder / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert all(name in attribution for name in data_files)


# --- the build itself ------------------------------------------------------------------------


def test_zone_rows_sort_and_refuse_duplicates_or_missing_provenance() -> None:
    tool = _tool()
    entry = tool.ZoneEntry(
        "US-CA",
        "US",
        "CA",
        "California",
        200.0,
        2023,
        "generation",
        "lifecycle",
        "CO2e",
        "someone",
        "CC0",
    )
    other = tool.ZoneEntry(
        "FR", "FR", "", "France", 41.444, 2025, "generation", "lifecycle", "CO2e", "someone", "CC0"
    )
    rows = tool.zone_rows([entry, other])
    assert [r[0] for r in rows] == ["FR", "US-CA"]
    assert rows[0][4] == "41.44" and rows[1][2] == "CA"
    with pytest.raises(ValueError, match="duplicate"):
        tool.zone_rows([entry, entry])
    with pytest.raises(ValueError, match="provenance"):
        tool.zone_rows([tool.ZoneEntry("XX", "XX", "", "X", 1.0, 2020, "", "", "", "", "")])


def test_tz_aliases_map_only_when_their_target_is_one_country(tmp_path: Path) -> None:
    tool = _tool()
    (tmp_path / "zone.tab").write_text(
        "# comment\nIN\t+2232+08822\tAsia/Kolkata\nDE\t+5230+01322\tEurope/Berlin\n"
        "SE\t+5920+01803\tEurope/Stockholm\n",
        encoding="utf-8",
    )
    (tmp_path / "tzdata.zi").write_text(
        "# version 2099a\nL Asia/Kolkata Asia/Calcutta\nL Europe/Berlin Europe/Stockholm\n"
        "L Europe/Berlin Atlantic/Jan_Mayen\nL Etc/UTC UTC\nL Etc/UTC Etc/Zulu\n"
        "L Europe/Brussels CET\n",
        encoding="utf-8",
    )
    mapping, canonical, aliases, skipped = tool.read_tz_countries(
        tool.TzData(tmp_path, "x", "test")
    )
    assert mapping == {
        "Asia/Kolkata": "IN",
        "Europe/Berlin": "DE",
        "Europe/Stockholm": "SE",
        "Asia/Calcutta": "IN",
    }
    assert (canonical, aliases, skipped) == (3, 1, ["Atlantic/Jan_Mayen"])


def test_truncated_tdp_rule() -> None:
    tool = _tool()
    assert tool._truncated(3.0, 3.5)  # CodeCarbon 3 W, eco2ai 3.5 W: a cut fraction
    assert not tool._truncated(3.0, 3.0)
    assert not tool._truncated(35.0, 65.0)
    assert not tool._truncated(2.17, 2.5)


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    tool = _tool()
    (tmp_path / "intensity/data").mkdir(parents=True)
    (tmp_path / "intensity/data/zones.csv").write_text("zone\nFR\n", encoding="utf-8")
    problems = tool.compare({"intensity/data/zones.csv": "zone\nDE\n"}, tmp_path)
    assert problems[0].startswith("stale: intensity/data/zones.csv (+1 -1 lines)")
    assert tool.compare({"intensity/data/zones.csv": "zone\nFR\n"}, tmp_path) == []
    assert (
        tool.compare({"intensity/data/x.csv": ""}, tmp_path)[0] == "missing: intensity/data/x.csv"
    )


@pytest.mark.skipif(not RAW.is_dir(), reason="upstream raw data (../shared/reference-data) absent")
def test_build_reproduces_the_committed_tables(tmp_path: Path) -> None:
    tool = _tool()
    recorded = json.loads((INTENSITY / "SOURCES.json").read_text(encoding="utf-8"))
    tz_version = recorded["tables"]["timezones.csv"]["tz_version"]
    if tool.find_tzdata().version != tz_version:
        pytest.skip(
            f"installed tz database differs from the one the tables were built with ({tz_version})"
        )
    lines: list[str] = []
    assert tool.main(["--raw-dir", str(RAW), "--out-root", str(tmp_path)], echo=lines.append) == 0
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(built) == 11
    for rel in built:
        assert (tmp_path / rel).read_bytes() == (PACKAGE / rel).read_bytes(), f"{rel} is stale"
    assert tool.main(["--raw-dir", str(RAW), "--check"], echo=lines.append) == 0


def test_tz_aliases_respect_zone1970_coverage_in_a_backzone_build(tmp_path: Path) -> None:
    # With backzone, Africa/Asmara is its own zone, yet Africa/Asmera still links to Nairobi;
    # zone1970.tab says Nairobi's zone covers several countries, so Asmera stays unmapped.
    tool = _tool()
    (tmp_path / "zone.tab").write_text(
        "KE\t-0117+03649\tAfrica/Nairobi\nER\t+1520+03853\tAfrica/Asmara\n"
        "IN\t+2232+08822\tAsia/Kolkata\n",
        encoding="utf-8",
    )
    (tmp_path / "zone1970.tab").write_text(
        "KE,DJ,ER\t-0117+03649\tAfrica/Nairobi\nIN\t+2232+08822\tAsia/Kolkata\n",
        encoding="utf-8",
    )
    (tmp_path / "tzdata.zi").write_text(
        "L Africa/Nairobi Africa/Asmera\nL Asia/Kolkata Asia/Calcutta\n", encoding="utf-8"
    )
    mapping, _, aliases, skipped = tool.read_tz_countries(tool.TzData(tmp_path, "x", "test"))
    assert "Africa/Asmera" not in mapping and mapping["Asia/Calcutta"] == "IN"
    assert (aliases, skipped) == (1, ["Africa/Asmera"])
