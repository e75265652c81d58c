"""advice.where: regions ranked by what an amount of energy (or a run) would emit there, with
exact values from the bundled tables (the rows are quoted beside each figure)."""

from __future__ import annotations

import math

import pytest
from advicekit import IE_G_PER_KWH, cpu_run

from wattprint.advice.where import (
    BASIS,
    CAVEATS,
    PueFigure,
    great_circle_km,
    rank_regions,
    resolve_place,
    where_advice,
)
from wattprint.errors import LocationError
from wattprint.intensity.continents import continent_of
from wattprint.intensity.tables import cloud_regions
from wattprint.records import summarize

KWH_J = 3_600_000.0
RUN_PUE = PueFigure(pue=1.0, level="run", source="the run's own PUE", year=None)


def by_label(options):
    return {o.label: o for o in options}


def test_a_kwh_is_priced_at_the_region_figure_times_its_pue():
    options = by_label(rank_regions(KWH_J))
    assert len(options) == len(cloud_regions())
    # cloud_regions.csv aws eu-west-1 -> zone IE: 256.54 g/kWh (Ember 2025, lifecycle);
    # cloud_pue.csv aws,*: 1.2 (the provider's fleet figure)
    ireland = options["aws eu-west-1"]
    assert ireland.figure.comparable_g_per_kwh == 256.54
    assert (ireland.pue.pue, ireland.pue.level) == (1.2, "provider")
    assert ireland.emissions_g == pytest.approx(256.54 * 1.2)
    assert ireland.cfe_share is None
    # gcp europe-north1: Google's 2024 figure 39.32 direct -> 87.04 comparable; its own PUE
    # row 1.09 (2020); Google's carbon-free energy share 0.98
    finland = options["gcp europe-north1"]
    assert (finland.figure.g_per_kwh, finland.figure.comparable_g_per_kwh) == (39.32, 87.04)
    assert (finland.pue.pue, finland.pue.level, finland.pue.year) == (1.09, "region", 2020)
    assert (finland.cfe_share, finland.cfe_year) == (0.98, 2024)
    assert finland.emissions_g == pytest.approx(87.04 * 1.09)


def test_a_provider_without_a_pue_row_uses_the_runs_pue_else_the_default_and_says_so():
    # scaleway has no cloud_pue.csv row: fr-par (zone FR, 41.44 g/kWh)
    alone = by_label(rank_regions(KWH_J, cloud="scaleway"))["scaleway fr-par"]
    assert (alone.pue.pue, alone.pue.level) == (1.56, "default")  # cloud_pue.csv *,*
    assert alone.emissions_g == pytest.approx(41.44 * 1.56)
    with_run = by_label(rank_regions(KWH_J, cloud="scaleway", pue=RUN_PUE))["scaleway fr-par"]
    assert with_run.pue is RUN_PUE and with_run.emissions_g == pytest.approx(41.44)
    advice = where_advice(KWH_J, cloud="scaleway")
    assert any("1.56" in note and "Green Algorithms" in note for note in advice.notes)


def test_ranking_is_cleanest_first_on_emissions_and_the_basis_is_named():
    options = rank_regions(KWH_J, cloud="aws")
    grams = [o.emissions_g for o in options]
    assert grams == sorted(grams)
    assert {o.cloud for o in options} == {"aws"}
    advice = where_advice(KWH_J, cloud="aws")
    data = advice.to_dict()
    assert data["basis"] == BASIS and "lifecycle-comparable" in BASIS
    assert [c.split(":")[0] for c in data["caveats"]] == ["latency", "data residency", "price"]
    assert data["caveats"] == list(CAVEATS)
    assert data["reference"] is None and data["regions"][0]["saving_g"] is None
    assert any("no reference place" in n for n in data["notes"])


def test_near_keeps_the_continent_and_savings_are_against_the_near_region():
    advice = where_advice(KWH_J, near="aws/eu-west-1")
    assert {continent_of(o.country) for o in advice.options} == {"europe"}
    europe = [r for r in cloud_regions().values() if continent_of(r.country) == "europe"]
    assert len(advice.options) == len(europe)
    ref = advice.reference
    assert ref is not None and (ref.label, ref.kind) == ("aws eu-west-1", "near")
    assert ref.emissions_g == pytest.approx(256.54 * 1.2)
    sweden = by_label(advice.options)["aws eu-north-1"]  # zone SE-SE3: 39.47 g/kWh
    assert sweden.emissions_g == pytest.approx(39.47 * 1.2)
    assert sweden.saving_g == pytest.approx((256.54 - 39.47) * 1.2)
    assert sweden.saving_pct == pytest.approx(100 * (256.54 - 39.47) / 256.54)
    assert by_label(advice.options)["aws eu-west-1"].saving_g == pytest.approx(0.0)


