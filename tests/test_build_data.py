"""The committed data tables: schema and sanity offline, and reproducibility from the raw files.

The sanity checks read the CSVs directly (not through the loaders), so a bad regeneration is
caught even where a loader would paper over it. The reproduction test needs the upstream files
in ``../shared/reference-data`` and is skipped where they are absent.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from build_tools import build_module

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "src" / "wattprint"
INTENSITY = PACKAGE / "intensity" / "data"
SENSORS = PACKAGE / "sensors" / "data"
RAW = REPO.parent / "shared" / "reference-data"


def _tool(module: str) -> ModuleType:
    return build_module(module)


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
    "comparable_g_per_kwh",
    "comparable_method",
    "stale",
    "flag",
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
        assert r["basis"] in ("generation", "consumption"), r
        assert r["scope"] in ("lifecycle", "direct", "direct+upstream"), r
        assert r["gases"] in ("CO2e", "CO2"), r
        if r["zone"] != "WORLD":
            assert re.fullmatch(r"[A-Z]{2}", r["country"]) and r["country"] in known, r
            if r["subdivision"]:
                assert r["zone"] == f"{r['country']}-{r['subdivision']}", r
            else:
                assert r["zone"] == r["country"], r
    assert len(rows) >= 300


def test_zone_labels_follow_each_source() -> None:
    rows = _rows(INTENSITY / "zones.csv", ZONE_HEADER)
    countries = [r for r in rows if not r["subdivision"]]
    assert all(
        (r["basis"], r["scope"], r["gases"]) == ("generation", "lifecycle", "CO2e")
        for r in countries
    )
    labels = {
        r["zone"]: (r["basis"], r["scope"], r["gases"], r["year"]) for r in rows if r["subdivision"]
    }
    assert labels["US-CA"] == ("generation", "direct", "CO2e", "2023")  # eGRID: combustion only
    assert labels["CN-BJ"] == ("consumption", "direct", "CO2", "2023")  # MEE: CO2 only
    assert labels["SE-SE3"] == ("generation", "lifecycle", "CO2e", "2025")
    assert labels["CA-QC"] == ("generation", "direct", "CO2e", "2019")
    assert labels["AU-NSW"] == ("consumption", "direct+upstream", "CO2e", "2024")  # NGA 2024
    by_country: dict[str, int] = {}
    for zone in labels:
        by_country[zone[:2]] = by_country.get(zone[:2], 0) + 1
    assert by_country == {"US": 51, "CA": 13, "AU": 8, "CN": 30, "SE": 4, "NO": 5}
    choices = json.loads((INTENSITY / "SOURCES.json").read_text())["tables"]["zones.csv"]["choices"]
    assert any("scope=direct" in c and "eGRID" in c for c in choices)
    assert any("gases=CO2" in c and "Chinese provinces" in c for c in choices)
    assert any(c.startswith("Skipped eco2ai") and "Russia 83" in c for c in choices)


def test_subdivisions_name_every_subnational_zone() -> None:
    rows = _rows(INTENSITY / "subdivisions.csv", ["country", "code", "name", "aliases"])
    zones = {r["zone"] for r in _rows(INTENSITY / "zones.csv", ZONE_HEADER) if r["subdivision"]}
    assert {f"{r['country']}-{r['code']}" for r in rows} == zones
    by_id = {(r["country"], r["code"]): r for r in rows}
    assert by_id[("US", "CA")]["name"] == "California"
    assert by_id[("CA", "QC")]["name"] == "Quebec"
    assert by_id[("CA", "MB")]["name"] == "Manitoba"  # Green Algorithms' CA-MT, fixed
    assert by_id[("SE", "SE1")]["name"] == "Luleå / North Sweden"
    assert "Nei Mongol" in by_id[("CN", "NM")]["aliases"].split(";")


def test_cloud_regions_resolve_to_zones() -> None:
    header = ["cloud", "region", "name", "country", "subdivision", "zone", "lat", "lon", "source"]
    rows = _rows(INTENSITY / "cloud_regions.csv", header)
    zones = {r["zone"]: r for r in _rows(INTENSITY / "zones.csv", ZONE_HEADER)}
    keys = [(r["cloud"], r["region"]) for r in rows]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    for r in rows:
        assert r["zone"] in zones, r
        expected = f"{r['country']}-{r['subdivision']}" if r["subdivision"] else r["country"]
        assert r["zone"] == expected, r
        assert r["source"].startswith("https://") and r["name"], r
        if r["lat"]:
            assert -90 <= float(r["lat"]) <= 90 and -180 <= float(r["lon"]) <= 180, r
    counts = {c: sum(1 for k in keys if k[0] == c) for c in {k[0] for k in keys}}
    assert counts == {"aws": 34, "gcp": 44, "azure": 58, "oci": 33, "ovhcloud": 11, "scaleway": 3}


def test_gcp_region_intensity_keeps_googles_labels() -> None:
    header = ["region", "year", "g_per_kwh", "cfe_share", "basis", "scope", "gases",
              "comparable_g_per_kwh", "comparable_method", "stale", "source", "licence"]
    rows = _rows(INTENSITY / "gcp_region_intensity.csv", header)
    assert {r["year"] for r in rows} == {str(y) for y in range(2019, 2025)}
    for r in rows:
        assert 0 <= float(r["g_per_kwh"]) <= 1500 and r["licence"] == "Apache-2.0", r
        assert r["cfe_share"] == "" or 0 <= float(r["cfe_share"]) <= 1, r
        lifecycle = "'Lifecycle grid carbon intensity" in r["source"]
        assert lifecycle == (r["year"] in ("2019", "2020")), r
        # Google's own label decides the scope; from 2021 its figure is operational (direct).
        assert (r["basis"], r["scope"], r["gases"]) == (
            "consumption", "lifecycle" if lifecycle else "direct", "CO2e"), r
        if lifecycle:
            assert (r["comparable_g_per_kwh"], r["comparable_method"]) == (
                r["g_per_kwh"], "native lifecycle"), r
        else:  # converted upwards by a stated factor, never left as a direct figure
            assert float(r["comparable_g_per_kwh"]) >= float(r["g_per_kwh"]), r
            assert r["comparable_method"].startswith("direct x "), r
        assert r["stale"] in ("true", "false"), r
    by_key = {(r["region"], r["year"]): r for r in rows}
    assert by_key[("asia-east1", "2019")]["g_per_kwh"] == "541.00"
    assert by_key[("asia-east2", "2019")]["cfe_share"] == ""  # unpublished, not zero
    assert by_key[("europe-west9", "2024")]["g_per_kwh"] == "16.30"


def test_cloud_pue_rows_carry_sources() -> None:
    header = ["cloud", "region", "pue", "wue_l_per_kwh", "year", "source", "wue_year", "wue_source"]
    rows = _rows(INTENSITY / "cloud_pue.csv", header)
    by_key = {(r["cloud"], r["region"]): r for r in rows}
    assert by_key[("*", "*")]["pue"] == "1.56" and by_key[("*", "*")]["year"] == "2024"
    assert by_key[("aws", "*")]["pue"] == "1.2" and by_key[("oci", "*")]["pue"] == "1.2"
    assert by_key[("gcp", "us-west1")]["pue"] == "1.11"
    assert by_key[("gcp", "us-west1")]["year"] == "2020"
    for r in rows:
        assert 1 <= float(r["pue"]) < 2 and r["source"] and 2015 <= int(r["year"]) <= 2030, r
        assert bool(r["wue_l_per_kwh"]) == bool(r["wue_year"]) == bool(r["wue_source"]), r
    assert {k for k, r in by_key.items() if r["wue_l_per_kwh"]} == {("aws", "*"), ("azure", "*")}


def test_embodied_defaults_are_derived_from_ccf() -> None:
    header = ["kind", "kg_co2e", "lifetime_years", "unit", "source", "year"]
    by_kind = {r["kind"]: r for r in _rows(INTENSITY / "embodied.csv", header)}
    assert {k: by_kind[k]["kg_co2e"] for k in by_kind} == {
        "cpu_socket": "100",
        "gpu": "150",
        "hdd": "50",
        "memory_gb": "1.388",
        "server": "1719.11",
        "server_base": "1000",
        "ssd": "100",
    }
    assert all(r["lifetime_years"] == "4" and r["year"] == "2021" for r in by_kind.values())
    assert "p4d.24xlarge 1200/8" in by_kind["gpu"]["source"]


def test_world_row_is_the_documented_generation_weighted_mean() -> None:
    world = {r["zone"]: r for r in _rows(INTENSITY / "zones.csv", ZONE_HEADER)}["WORLD"]
    assert world["country"] == "" and world["name"] == "World"
    # Over the country rows the table ships (issue 9: 455, where the mix file's own older
    # values gave 480.62); the comparable mean differs where a row is flagged.
    assert world["g_per_kwh"] == "454.86" and world["comparable_g_per_kwh"] == "452.40"
    assert world["year"] == "2025" and world["stale"] == "false"
    assert "this table's 212 country rows" in world["source"]
    choices = json.loads((INTENSITY / "SOURCES.json").read_text())["tables"]["zones.csv"]["choices"]
    assert any("WORLD = sum(total_TWh x value)" in c for c in choices)


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


CPU_HEADER = ["name", "tdp_w", "cores", "threads", "source", "year"]


def test_cpu_tdp_rows_are_plausible_and_sourced() -> None:
    rows = _rows(SENSORS / "cpu_tdp.csv", CPU_HEADER)
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
    # No bare "Intel Xeon" row: only chips their makers name without a number have none.
    bare = sorted(k for k in keys if not any(c.isdigit() for c in k))
    assert bare == ["google axion", "nvidia grace"]


# Base power per socket, never the turbo limit (Intel ARK: Processor Base Power).
NAMED_BASE_POWER_W = {
    "Intel Core i9-12900K": 125.0,  # inputs: 125 W and 241 W (Maximum Turbo Power)
    "Intel Core i9-12900KF": 125.0,  # input: 241 W; aligned with its twin
    "Intel Core i7-12700K": 125.0,  # inputs: 190 W, 190 W
    "Intel Core i7-12700KF": 125.0,
    "Intel Core i5-12600K": 125.0,  # input: 150 W
    "Intel Core i5-1335U": 15.0,  # inputs: 55 W and 15 W
    "Intel Core i7-1270P": 28.0,  # inputs: 64 W and 28 W
    "Intel Core i5-1240U": 9.0,  # input: 29 W, the 9 W parts' turbo limit
    "Intel Core i5-12400T": 35.0,  # input: 74 W
    "Intel Core i3-12100": 60.0,  # within bound: kept, although its F twin has 58 W
    "Intel Core i3-12100F": 58.0,
    "Intel Core i9-13900K": 125.0,
    "Intel Core Ultra 9 285K": 125.0,
}


def test_cpu_tdp_is_base_power_not_turbo() -> None:
    rows = {r["name"]: r for r in _rows(SENSORS / "cpu_tdp.csv", CPU_HEADER)}
    assert {n: float(rows[n]["tdp_w"]) for n in NAMED_BASE_POWER_W} == NAMED_BASE_POWER_W
    tool = _tool("cpu_base_power")
    from wattprint.sensors.hardware_data import normalize_cpu_name

    over = [n for n, r in rows.items() if tool.is_turbo(normalize_cpu_name(n), float(r["tdp_w"]))]
    assert over == []
    doc = json.loads((SENSORS / "SOURCES.json").read_text(encoding="utf-8"))["tables"]
    entry = doc["cpu_tdp.csv"]
    assert "Never a turbo limit" in entry["power_definition"]
    assert "Processor Base Power" in entry["power_definition"]
    fixes = entry["base_power_corrections"]
    assert "Intel Core i5-1335U: 55 W -> 15 W" in " ".join(fixes)
    assert sum(entry["base_power_corrections_by_reason"].values()) == len(fixes) >= 10


def test_cloud_and_arm_cpus_have_power_threads_and_a_source() -> None:
    rows = {r["name"]: r for r in _rows(SENSORS / "cpu_tdp.csv", CPU_HEADER)}
    for name in (
        "AWS Graviton2", "AWS Graviton3", "AWS Graviton4", "Ampere Altra Q80-30", "NVIDIA Grace",
        "Google Axion", "Microsoft Azure Cobalt 100", "AMD EPYC 7B13", "AMD EPYC 9R14",
        "Intel Xeon Platinum 8488C",
    ):
        r = rows[name]
        assert float(r["tdp_w"]) > 0 and int(r["threads"]) >= int(r["cores"]) >= 1, r
        assert r["source"].startswith("wattprint curated") and "https://" in r["source"], r
    # No public TDP: the row says which public part it is taken from.
    assert "EPYC 9654" in rows["AMD EPYC 9R14"]["source"]
    assert "Xeon Platinum 8468" in rows["Intel Xeon Platinum 8488C"]["source"]


def test_threads_are_the_core_count_or_twice_it() -> None:
    rows = _rows(SENSORS / "cpu_tdp.csv", CPU_HEADER)
    with_threads = [r for r in rows if r["threads"]]
    assert len(with_threads) >= 200
    for r in with_threads:
        threads = int(r["threads"])
        # Each row says where its thread count came from (a curated row's columns are its own).
        assert "threads" in r["source"] or r["source"].startswith("wattprint curated"), r
        if r["cores"]:
            assert threads in (int(r["cores"]), 2 * int(r["cores"])), r


@pytest.mark.parametrize(
    ("key", "segment", "turbo"),
    [
        ("intel core i9-12900k", "k", 241.0),
        ("intel core i5-1335u", "u", 55.0),
        ("intel core ultra 7 155h", "h", 115.0),
        ("intel core 5 120u", "u", 55.0),
        ("intel core i3-12100f", "f", 89.0),
    ],
)
def test_base_power_segments(key: str, segment: str, turbo: float) -> None:
    tool = _tool("cpu_base_power")
    assert tool.segment(key) == segment
    assert tool.is_turbo(key, turbo) and not tool.is_turbo(key, tool.MAX_BASE_W[segment])


def test_base_power_rule_leaves_older_and_other_parts_alone() -> None:
    tool = _tool("cpu_base_power")
    # 11th gen and earlier published a TDP, and AMD and Xeon parts are not in Intel's segments.
    for key in ("intel core i7-1165g7", "intel core i9-11900k", "amd ryzen 9 7950x",
                "intel xeon w9-3495x", "intel core i7-8559u"):
        assert tool.segment(key) is None and not tool.is_turbo(key, 500.0)
    assert tool.twin("intel core i9-12900kf") == "intel core i9-12900k"
    assert tool.twin("intel core i9-12900k") == "intel core i9-12900kf"
    assert tool.segment_base("intel core i5-1240u", 29.0)[0] == 9.0
    assert tool.segment_base("intel core i5-1335u", 55.0)[0] == 15.0
    assert tool.segment_base("intel core i7-12700k", 190.0)[0] == 125.0
    assert tool.segment_base("intel core i7-12700h", 115.0) is None  # 28 W or 45 W: unknown


def test_turbo_fix_order_input_then_twin_then_segment_then_drop() -> None:
    tool = _tool("hardware")
    row = tool.CpuRow("Intel Core i9-12900KF", 241.0, None, 2021, "eco2ai")
    twin = tool.CpuRow("Intel Core i9-12900K", 125.0, 16, 2021, "Green Algorithms")
    fix = tool._turbo_fix("intel core i9-12900kf", row, "eco2ai", {"intel core i9-12900k": twin})
    assert (fix.now_w, fix.kind) == (125.0, "twin's base power")
    fix = tool._turbo_fix("intel core i9-12900kf", row, "eco2ai", {})
    assert (fix.now_w, fix.kind) == (125.0, "segment's base power")
    h = tool.CpuRow("Intel Core i7-12700H", 115.0, None, 2022, "x")
    fix = tool._turbo_fix("intel core i7-12700h", h, "x", {})
    assert (fix.now_w, fix.kind) == (None, "dropped: no base figure")
    # Step 1: another input's figure within the segment's bound wins over the precedence.
    corrections: list[object] = []
    present = [
        ("codecarbon", tool.CpuRow("Intel Core i5-1335U", 55.0, None, None, "cc"), 2026),
        ("eco2ai", tool.CpuRow("Intel Core i5-1335U", 15.0, None, 2023, "eco"), 2025),
    ]
    name, chosen, _ = tool._pick("intel core i5-1335u", present, corrections)
    assert (name, chosen.tdp_w, len(corrections)) == ("eco2ai", 15.0, 1)


def test_curated_cpus_are_checked(tmp_path: Path) -> None:
    tool = _tool("hardware")
    rows = tool.read_curated_cpus()
    assert len({r.name for r in rows}) == len(rows) >= 20
    header = ",".join(tool.CURATED_HEADER)
    bad = tmp_path / "cpu_extra.csv"
    bad.write_text(header + "\nX Chip 1,100,8,24,2024,basis,https://example.com/\n", encoding="utf-8")
    with pytest.raises(ValueError, match="threads"):
        tool.read_curated_cpus(bad)
    bad.write_text(header + "\nX Chip 1,100,8,8,2024,basis,example.com\n", encoding="utf-8")
    with pytest.raises(ValueError, match="https"):
        tool.read_curated_cpus(bad)


def test_specpower_threads_need_agreeing_results(tmp_path: Path) -> None:
    tool = _tool("cpu_threads")
    (tmp_path / "hardware").mkdir()
    head = "Chips,# Cores,Total Threads,CPU Description\n"
    (tmp_path / "hardware" / "ccf_SPECpower_x.csv").write_text(
        head
        + "2,56,112,Intel Xeon Platinum 8180\n1,28,56,Intel Xeon Platinum 8180\n"
        + "1,144,144,Intel Xeon 6780E\n1,144,288,Intel Xeon 6780E\n"  # disagree: left out
        + "1,4,16,Intel Xeon E5472\n",  # 4 threads per core: not SMT2, left out
        encoding="utf-8",
    )
    agreed, disagreed = tool.specpower_threads(tmp_path, "x")
    assert agreed == {"intel xeon platinum 8180": (28, 56)}
    assert disagreed == 2
    assert tool.family_threads("amd epyc 7452", 32) == 64
    assert tool.family_threads("intel xeon gold 6248", 20) == 40
    assert tool.family_threads("intel xeon bronze 3204", 6) is None
    assert tool.family_threads("amd ryzen 7 5800h", 8) is None


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
    tool = _tool("grid")
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
        200.0,
        "native lifecycle",
    )
    other = tool.ZoneEntry(
        "FR", "FR", "", "France", 41.444, 2025, "generation", "lifecycle", "CO2e", "someone", "CC0",
        41.444, "native lifecycle", True, "odd",
    )
    rows = tool.zone_rows([entry, other])
    assert [r[0] for r in rows] == ["FR", "US-CA"]
    assert rows[0][4] == "41.44" and rows[1][2] == "CA"
    assert rows[0][11:] == ("41.44", "native lifecycle", "true", "odd")
    assert rows[1][13:] == ("false", "")
    with pytest.raises(ValueError, match="duplicate"):
        tool.zone_rows([entry, entry])
    with pytest.raises(ValueError, match="provenance"):
        tool.zone_rows([tool.ZoneEntry("XX", "XX", "", "X", 1.0, 2020, "", "", "", "", "")])
    with pytest.raises(ValueError, match="comparable"):  # a row the comparable step missed
        tool.zone_rows([tool.ZoneEntry("XX", "XX", "", "X", 1.0, 2020, "", "", "", "s", "l")])


def test_tz_aliases_map_only_when_their_target_is_one_country(tmp_path: Path) -> None:
    tool = _tool("places")
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
    tool = _tool("hardware")
    assert tool._truncated(3.0, 3.5)  # CodeCarbon 3 W, eco2ai 3.5 W: a cut fraction
    assert not tool._truncated(3.0, 3.0)
    assert not tool._truncated(35.0, 65.0)
    assert not tool._truncated(2.17, 2.5)


def test_check_reports_a_stale_file(tmp_path: Path) -> None:
    tool = _tool("driver")
    (tmp_path / "intensity/data").mkdir(parents=True)
    (tmp_path / "intensity/data/zones.csv").write_text("zone\nFR\n", encoding="utf-8")
    problems = tool.compare({"intensity/data/zones.csv": "zone\nDE\n"}, tmp_path)
    assert problems[0].startswith("stale: intensity/data/zones.csv (+1 -1 lines)")
    assert tool.compare({"intensity/data/zones.csv": "zone\nFR\n"}, tmp_path) == []
    assert (
        tool.compare({"intensity/data/x.csv": ""}, tmp_path)[0] == "missing: intensity/data/x.csv"
    )


def _skip_unless_built_with_this_tz() -> None:
    recorded = json.loads((INTENSITY / "SOURCES.json").read_text(encoding="utf-8"))
    tz_version = recorded["tables"]["timezones.csv"]["tz_version"]
    if _tool("places").find_tzdata().version != tz_version:
        pytest.skip(
            f"installed tz database differs from the one the tables were built with ({tz_version})"
        )


@pytest.mark.skipif(not RAW.is_dir(), reason="upstream raw data (../shared/reference-data) absent")
def test_build_reproduces_the_committed_tables(tmp_path: Path) -> None:
    tool = _tool("driver")
    _skip_unless_built_with_this_tz()
    lines: list[str] = []
    assert tool.main(["--raw-dir", str(RAW), "--out-root", str(tmp_path)], echo=lines.append) == 0
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    # every committed data file, and the package's ATTRIBUTION.md (the repository root's copy)
    committed = {p.relative_to(PACKAGE) for p in PACKAGE.glob("*/data/*") if p.is_file()}
    assert set(built) == committed | {Path("ATTRIBUTION.md")}
    for rel in built:
        assert (tmp_path / rel).read_bytes() == (PACKAGE / rel).read_bytes(), f"{rel} is stale"
    assert tool.main(["--raw-dir", str(RAW), "--check"], echo=lines.append) == 0


@pytest.mark.skipif(not RAW.is_dir(), reason="upstream raw data (../shared/reference-data) absent")
def test_the_script_make_data_runs_builds_the_same_tables(tmp_path: Path) -> None:
    # `make data` runs tools/build_data.py as a script, from another working directory here:
    # the script must find its build_data/ package and the checkout's wattprint on its own.
    _skip_unless_built_with_this_tz()
    done = subprocess.run(
        [sys.executable, str(REPO / "tools" / "build_data.py"), "--raw-dir", str(RAW),
         "--out-root", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary, flagged, wrote = done.stdout.splitlines()
    assert summary.startswith("zones.csv: 15 stale row(s)") and "2009: EH; 2012: CF" in summary
    assert flagged.startswith("zones.csv: 6 flagged row(s): BH, CA-AB,")
    assert re.fullmatch(rf"wrote \d+ files under {re.escape(str(tmp_path))}", wrote)
    for rel in ("intensity/data/zones.csv", "sensors/data/cpu_tdp.csv"):
        assert (tmp_path / rel).read_bytes() == (PACKAGE / rel).read_bytes(), rel


def test_tz_aliases_respect_zone1970_coverage_in_a_backzone_build(tmp_path: Path) -> None:
    # With backzone, Africa/Asmara is its own zone, yet Africa/Asmera still links to Nairobi;
    # zone1970.tab says Nairobi's zone covers several countries, so Asmera stays unmapped.
    tool = _tool("places")
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


# --- the sub-national and cloud builders -----------------------------------------------------


def test_egrid_names_and_unit_conversion() -> None:
    tool = _tool("subnational")
    assert tool._title("district of columbia") == "District of Columbia"
    assert tool._title("new york") == "New York"
    assert 394.769 * tool.LB_PER_MWH_TO_G_PER_KWH == pytest.approx(179.064, abs=1e-3)


def test_pue_year_is_read_from_the_citation() -> None:
    tool = _tool("cloud_pue")
    assert tool._pue_year("2024 https://example.org/survey.pdf") == 2024
    assert tool._pue_year("citing https://example.org/eff/ (29/09/2020)") == 2020
    assert tool._pue_year("https://www.example.dev/2023/05/04/pue-article/") == 2023
    with pytest.raises(ValueError, match="no year"):
        tool._pue_year("https://example.org/undated")


CURATED_HEADER = "cloud,region,name,country,subdivision,city,lat,lon,source,curated\n"


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("ibm,x,X,US,,,,,https://a.example,2026-01-01", "unknown cloud"),
        ("aws,x,X,US,,,,,https://a.example,", "curated date"),
        ("aws,x,X,US,,,,,http://a.example,2026-01-01", "https source"),
        ("aws,x,X,US,,,1.0,,https://a.example,2026-01-01", "both lat and lon"),
    ],
)
def test_curated_regions_are_validated(tmp_path: Path, line: str, error: str) -> None:
    path = tmp_path / "cloud_regions.csv"
    path.write_text(CURATED_HEADER + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=error):
        _tool("cloud_regions").read_curated_regions(path)


def test_region_zone_is_the_most_specific_existing_zone() -> None:
    tool = _tool("cloud_regions")
    zones = {"US", "US-VA", "FR"}
    iso = {"US": "United States", "FR": "France"}
    row = {"cloud": "aws", "region": "r", "country": "US", "subdivision": "VA"}
    assert tool._region_zone(row, zones, iso) == "US-VA"
    assert tool._region_zone({**row, "country": "FR", "subdivision": ""}, zones, iso) == "FR"
    with pytest.raises(ValueError, match="no zone US-VX"):  # a typo is an error, not a fallback
        tool._region_zone({**row, "subdivision": "VX"}, zones, iso)


def test_per_unit_coefficients_must_agree_between_hosts() -> None:
    tool = _tool("embodied")
    hosts = {("aws", "a"): {"additional_gpus": 1200.0}, ("aws", "b"): {"additional_gpus": 600.0}}
    value, shown = tool._per_unit(hosts, {("aws", "a"): 8, ("aws", "b"): 4}, "additional_gpus", 0)
    assert value == 150 and "aws a 1200/8" in shown
    with pytest.raises(ValueError, match="disagrees"):
        tool._per_unit(hosts, {("aws", "a"): 8, ("aws", "b"): 8}, "additional_gpus", 0)


def test_subdivision_names_must_be_unique_within_a_country() -> None:
    tool = _tool("subnational")
    entries = [
        tool.SubdivisionEntry("AU", "NT", "Northern Territory"),
        tool.SubdivisionEntry("CA", "NT", "Northwest Territories", ("NT",)),  # other country: fine
    ]
    tool._check_names_unique(entries)
    clash = [
        *entries,
        tool.SubdivisionEntry("AU", "WA", "Western Australia", ("northern territory",)),
    ]
    with pytest.raises(ValueError, match="names both NT and WA"):
        tool._check_names_unique(clash)


# --- one comparable basis, staleness and flags (issue 9) -------------------------------------


def _zones() -> dict[str, dict[str, str]]:
    return {r["zone"]: r for r in _rows(INTENSITY / "zones.csv", ZONE_HEADER)}


def test_every_zone_row_keeps_its_provenance_and_comparable_figure() -> None:
    # The table as committed: a regeneration that drops a row's source, licence, year or
    # comparable figure fails here, whatever the loaders would make of it.
    for zone, r in _zones().items():
        for column in ("source", "licence", "year", "comparable_g_per_kwh", "comparable_method"):
            assert r[column].strip(), f"{zone} lost its {column}"
        assert 0 <= float(r["comparable_g_per_kwh"]) <= 1500, zone
        assert re.fullmatch(r"\d+\.\d\d", r["comparable_g_per_kwh"]), zone
        assert r["stale"] in ("true", "false"), zone
        if r["scope"] == "lifecycle" and not r["flag"]:
            # a lifecycle row is its own comparable figure
            assert r["comparable_method"] in ("native lifecycle",) or zone == "WORLD", zone
            assert r["comparable_g_per_kwh"] == r["g_per_kwh"] or zone == "WORLD", zone
        if r["scope"] != "lifecycle":
            assert " x " in r["comparable_method"], zone  # the factor is stated


def test_staleness_policy_marks_cf_eh_and_canada_2019() -> None:
    zones = _zones()
    doc = json.loads((INTENSITY / "SOURCES.json").read_text())["tables"]["zones.csv"]
    years = {int(r["year"]) for r in zones.values()}
    oldest_fresh = max(years) - doc["stale_after_years"]
    assert doc["stale_after_years"] == 4 and oldest_fresh == 2021
    for zone, r in zones.items():
        assert (r["stale"] == "true") == (int(r["year"]) < oldest_fresh), zone
    stale = sorted(z for z, r in zones.items() if r["stale"] == "true")
    assert stale == doc["stale_rows"]
    assert {"CF", "EH", "CA-AB", "CA-ON", "CA-QC"} <= set(stale)
    assert not any(z.startswith("AU-") for z in stale)  # NGA 2024 replaced the 2019 rows
    assert any(c.startswith("Staleness policy: a row is stale") for c in doc["choices"])


def test_implausible_gas_grids_are_flagged_and_ranked_by_their_mix() -> None:
    zones = _zones()
    for zone, published in (("BH", "902.24"), ("UZ", "1000.00"), ("TM", "1306.27")):
        r = zones[zone]
        assert r["g_per_kwh"] == published, zone  # the publisher's value is kept...
        assert r["flag"].startswith("implausible for a grid of") and "gas" in r["flag"], zone
        assert 450 <= float(r["comparable_g_per_kwh"]) <= 500, zone  # ...ranked by its mix
        assert r["comparable_method"].startswith("mix-implied lifecycle: AR5 medians"), zone
    # a gas grid within what a real fleet emits is left alone
    assert zones["DZ"]["flag"] == "" and zones["QA"]["flag"] == ""


def test_nordic_zones_are_completed_so_se4_no_longer_ranks_below_se1_to_se3() -> None:
    zones = _zones()
    se = {z: float(zones[f"SE-{z}"]["comparable_g_per_kwh"]) for z in ("SE1", "SE2", "SE3", "SE4")}
    assert se["SE4"] == pytest.approx(24.7 + 0.1495 * 230, abs=0.01)
    assert se["SE1"] < se["SE2"] < se["SE3"] < se["SE4"]
    assert all(zones[f"SE-{z}"]["flag"] == "" for z in se)


def test_direct_rows_convert_with_their_countrys_factors() -> None:
    zones = _zones()
    us_va, cn_bj, ca_qc = zones["US-VA"], zones["CN-BJ"], zones["CA-QC"]
    assert "calibrated: eGRID2023 US direct 349.67 -> Ember US 384.40" in us_va[
        "comparable_method"
    ]
    assert 1.05 < float(us_va["comparable_g_per_kwh"]) / float(us_va["g_per_kwh"]) < 1.2
    assert "CO2 only" in cn_bj["comparable_method"] and "the 2023 mix of China" in cn_bj[
        "comparable_method"
    ]
    # a hydro grid's direct 1.5 g/kWh gets the lifecycle of its hydro, near Norway's and not 1.8
    assert 20 < float(ca_qc["comparable_g_per_kwh"]) < 35
    # NGA is not calibrated on Ember AU: that would take a fossil ratio below 1 (a difference
    # of data year, not of basis); NSW's scope 2 660 converts with AR5 medians.
    nsw = zones["AU-NSW"]
    assert nsw["comparable_method"].startswith("NGA scope 2 x 1.112 + ")
    assert "AR5 medians over the 2023 mix of Australia" in nsw["comparable_method"]
    assert float(nsw["comparable_g_per_kwh"]) == pytest.approx(660 * 1.112, abs=1)


def test_a_comparable_figure_never_undercuts_the_direct_emissions_it_adds_to() -> None:
    for zone, r in _zones().items():
        if r["scope"] == "lifecycle":
            continue
        direct = float(r["g_per_kwh"])
        if r["scope"] == "direct+upstream":  # NGA: scope 2 is the direct part
            direct = float(re.search(r"scope 2 (\d+) \+", r["source"]).group(1))  # type: ignore[union-attr]
        assert float(r["comparable_g_per_kwh"]) >= direct, zone


def test_two_part_conversion() -> None:
    tool = _tool("comparable")
    conv = tool.Conversion(ratio=1.1, fossil_direct=500.0, non_fossil=20.0, how="test")
    assert conv(0.0) == pytest.approx(20.0)  # all non-fossil: its lifecycle only
    assert conv(250.0) == pytest.approx(250 * 1.1 + 0.5 * 20)  # half fossil
    assert conv(800.0) == pytest.approx(800 * 1.1)  # above the fossil rate: all fossil
    assert conv.describe("direct") == "direct x 1.100 + 20.0 x (1 - direct/500); test"


def _mix(tool: ModuleType, **twh: float) -> Any:
    return tool.CountryMix("XX", 2022, {k: twh.get(k, 0.0) for k in tool.FUELS})


def test_mix_factors_and_calibration() -> None:
    tool = _tool("comparable")
    gas = _mix(tool, gas=10.0)
    assert gas.lifecycle == pytest.approx(490) and gas.direct == pytest.approx(370)
    assert gas.ceiling == pytest.approx(56.1 * 3.6 / 0.30 + 120)  # old open-cycle fleet: 793
    assert tool.implausible(700.0, gas) == ""
    assert tool.implausible(902.24, gas).startswith("implausible for a grid of 100% gas")
    half = _mix(tool, coal=5.0, hydro=5.0)
    assert half.fossil_share == 0.5 and half.non_fossil_lifecycle == pytest.approx(24)
    assert half.fossil_ratio == pytest.approx(820 / 760)
    conv = tool.calibrated_conversion(half, national_direct=500.0, country_lifecycle=450.0, how="")
    assert conv(500.0) == pytest.approx(450.0)  # the national figure lands on the country row
    assert conv.fossil_direct == pytest.approx(1000.0)


def test_nordic_completion_reads_the_uncovered_types() -> None:
    tool = _tool("subnational")
    factors = {"biomass": 230.0, "waste": 230.0, "geothermal": 38.0}
    added, how = tool.complete_nordic("85.05% (uncovered: Other 14.95%)", factors)
    assert added == pytest.approx(0.1495 * 230) and how == "Other 14.95% at 230"
    added, how = tool.complete_nordic(
        "99.32% (uncovered: Other renewable 0.60%, Waste 0.09%)", factors
    )
    assert added == pytest.approx(0.006 * 38 + 0.0009 * 230)
    assert tool.complete_nordic("100%", factors) == (0.0, "")
    with pytest.raises(KeyError):  # a new production type needs a stated factor, not 0
        tool.complete_nordic("90% (uncovered: Tidal 10%)", factors)


def test_stale_summary_lists_stale_and_flagged_rows() -> None:
    tool = _tool("comparable")
    header = ",".join(ZONE_HEADER)
    rows = [
        "FR,FR,,France,41.44,2025,generation,lifecycle,CO2e,s,l,41.44,native lifecycle,false,",
        "EH,EH,,W. Sahara,666.67,2009,generation,lifecycle,CO2e,s,l,666.67,native lifecycle,true,",
        "BH,BH,,Bahrain,902.24,2024,generation,lifecycle,CO2e,s,l,489.88,m,false,implausible",
    ]
    text = tool.stale_summary("\n".join([header, *rows]) + "\n")
    assert text.splitlines() == [
        "zones.csv: 1 stale row(s) (year before 2021, more than 4 years before the newest year "
        "2025): 2009: EH",
        "zones.csv: 1 flagged row(s): BH",
    ]


@pytest.mark.skipif(not RAW.is_dir(), reason="upstream raw data (../shared/reference-data) absent")
def test_us_conversion_lands_near_the_ember_egrid_ratio() -> None:
    tool = _tool("comparable")
    mix_doc = json.loads((RAW / "grid/owid_energy_mix_by_country.json").read_text())
    mixes = tool.read_mixes(mix_doc, {"USA": "US", "CHN": "CN", "CAN": "CA"})
    us = mixes["US"]
    egrid_us = 349.67  # eGRID2023 national STC2ERTA in g/kWh
    ember_us = float(_zones()["US"]["g_per_kwh"])
    conv = tool.calibrated_conversion(us, egrid_us, ember_us, "")
    # Issue 9's check: Ember US 2023 lifecycle 383.5 / eGRID 2023 direct 349.7 = 1.097.
    assert conv(egrid_us) / egrid_us == pytest.approx(1.099, abs=0.005)
    assert conv.ratio == pytest.approx(1.071, abs=0.002)  # fossil part
    # AR5 medians alone would overshoot: gas 490/370 and new-plant direct medians.
    ar5 = tool.ar5_conversion(us, "United States")
    assert ar5(egrid_us) / egrid_us == pytest.approx(1.234, abs=0.005)
    assert us.lifecycle / us.direct == pytest.approx(1.250, abs=0.005)
    assert mixes["CN"].fossil_ratio == pytest.approx(1.085, abs=0.002)


@pytest.mark.skipif(not RAW.is_dir(), reason="upstream raw data (../shared/reference-data) absent")
def test_world_is_the_generation_weighted_mean_of_the_shipped_rows() -> None:
    mix = json.loads((RAW / "grid/owid_energy_mix_by_country.json").read_text())
    iso3 = {r["iso3"]: r["iso2"] for r in _rows(INTENSITY / "countries.csv", ["iso2", "iso3", "name"])}
    zones = _zones()
    pairs = [
        (float(v["total_TWh"]), float(zones[iso3[k]]["g_per_kwh"]))
        for k, v in mix.items()
        if iso3.get(k) in zones and float(v["total_TWh"]) > 0
    ]
    assert len(pairs) == 212
    weighted = sum(w * g for w, g in pairs) / sum(w for w, _ in pairs)
    assert float(zones["WORLD"]["g_per_kwh"]) == pytest.approx(weighted, abs=0.01)
