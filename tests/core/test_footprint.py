"""Embodied emissions, water and the market-based figure: exact arithmetic, bundled defaults."""

from __future__ import annotations

import pytest

from wattprint import footprint
from wattprint.intensity.tables import EmbodiedRow, embodied_defaults

HOURS_PER_YEAR = 365.25 * 24  # 8766


def test_bundled_defaults_are_the_rows_the_arithmetic_below_uses() -> None:
    table = embodied_defaults()
    # embodied.csv: server 1719.11 kg over 4 years; gpu 150 kg over 4 years
    assert (table["server"].kg_co2e, table["server"].lifetime_years) == (1719.11, 4.0)
    assert (table["gpu"].kg_co2e, table["gpu"].lifetime_years) == (150.0, 4.0)


def test_one_hour_of_half_a_server_and_two_gpus() -> None:
    table = embodied_defaults()
    found = footprint.embodied(duration_s=3600.0, gpus=2, cpu_share=0.5, is_virtual=False,
                               table=table)
    assert found is not None
    # a 4-year life is 4 x 8766 = 35064 hours
    # server: 1719.11 kg = 1_719_110 g x 0.5 share / 35064 h x 1 h = 24.5138888... g
    #         (35064 x 49 = 1_718_136, remainder 974 = 35064 / 36: 49 + 1/36 g for a whole one)
    # gpus:   150 kg = 150_000 g x 2 cards / 35064 h x 1 h            =  8.5557837... g
    server_g = 1_719_110 * 0.5 / 35_064
    gpu_g = 150_000 * 2 / 35_064
    assert found["server_g"] == pytest.approx(server_g, rel=1e-12)
    assert found["server_g"] == pytest.approx(24.513888889, rel=1e-9)
    assert found["gpu_g"] == pytest.approx(gpu_g, rel=1e-12)
    assert found["gpu_g"] == pytest.approx(8.555783710, rel=1e-9)
    assert found["embodied_g"] == pytest.approx(33.069672599, rel=1e-9)
    assert (found["gpus"], found["cpu_share"]) == (2, 0.5)
    assert (found["server_kg_co2e"], found["gpu_kg_co2e"], found["lifetime_years"]) == (
        1719.11, 150.0, 4.0)
    assert found["source"].count("Cloud Carbon Footprint") == 2
    assert found["source"].endswith("(2021)")
    assert found["notes"] == []


def test_embodied_scales_linearly_with_time() -> None:
    table = embodied_defaults()
    hour = footprint.embodied(duration_s=3600.0, gpus=0, cpu_share=1.0, is_virtual=False,
                              table=table)
    minute = footprint.embodied(duration_s=60.0, gpus=0, cpu_share=1.0, is_virtual=False,
                                table=table)
    assert hour is not None and minute is not None
    # a whole server for one hour: 1_719_110 g / 35064 h = 49 + 1/36 = 49.0277... g; no GPU
    assert hour["embodied_g"] == pytest.approx(49 + 1 / 36, rel=1e-12)
    assert hour["gpu_g"] == 0.0
    assert minute["embodied_g"] == pytest.approx(hour["embodied_g"] / 60, rel=1e-12)


def test_a_hand_made_table_is_used_as_given() -> None:
    table = {
        "server": EmbodiedRow("server", 876.6, 1.0, "kg", "S", 2020),
        "gpu": EmbodiedRow("gpu", 87.66, 2.0, "kg", "G", 2022),
    }
    found = footprint.embodied(duration_s=7200.0, gpus=1, cpu_share=0.25, is_virtual=False,
                               table=table)
    assert found is not None
    # server: 876_600 g x 0.25 x 2 h / 8766 h = 50 g; gpu: 87_660 g x 1 x 2 h / 17532 h = 10 g
    assert found["server_g"] == pytest.approx(50.0)
    assert found["gpu_g"] == pytest.approx(10.0)
    assert found["embodied_g"] == pytest.approx(60.0)
    assert found["source"] == "S (2020); G (2022)"


