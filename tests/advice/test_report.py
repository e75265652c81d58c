"""``wattprint report``'s model and formats on a run stored in a real SQLite store.

The figures are checked against values computed here from the run's own watts; the four
formats are compared byte for byte with tests/advice/snapshots/ (regenerate after an intended
change with ``UPDATE_REPORT_SNAPSHOTS=1``, then read the diff)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
import reportkit

from wattprint.advice.report import build_report, render
from wattprint.advice.report_latex import escape_latex
from wattprint.advice.report_md import escape_md
from wattprint.advice.report_uncertainty import bands, combine
from wattprint.intensity.tables import equivalents
from wattprint.store import open_repository

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
HOSTILE = "paper_x %&#${}~^\\ <b>&amp;</b> \"q\" 'é' 中"


def _report(tmp_path: Path, fmt: str = "md", **kwargs: Any) -> dict[str, Any]:
    path = tmp_path / "wattprint.db"
    if not path.exists():
        reportkit.store_run(path, **kwargs)
    repo = open_repository(path)
    try:
        return build_report(repo, reportkit.RUN_ID[:8], store="/home/ada/.wattprint/wattprint.db",
                            version="0.1.0", fmt=fmt)
    finally:
        repo.close()


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_REPORT_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot {name}: run with UPDATE_REPORT_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its snapshot"


def test_the_report_states_the_runs_own_figures(tmp_path: Path) -> None:
    report = _report(tmp_path)
    want = reportkit.expected_totals()
    assert report["run"]["run_id"] == reportkit.RUN_ID
    assert report["run"]["duration"] == {"value": want["duration_s"], "unit": "s"}
    assert report["energy"]["total"] == {"value": want["total_j"], "unit": "J"}
    assert report["energy"]["by_component"] == {
        "cpu": {"value": want["cpu_j"], "unit": "J"}, "gpu": {"value": want["gpu_j"], "unit": "J"},
        "ram": {"value": want["ram_j"], "unit": "J"}}
    assert report["energy"]["total_kwh"]["value"] == pytest.approx(want["total_j"] / 3.6e6)
    assert report["emissions"]["operational"]["value"] == pytest.approx(want["emissions_g"])
    assert report["emissions"]["operational"]["unit"] == "gCO2e"
    # embodied beside, never added
    assert report["emissions"]["embodied"]["value"] == reportkit.EMBODIED_G
    assert report["emissions"]["embodied"]["added_to_operational"] is False
    assert report["emissions"]["operational"]["value"] < reportkit.EMBODIED_G
    # hardware from the run's devices: two identical GPUs counted, the CPU's counter (RAPL
    # records no model name), the RAM size
    assert [(h["component"], h["model"], h["count"]) for h in report["hardware"]] == [
        ("gpu", reportkit.GPU_NAME, 2), ("cpu", "RAPL package-0", 1), ("ram", "256 GiB", 1)]
    methods = {d["device"]: d["method"] for d in report["energy"]["devices"]}
    assert methods == {"nvml:0": "sampled", "nvml:1": "sampled", "rapl:package-0": "measured",
                       "model:ram": "modelled"}
    i = report["intensity"]
    assert (i["zone"], i["year"], i["basis"], i["scope"], i["gases"], i["live"]) == (
        "FR", 2025, "generation", "lifecycle", "CO2e", False)
    assert i["value"] == {"value": pytest.approx(reportkit.FR_G_PER_KWH), "unit": "gCO2e/kWh"}
    assert [r["provider"] for r in i["rescores"]] == ["neso"]
    assert report["pue"] == {"value": 1.2, "unit": "1", "source": reportkit.PUE_SOURCE}
    assert report["reproduce"] == {
        "command": f"wattprint report {reportkit.RUN_ID} --format md",
        "wattprint_version": "0.1.0", "store": "/home/ada/.wattprint/wattprint.db",
        "run_id": reportkit.RUN_ID}


def test_hardware_names_the_models_the_sensors_recorded() -> None:
    from dataclasses import replace

    from wattprint.advice.report import _hardware

    run = replace(reportkit.info(), devices=(
        {"device": "model:cpu", "component": "cpu", "method": "modelled",
         "detail": "AMD EPYC: virtual machine: 2 vCPUs x 1.0-3.8 W ...",
         "attributes": {"model_name": "AMD EPYC", "scaling": "per-vcpu"}},
        {"device": "amdsmi:0", "component": "gpu", "method": "measured",
         "detail": "AMD Instinct MI300X (GPU 0), energy counter, package", "attributes": {}},
    ))
    assert [(h["component"], h["model"]) for h in _hardware(run.devices)] == [
        ("gpu", "AMD Instinct MI300X (GPU 0)"), ("cpu", "AMD EPYC")]


def test_a_run_still_running_is_reported_as_partial(tmp_path: Path) -> None:
    from wattprint.store import Store

    path = tmp_path / "wattprint.db"
    store = Store(path)
    store.export([reportkit.info(), *reportkit.records()[:2]])  # no summary yet
    store.close()
    report = _report(tmp_path)
    assert report["run"]["status"] == "running"
    assert report["energy"]["total"]["value"] == sum(r.energy_j for r in reportkit.records()[:2])
    assert report["warnings"][0] == (
        "the run is still running: these figures cover its records up to 2026-01-01 00:20:00 "
        "UTC; report it again once it has finished")
    text = render(report, "md")
    assert "| Started | 2026-01-01 00:00:00 UTC (running: records up to 2026-01-01 00:20:00 UTC) |" in text
    assert report["emissions"]["embodied"] is None


def test_a_job_is_reported_as_the_sum_of_its_ranks(tmp_path: Path) -> None:
    path = tmp_path / "wattprint.db"
    job_id = reportkit.store_job(path)
    repo = open_repository(path)
    try:
        report = build_report(repo, job_id, store="S", version="0.1.0", job=True)
    finally:
        repo.close()
    one = reportkit.expected_totals()
    assert report["run"]["run_id"] == job_id
    assert report["run"]["job"]["ranks"] == 2
    assert report["energy"]["total"]["value"] == 2 * one["total_j"]
    assert report["emissions"]["operational"]["value"] == pytest.approx(2 * one["emissions_g"])
    assert report["emissions"]["embodied"]["value"] == pytest.approx(2 * reportkit.EMBODIED_G)
    assert [(h["component"], h["count"]) for h in report["hardware"]] == [
        ("gpu", 4), ("cpu", 2), ("ram", 2)]
    devices = [d["device"] for d in report["energy"]["devices"] if d["component"] == "gpu"]
    assert devices == ["node-a/nvml:0", "node-a/nvml:1", "node-b/nvml:0", "node-b/nvml:1"]
    assert len(report["uncertainty"]["devices"]) == 8
    # the ranks ran at the same time: the chart sums them
    assert [p["gpu_w"] for p in report["series"]] == [4 * w for w in reportkit.GPU_W]
    assert report["pue"]["source"] == reportkit.PUE_SOURCE
    assert report["reproduce"]["command"] == f"wattprint report {job_id} --job --format md"
    for fmt in ("md", "html", "latex", "json"):
        assert job_id in render(report, fmt)
    assert render(report, "md").startswith("# Energy and emissions of job slurm-4242 (")
    assert report["citation"].endswith("Measured with wattprint 0.1.0 (job slurm-4242).")
    assert "\\label{tab:wattprint-slurm-4242}" in render(report, "latex", fragment=True)


def test_an_unknown_job_says_how_to_list_jobs(tmp_path: Path) -> None:
    from wattprint.errors import StoreError

    reportkit.store_run(tmp_path / "wattprint.db")
    repo = open_repository(tmp_path / "wattprint.db")
    try:
        with pytest.raises(StoreError, match="no runs of job 'nope' in the store; see"):
            build_report(repo, "nope", store="S", version="0.1.0", job=True)
    finally:
        repo.close()


def test_the_power_series_is_each_intervals_mean_power(tmp_path: Path) -> None:
    series = _report(tmp_path)["series"]
    assert [p["gpu_w"] for p in series] == [2 * w for w in reportkit.GPU_W]
    assert [p["cpu_w"] for p in series] == list(reportkit.CPU_W)
    assert [p["t_s"] for p in series] == [i * reportkit.STEP_S for i in range(6)]


def test_a_long_run_is_charted_from_bucket_means_that_keep_its_energy() -> None:
    from wattprint.advice.report import MAX_SERIES_POINTS, _series

    rows = [(1000.0 + 5 * i, 5.0, 50.0 + i % 7, 1000.0 * (i % 3), 20.0, 0.0)
            for i in range(10_000)]
    series = _series(rows)
    assert len(series) <= MAX_SERIES_POINTS and series[0]["t_s"] == 0.0
    for comp, k in (("cpu", 2), ("gpu", 3), ("ram", 4)):
        assert sum(p[f"{comp}_w"] * p["duration_s"] for p in series) == pytest.approx(
            sum(r[k] for r in rows))
    assert sum(p["duration_s"] for p in series) == 50_000.0


def test_a_long_stored_run_is_charted_from_buckets_summed_by_the_database(
        tmp_path: Path) -> None:
    from dataclasses import replace

    from wattprint.advice.report import MAX_SERIES_POINTS
    from wattprint.records import summarize
    from wattprint.store import Store

    base = reportkit.records()
    recs = [replace(base[i % 6], seq=i, start_s=reportkit.T0 + 10.0 * i, duration_s=10.0)
            for i in range(2000)]
    store = Store(tmp_path / "wattprint.db")
    store.export([reportkit.info(), *recs, summarize(reportkit.info(), recs, exit_code=0)])
    store.close()
    repo = open_repository(tmp_path / "wattprint.db")
    try:
        by_sql = build_report(repo, reportkit.RUN_ID, store="S", version="0")["series"]
        by_records = build_report(_ProtocolOnly(repo), reportkit.RUN_ID, store="S",
                                  version="0")["series"]
    finally:
        repo.close()
    for series in (by_sql, by_records):
        assert 0 < len(series) <= MAX_SERIES_POINTS + 1
        for comp in ("cpu", "gpu", "ram"):
            assert sum(p[f"{comp}_w"] * p["duration_s"] for p in series) == pytest.approx(
                sum(getattr(r, f"{comp}_energy_j") for r in recs))


class _ProtocolOnly:
    """The read API's methods only (a server's repository has no record_figures)."""

    def __init__(self, repo: Any) -> None:
        self._repo = repo

    def __getattr__(self, name: str) -> Any:
        if name in ("record_figures", "record_bounds", "record_buckets"):
            raise AttributeError(name)
        return getattr(self._repo, name)


def test_any_read_api_gives_the_same_report(tmp_path: Path) -> None:
    fast = _report(tmp_path)
    repo = open_repository(tmp_path / "wattprint.db")
    try:
        slow = build_report(_ProtocolOnly(repo), reportkit.RUN_ID,
                            store="/home/ada/.wattprint/wattprint.db", version="0.1.0")
    finally:
        repo.close()
    assert slow == fast


def test_uncertainty_combines_the_bundled_bands_in_quadrature(tmp_path: Path) -> None:
    report = _report(tmp_path)
    table = bands()
    want = reportkit.expected_totals()
    p = {m: table[f"energy:{m}"].band_pct / 100 for m in ("measured", "sampled", "modelled")}
    band_j = math.sqrt(2 * (want["gpu_j"] / 2 * p["sampled"]) ** 2
                       + (want["cpu_j"] * p["measured"]) ** 2 + (want["ram_j"] * p["modelled"]) ** 2)
    unc = report["uncertainty"]
    assert unc["energy_band_j"] == pytest.approx(band_j)
    energy_pct = 100 * band_j / want["total_j"]
    emissions_pct = math.hypot(energy_pct, table["intensity:bundled"].band_pct,
                               table["pue:stated"].band_pct)
    assert unc["emissions_pct"] == pytest.approx(emissions_pct)
    assert unc["emissions_low_g"] == pytest.approx(want["emissions_g"] * (1 - emissions_pct / 100))
    assert unc["pue_one_sided"] is False
    # every band the report used is a row of the bundled table with its rationale and source
    for row in unc["bands"]:
        assert row["rationale"] and row["source"] and 2000 <= row["year"] <= 2030


def test_every_bundled_band_has_a_rationale_a_source_and_a_year() -> None:
    table = bands()
    assert set(table) >= {"energy:measured", "energy:sampled", "energy:modelled",
                          "intensity:bundled", "intensity:live", "pue:stated", "pue:default",
                          "embodied"}
    for band in table.values():
        assert 0 <= band.band_pct <= 100 and band.rationale and band.source, band
        assert 2000 <= band.year <= 2030, band
    # a counter is trusted more than sampled power, and both more than a model
    assert (table["energy:measured"].band_pct < table["energy:sampled"].band_pct
            < table["energy:modelled"].band_pct)


def test_a_default_pue_is_one_sided_and_a_modelled_only_run_gets_the_model_band() -> None:
    table = bands()
    out = combine(components=[{"device": "model:cpu", "method": "modelled", "energy_j": 100.0}],
                  total_energy_j=100.0, intensity={"kind": "average", "live": True},
                  pue_default=True, emissions_g=10.0, embodied_g=None)
    assert out["energy_pct"] == table["energy:modelled"].band_pct
    assert out["intensity_pct"] == table["intensity:live"].band_pct
    assert out["pue_one_sided"] is True and out["pue_pct"] == 0.0
    assert out["embodied_pct"] is None
    # no intensity: no emissions counted, so no intensity band either
    none = combine(components=[], total_energy_j=0.0, intensity={"kind": None},
                   pue_default=False, emissions_g=0.0, embodied_g=None)
    assert none["intensity_pct"] == 0.0 and none["energy_pct"] == 0.0


def test_equivalents_cite_their_factor_source_and_year(tmp_path: Path) -> None:
    report = _report(tmp_path)
    table = equivalents()
    emissions = report["emissions"]["operational"]["value"]
    assert [e["key"] for e in report["equivalents"]] == ["car_eu_km", "video_streaming_hour"]
    for e in report["equivalents"]:
        ref = table[e["key"]]
        assert e["factor"] == {"value": ref.value, "unit": ref.unit, "source": ref.source}
        assert e["year"] == ref.year
    car = report["equivalents"][0]
    assert car["amount"] == {"value": pytest.approx(emissions / 175 * 1000), "unit": "m"}
    phone = table["smartphone_charge"]
    assert (phone.value, phone.unit, phone.year) == (12.4, "gCO2/charge", 2024)
    assert "Greenhouse Gas Equivalencies Calculator" in phone.source


@pytest.mark.parametrize("fmt,name", [("md", "report.md"), ("json", "report.json"),
                                      ("html", "report.html"), ("latex", "report.tex")])
def test_each_format_matches_its_snapshot(tmp_path: Path, fmt: str, name: str) -> None:
    report = _report(tmp_path, fmt)
    _snapshot(name, render(report, fmt))


def test_the_latex_fragment_matches_its_snapshot(tmp_path: Path) -> None:
    _snapshot("report-fragment.tex", render(_report(tmp_path, "latex"), "latex", fragment=True))


def test_json_numbers_carry_units(tmp_path: Path) -> None:
    data = json.loads(render(_report(tmp_path, "json"), "json"))

    def quantities(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, dict):
            found = [node] if "value" in node and "unit" in node else []
            return found + [q for v in node.values() for q in quantities(v)]
        if isinstance(node, list):
            return [q for v in node for q in quantities(v)]
        return []

    found = quantities({k: v for k, v in data.items() if k not in ("series", "uncertainty")})
    assert len(found) >= 15
    assert all(isinstance(q["value"], (int, float)) and q["unit"] for q in found)
    assert data["emissions"]["operational"]["source"].startswith("energy x PUE x intensity")
    assert data["pue"]["source"] == reportkit.PUE_SOURCE


# -- hostile names ------------------------------------------------------------------------


def test_markdown_escapes_every_special_character(tmp_path: Path) -> None:
    text = render(_report(tmp_path, project=HOSTILE), "md")
    title = text.splitlines()[0]
    assert "<b>" not in text and "\\<b\\>" in title
    assert "paper\\_x" in title and "\\#" in title and "\\$" in title and "\\~" in title
    assert escape_md("a|b") == "a\\|b"
    # a pipe in a name cannot break a table row apart
    rows = [line for line in render(_report(tmp_path / "p", project="a|b|c"), "md").splitlines()
            if line.startswith("| Run |")]
    assert rows and rows[0].count(" | ") == 1


def test_html_escapes_every_string(tmp_path: Path) -> None:
    text = render(_report(tmp_path, project=HOSTILE), "html")
    assert "<b>&amp;</b>" not in text
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in text and "&quot;q&quot;" in text
    assert "<script" not in text and "src=" not in text and "href=" not in text


def test_latex_escapes_every_special_character() -> None:
    assert escape_latex("a_b %&#$ {x} ~^\\") == (
        r"a\_b \%\&\#\$ \{x\} \textasciitilde{}\textasciicircum{}\textbackslash{}")
    assert escape_latex("<b>|") == r"\textless{}b\textgreater{}\textbar{}"
    assert escape_latex("Zürich é 中") == "Zürich é [U+4E2D]"
    assert escape_latex("ﬁ ±") == r"fi $\pm$"
    assert "\n" not in escape_latex("two\nlines")


def test_latex_document_has_no_unescaped_user_text(tmp_path: Path) -> None:
    text = render(_report(tmp_path, project=HOSTILE), "latex")
    title = next(line for line in text.splitlines() if line.startswith(r"\title{"))
    assert title == (r"\title{Energy and emissions of run 3f9c2a1b (paper\_x \%\&\#\$\{\}"
                     r"\textasciitilde{}\textasciicircum{}\textbackslash{} \textless{}b\textgreater"
                     r"{}\&amp;\textless{}/\allowbreak{}b\textgreater{} ''q'' 'é' [U+4E2D]/\allowbreak{}"
                     r"lr\_3e-5)}")
    # what the escaping gives pdflatex is compiled in test_report_render.py
    assert HOSTILE not in text
