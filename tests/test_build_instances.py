"""cloud_instances.csv: the committed table (always) and its build from the raw files (skipped
where ``../shared/reference-data`` is absent)."""

from __future__ import annotations

import csv
from types import ModuleType
from typing import Any

import pytest

from test_build_data import PACKAGE, RAW, _tool  # tests/ is on sys.path (root conftest)
from wattprint.sensors.instances import instance_key, instance_types

TABLE = PACKAGE / "sensors" / "data" / "cloud_instances.csv"
HEADER = [
    "provider", "instance_type", "vcpus", "platform_vcpus", "cpu", "microarchitecture",
    "min_w_per_vcpu", "max_w_per_vcpu", "memory_gib", "gpus", "platform_embodied_kg",
    "embodied_kg", "embodied_basis", "embodied_year", "source", "year", "licence", "note",
]
needs_raw = pytest.mark.skipif(not RAW.is_dir(),
                               reason="upstream raw data (../shared/reference-data) absent")


def _rows() -> list[dict[str, str]]:
    with TABLE.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == HEADER
        return list(reader)


# --- the committed table ---------------------------------------------------------------------


def test_every_row_is_sized_sourced_and_licensed() -> None:
    rows = _rows()
    counts = {p: sum(r["provider"] == p for r in rows) for p in ("aws", "gcp", "azure")}
    assert counts["aws"] > 1000 and counts["gcp"] > 300 and counts["azure"] > 300, counts
    assert sum(counts.values()) == len(rows)
    for r in rows:
        assert 1 <= int(r["vcpus"]) <= int(r["platform_vcpus"]), r
        assert r["source"].startswith("Cloud Carbon Footprint "), r
        assert (r["licence"], r["year"]) == ("Apache-2.0", "2026"), r
        assert r["embodied_basis"] in ("ccf-coefficients", "ccf-latest-2026", "ccf-parts-model")
        assert r["embodied_year"] in ("2021", "2026"), r


def test_watts_are_a_plausible_pair_or_absent_with_a_reason() -> None:
    for r in _rows():
        if not r["max_w_per_vcpu"]:
            assert not r["min_w_per_vcpu"] and "the cloud average applies" in r["note"], r
            continue
        low, high = float(r["min_w_per_vcpu"]), float(r["max_w_per_vcpu"])
        # per vCPU: above zero at idle, and no server CPU draws 10 W per thread at full load
        assert 0.1 < low < high < 10, r
        assert r["microarchitecture"], r


def test_the_embodied_share_is_the_hosts_times_the_vcpu_share() -> None:
    for r in _rows():
        host = float(r["platform_embodied_kg"])
        assert 300 < host < 100_000, r  # a server, GPUs excluded (the largest: Azure S, 52 t)
        share = host * int(r["vcpus"]) / int(r["platform_vcpus"])
        assert float(r["embodied_kg"]) == pytest.approx(share, abs=6e-4), r


def test_lookup_keys_are_unique_across_providers_and_all_rows_load() -> None:
    rows = _rows()
    keys = [instance_key(r["provider"], r["instance_type"]) for r in rows]
    assert len(set(keys)) == len(keys)  # a bare name (no provider) names one row at most
    loaded = instance_types()
    assert sum(len(t) for t in loaded.values()) == len(rows)
    # the package's own line parser (no csv module at start) reads every cell as csv does
    for r, key in zip(rows, keys, strict=True):
        row = loaded[r["provider"]][key]
        assert (row.instance_type, row.cpu, row.source, row.note) == (
            r["instance_type"], r["cpu"], r["source"], r["note"])
        assert str(row.vcpus) == r["vcpus"] and (row.max_w_per_vcpu is None) == (
            not r["max_w_per_vcpu"])
    assert any('"' in line for line in TABLE.read_text(encoding="utf-8").splitlines())


def test_azure_rows_use_the_api_spelling() -> None:
    names = [r["instance_type"] for r in _rows() if r["provider"] == "azure"]
    assert all(n.startswith("Standard_") and " " not in n for n in names)
    assert "Standard_M128" in names and "Standard_D15i_v2" in names  # CCF's footnotes dropped