def test_embodied_without_the_needed_rows_is_none() -> None:
    only_server = {"server": embodied_defaults()["server"]}
    assert footprint.embodied(duration_s=3600.0, gpus=0, cpu_share=1.0, is_virtual=False,
                              table=only_server) is None


def test_virtual_machine_whole_server_is_flagged_as_an_upper_bound() -> None:
    table = embodied_defaults()
    whole = footprint.embodied(duration_s=3600.0, gpus=0, cpu_share=1.0, is_virtual=True,
                               table=table)
    assert whole is not None
    assert len(whole["notes"]) == 1
    assert "virtual machine" in whole["notes"][0] and "upper bound" in whole["notes"][0]
    # a measured share on a VM is not the whole server: no note
    share = footprint.embodied(duration_s=3600.0, gpus=0, cpu_share=0.5, is_virtual=True,
                               table=table)
    assert share is not None and share["notes"] == []
    # the same whole server on bare metal: no note
    metal = footprint.embodied(duration_s=3600.0, gpus=0, cpu_share=1.0, is_virtual=False,
                               table=table)
    assert metal is not None and metal["notes"] == []


def test_water_is_wue_times_it_energy() -> None:
    # 7.2 MJ = 2 kWh of IT energy x 0.12 L/kWh (AWS's published WUE) = 0.24 L
    found = footprint.water(energy_j=7_200_000.0, wue_l_per_kwh=0.12, source="AWS", year=2025)
    assert found == {"water_l": pytest.approx(0.24), "wue_l_per_kwh": 0.12, "source": "AWS",
                     "year": 2025}
    assert footprint.water(energy_j=7_200_000.0, wue_l_per_kwh=None, source="", year=None) is None


def test_market_based_with_a_residual_mix() -> None:
    # 3.6 MJ = 1 kWh IT x PUE 1.5 = 1.5 kWh; 40 % covered -> 0.9 kWh x 500 g/kWh = 450 g
    found = footprint.market_based(energy_j=3_600_000.0, pue=1.5, location_emissions_g=300.0,
                                   renewable_share=0.4, residual_g_per_kwh=500.0)
    assert found is not None
    assert found["emissions_g"] == pytest.approx(450.0)
    assert (found["renewable_share"], found["residual_g_per_kwh"]) == (0.4, 500.0)
    assert found["note"] == "uncovered energy at the residual-mix intensity given"


def test_market_based_without_a_residual_mix_uses_the_location_figure() -> None:
    # 60 % not covered x 300 g location-based = 180 g, and the note says which intensity
    found = footprint.market_based(energy_j=3_600_000.0, pue=1.5, location_emissions_g=300.0,
                                   renewable_share=0.4, residual_g_per_kwh=None)
    assert found is not None
    assert found["emissions_g"] == pytest.approx(180.0)
    assert found["residual_g_per_kwh"] is None
    assert "no residual-mix intensity given" in found["note"]


def test_market_based_edges() -> None:
    assert footprint.market_based(energy_j=1.0, pue=1.0, location_emissions_g=1.0,
                                  renewable_share=None, residual_g_per_kwh=400.0) is None
    full = footprint.market_based(energy_j=3_600_000.0, pue=1.2, location_emissions_g=99.0,
                                  renewable_share=1.0, residual_g_per_kwh=400.0)
    assert full is not None and full["emissions_g"] == 0.0
    none = footprint.market_based(energy_j=3_600_000.0, pue=1.2, location_emissions_g=99.0,
                                  renewable_share=0.0, residual_g_per_kwh=400.0)
    # 1 kWh x 1.2 x 400 = 480 g
    assert none is not None and none["emissions_g"] == pytest.approx(480.0)