def test_within_km_uses_great_circle_distance_from_the_region_coordinates():
    # 1 degree of longitude on the equator: 2 pi R / 360 with R the IUGG mean radius
    assert great_circle_km(0, 0, 0, 1) == pytest.approx(2 * math.pi * 6371.0088 / 360)
    # Dublin (53.35, -6.26) to Frankfurt (50.11, 8.68), cloud_regions.csv's coordinates
    assert great_circle_km(53.35, -6.26, 50.11, 8.68) == pytest.approx(1087.73, abs=0.01)
    advice = where_advice(KWH_J, near="eu-west-1", within_km=500)
    assert {o.label for o in advice.options} == {
        "aws eu-west-1", "aws eu-west-2", "azure northeurope", "azure uksouth", "azure ukwest",
        "gcp europe-west2", "oci uk-cardiff-1", "oci uk-london-1", "ovhcloud UK1"}
    assert all(o.distance_km is not None and o.distance_km <= 500 for o in advice.options)
    assert any("no public coordinates" in n for n in advice.notes)


def test_places_resolve_in_every_spelling_and_unknown_ones_name_the_choices():
    assert resolve_place("aws/eu-west-1") == resolve_place("aws eu-west-1") \
        == resolve_place("AWS:eu-west-1") == resolve_place("eu-west-1")
    assert resolve_place("West Europe").cloud == "azure"
    with pytest.raises(LocationError, match="CLOUD/REGION"):
        resolve_place("atlantis-1")
    with pytest.raises(LocationError, match="did you mean eu-west-1"):
        resolve_place("aws/eu-wst-1")
    with pytest.raises(LocationError, match="Known clouds"):
        where_advice(KWH_J, cloud="ibm")
    with pytest.raises(ValueError, match="finite"):
        rank_regions(float("nan"))


def test_a_run_is_compared_with_where_it_ran_on_the_comparable_basis():
    run, records = cpu_run(n=10, cpu_j=36_000.0)  # 0.1 kWh in aws eu-west-1, PUE 1.2
    summary = summarize(run, records, exit_code=0)
    advice = where_advice(run=summary, cloud="aws")
    assert advice.energy_j == pytest.approx(360_000.0)
    ref = advice.reference
    assert ref is not None and (ref.label, ref.kind) == ("aws eu-west-1", "run")
    assert ref.emissions_g == pytest.approx(0.1 * 1.2 * IE_G_PER_KWH)
    assert ref.recorded_g == pytest.approx(summary.emissions_g)
    assert ref.recorded is None  # recorded at the comparable figure itself: nothing to say
    sweden = by_label(advice.options)["aws eu-north-1"]
    assert sweden.saving_g == pytest.approx(0.1 * 1.2 * (256.54 - 39.47))


def test_a_run_recorded_on_another_basis_is_re_priced_and_says_so():
    run, records = cpu_run(n=10, cpu_j=36_000.0, g_per_kwh=300.0, scope="direct", live=True)
    summary = summarize(run, records, exit_code=0)
    ref = where_advice(run=summary).reference
    assert ref is not None and ref.recorded is not None
    assert "recorded 300.0 gCO2e/kWh (live" in ref.recorded
    assert "re-priced at 256.5 gCO2e/kWh" in ref.recorded
    assert ref.emissions_g == pytest.approx(0.1 * 1.2 * IE_G_PER_KWH)
    assert ref.recorded_g == pytest.approx(0.1 * 1.2 * 300.0)


def test_a_run_outside_any_cloud_is_priced_at_its_zone_with_its_own_pue():
    run, records = cpu_run(location={"country": "FR", "zone": "FR", "resolved_by": "config"},
                           pue=1.0)
    summary = summarize(run, records, exit_code=0)
    advice = where_advice(run=summary, cloud="scaleway")
    ref = advice.reference
    assert ref is not None and ref.label == "zone FR" and ref.pue.level == "run"
    assert ref.emissions_g == pytest.approx(0.1 * 41.44)
    paris = by_label(advice.options)["scaleway fr-par"]  # no scaleway PUE: the run's 1.0
    assert paris.pue.level == "run" and paris.saving_g == pytest.approx(0.0)


def test_extra_regions_join_the_ranking_whatever_the_filter():
    advice = where_advice(KWH_J, cloud="gcp", extra=("aws/eu-north-1", "gcp/us-east1"))
    labels = [o.label for o in advice.options]
    assert "aws eu-north-1" in labels and labels.count("gcp us-east1") == 1
    grams = [o.emissions_g for o in advice.options]
    assert grams == sorted(grams)


def test_a_run_whose_location_was_not_known_says_its_savings_are_against_the_world_average():
    run, records = cpu_run(location={"country": None, "zone": "WORLD", "resolved_by": "default"},
                           pue=1.0)
    advice = where_advice(run=summarize(run, records, exit_code=0), cloud="aws")
    assert advice.reference is not None and advice.reference.label == "zone WORLD"
    assert any("world average" in note and "--near" in note for note in advice.notes)