# --- the build -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return _tool("instances")


@pytest.fixture(scope="module")
def built(tool: ModuleType) -> Any:
    return tool.build_cloud_instances(RAW)


@needs_raw
def test_the_build_reproduces_the_committed_table(built: Any) -> None:
    assert built.render() == TABLE.read_text(encoding="utf-8")


@needs_raw
def test_only_ccfs_epyc_5th_gen_coefficients_are_replaced(tool: ModuleType) -> None:
    lists = tool._microarch_lists(RAW)
    coefficients = tool.Coefficients(RAW, lists)
    assert list(coefficients.replaced) == [("aws", "EPYC 5th Gen")]
    assert max(coefficients.agreement) < 1.3  # every other checked figure is CCF's method
    watts = coefficients.one("aws", "EPYC 5th Gen")
    assert (round(watts.min_w, 3), round(watts.max_w, 3)) == (0.264, 1.464)
    assert "13.9x" in watts.note


@needs_raw
def test_cpu_names_resolve_to_their_microarchitecture(tool: ModuleType) -> None:
    lists = tool._microarch_lists(RAW)
    resolve = tool.ArchResolver(tool.Coefficients(RAW, lists).names(), lists)
    assert {name: resolve(name) for name in (
        "Xeon E5-2670 v2", "Xeon E5-2670", "Intel Xeon E5-2676 V3", "Intel Xeon Ice Lake 8375C",
        "Intel Skylake P-8175", "AWS Graviton4 Processor", "Graviton2",
        "2nd Gen AMD EPYC 7R32", "AMD EPYC 9R45", "Ampere Altra Q64-30",
        "Apple M2 with 8-core CPU", "Nvidia Grace CPU",
    )} == {
        "Xeon E5-2670 v2": "Ivy Bridge", "Xeon E5-2670": "Sandy Bridge",
        "Intel Xeon E5-2676 V3": "Haswell", "Intel Xeon Ice Lake 8375C": "Ice Lake",
        "Intel Skylake P-8175": "Skylake", "AWS Graviton4 Processor": "Graviton4",
        "Graviton2": "Graviton2", "2nd Gen AMD EPYC 7R32": "EPYC 2nd Gen",
        "AMD EPYC 9R45": "EPYC 5th Gen", "Ampere Altra Q64-30": "Neoverse N1",
        "Apple M2 with 8-core CPU": None, "Nvidia Grace CPU": None,
    }


@needs_raw
def test_gcps_2026_embodied_figures_are_refused_and_said(built: Any) -> None:
    gcp_new = [r for r in built.rows if r[0] == "gcp" and "latest_2026" in r[14]]
    assert gcp_new and {r[12] for r in gcp_new} == {"ccf-parts-model"}
    assert any("gcp: 39 of 39 platforms fail, so none is used" in c for c in built.choices)


def test_azure_names_and_plausibility_rules(tool: ModuleType) -> None:
    assert [tool._azure_name(n) for n in ("D4s v5", "M128 1", "D15i v2 1", "F4")] == [
        "Standard_D4s_v5", "Standard_M128", "Standard_D15i_v2", "Standard_F4"]
    parts = tool.Parts(base_kg=1000.0, socket_kg=100.0, memory_kg_per_gb=1.0)
    assert parts.host_kg(memory_gib=116, sockets=2) == 1200.0

    def row(key: str, kg: float) -> Any:
        return tool.Instance("aws", f"{key}.large", 2, 96, "Xeon", ["Skylake"], 8.0, 0, [],
                             latest_platform_kg=kg, platform_memory_gib=116.0,
                             platform_key=key)

    # within 3x of the per-part model (1200 kg) is kept; beyond it is refused
    bad, whole, _ = tool._latest_rejected([row("ok", 1200 * 2.9), row("high", 1200 * 3.1),
                                           row("low", 1200 / 3.1), row("fine", 900.0)], parts)
    assert (bad, whole) == ({"high", "low"}, False)
    bad, whole, _ = tool._latest_rejected([row("a", 1e5), row("b", 1e6), row("c", 1200)], parts)
    assert whole  # most platforms fail: the whole list is refused