def test_mean_cpu_share_is_duration_weighted() -> None:
    from wattprint.records import ComponentEnergy, Record, RunAccumulator

    def record(duration_s: float, share: float) -> Record:
        return Record("r", 0, 0.0, duration_s, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, "FR",
                      "t", 2025, "average", False,
                      components=(ComponentEnergy("cpu", "model:cpu", "modelled", 1.0, share),))

    acc = RunAccumulator()
    assert acc.mean_cpu_share == 1.0  # nothing known yet
    acc.add(record(10.0, 0.2))
    acc.add(record(30.0, 0.6))
    assert acc.mean_cpu_share == pytest.approx(0.5)


# --- cloud instance types --------------------------------------------------------------------


def _instance(name: str, provider: str | None = "aws") -> object:
    from wattprint.sensors.instances import choose_instance

    return choose_instance(name, provider, "aws instance metadata")


def test_a_known_instance_type_counts_its_share_of_its_host() -> None:
    table = embodied_defaults()
    found = footprint.embodied(duration_s=3600.0, gpus=0, cpu_share=1.0, is_virtual=True,
                               table=table, instance=_instance("m5.large"))
    assert found is not None
    # m5.large: 2 of its host's 96 vCPUs; host 1610.79 kg (CCF's total, no GPUs) over 4 years:
    # 1_610_790 g x 2/96 = 33_558.125 g / 35064 h x 1 h = 0.95705... g (a whole server: 49.03 g)
    assert found["server_kg_co2e"] == 1610.79
    assert found["cpu_share"] == pytest.approx(2 / 96)
    assert found["server_g"] == pytest.approx(1_610_790 * 2 / 96 / 35_064, rel=1e-12)
    assert found["server_g"] == pytest.approx(0.957054, rel=1e-6)
    assert not any("upper bound" in note for note in found["notes"])
    assert found["notes"] == [
        "cloud instance type AWS m5.large (aws instance metadata): 2 of its host's 96 vCPUs, "
        "host 1610.79 kgCO2e without GPUs (Cloud Carbon Footprint's embodied coefficients, "
        "GPUs excluded, 2021)"]
    assert found["source"].startswith("AWS m5.large: Cloud Carbon Footprint")


def test_a_process_share_is_a_share_of_the_instance() -> None:
    found = footprint.embodied(duration_s=3600.0, gpus=0, cpu_share=0.5, is_virtual=True,
                               table=embodied_defaults(), instance=_instance("m5.large"))
    assert found is not None and found["cpu_share"] == pytest.approx(0.5 * 2 / 96)


def test_a_gpu_instance_counts_its_host_without_gpus_and_each_measured_card_once() -> None:
    # p3.2xlarge: 8 of a 72-vCPU host whose CCF total, 3543.79 kg, holds 1200 kg of GPUs
    found = footprint.embodied(duration_s=3600.0, gpus=1, cpu_share=1.0, is_virtual=True,
                               table=embodied_defaults(), instance=_instance("p3.2xlarge"))
    assert found is not None
    assert found["server_kg_co2e"] == pytest.approx(2343.79)
    assert found["server_g"] == pytest.approx(2_343_790 * 8 / 72 / 35_064, rel=1e-9)
    assert found["gpu_g"] == pytest.approx(150_000 * 1 / 35_064, rel=1e-12)


def test_an_unknown_instance_type_keeps_the_whole_server_and_says_why() -> None:
    found = footprint.embodied(duration_s=3600.0, gpus=0, cpu_share=1.0, is_virtual=True,
                               table=embodied_defaults(), instance=_instance("m99.huge"))
    assert found is not None
    assert found["server_kg_co2e"] == 1719.11 and found["cpu_share"] == 1.0
    assert "'m99.huge' (aws instance metadata) is not in the bundled instance table" in (
        found["notes"][0])
    assert "upper bound" in found["notes"][1]


def test_the_node_leader_rule_still_applies_to_an_instance() -> None:
    found = footprint.embodied(duration_s=3600.0, gpus=1, cpu_share=1.0, is_virtual=True,
                               table=embodied_defaults(), instance=_instance("m5.large"),
                               carries_server=False)
    assert found is not None and found["server_g"] == 0.0 and found["gpu_g"] > 0
