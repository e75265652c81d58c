"""Totals over a time range read the rollups (whole hours) and the records (partial edge hours)
and equal the raw records' answer: each record's part inside the range, pro rata of its time.
Random runs and ranges, on SQLite and PostgreSQL, through the real API."""

from __future__ import annotations

import copy
import random

import pytest
from sqlalchemy import text
from test_rollups import HOUR_S, T0_S, random_records

RANGES = 25
# A record split over hours has parts whose fractions, computed from Unix times (rounded to
# about 2e-7 s), add up to 1 within about 2e-7 s / its duration: exact to that rounding.
REL = 1e-6


def clipped_share(record: dict, since_s: float | None, until_s: float | None) -> float:
    """The fraction of ``record`` inside [since_s, until_s), computed plainly."""
    low = -float("inf") if since_s is None else since_s
    high = float("inf") if until_s is None else until_s
    start, duration = record["start_s"], record["duration_s"]
    if duration == 0:
        return 1.0 if low <= start < high else 0.0
    if low <= start and start + duration <= high:
        return 1.0
    inside = min(start + duration, high) - max(start, low)
    return max(inside, 0.0) / duration


def expected_totals(records: list[dict], hosts: dict[str, str], by: str,
                    since_s: float | None, until_s: float | None) -> dict[str, dict]:
    """Groups as the API defines them: a run's clipped records summed into its group; by
    component, a run counts in each component it has energy of, with its whole duration."""
    per_run: dict[str, dict] = {}
    for record in records:
        share = clipped_share(record, since_s, until_s)
        if share == 0.0:
            continue
        run = per_run.setdefault(record["run_id"], {"duration_s": 0.0, "parts": {}})
        run["duration_s"] += record["duration_s"] * share
        parts = [("energy_j", record["energy_j"], record["emissions_g"])] if by != "component" \
            else [(c, record[f"{c}_energy_j"], record["emissions_g"] * record[f"{c}_energy_j"] /
                   record["energy_j"] if record["energy_j"] > 0 else 0.0)
                  for c in ("cpu", "gpu", "ram", "other")]
        for part, energy_j, grams in parts:
            energy, by_kind = run["parts"].setdefault(part, [0.0, {}])
            run["parts"][part][0] = energy + energy_j * share
            kind = record["intensity_kind"]
            if kind is not None and grams:
                by_kind[kind] = by_kind.get(kind, 0.0) + grams * share
    groups: dict[str, dict] = {}
    for run_id, run in per_run.items():
        for part, (energy_j, by_kind) in run["parts"].items():
            if by == "component" and not energy_j > 0:
                continue
            key = {"run": run_id, "host": hosts[run_id]}.get(by, part)
            group = groups.setdefault(key, {"runs": set(), "energy_j": 0.0, "grams": {},
                                            "duration_s": 0.0})
            group["runs"].add(run_id)
            group["energy_j"] += energy_j
            group["duration_s"] += run["duration_s"]
            for kind, grams in by_kind.items():
                group["grams"][kind] = group["grams"].get(kind, 0.0) + grams
    return groups


def random_range(rng: random.Random) -> tuple[float | None, float | None]:
    edge = rng.random()
    start = T0_S + rng.uniform(-HOUR_S, 4 * 24 * HOUR_S)
    if edge < 0.2:  # on whole hours
        start = T0_S + HOUR_S * rng.randrange(-2, 96)
    length = rng.choice((rng.uniform(1, HOUR_S), rng.uniform(HOUR_S, 2 * 24 * HOUR_S),
                         HOUR_S * rng.randrange(1, 30)))
    shape = rng.random()
    if shape < 0.1:
        return start, None
    if shape < 0.2:
        return None, start + length
    return start, start + length


@pytest.fixture
def loaded(client, org, run_objects):
    """Random runs on three hosts sent through the real ingest; their records and hosts."""
    rng = random.Random(20)
    records = random_records(rng, runs=18, per_run=25)
    # sequence numbers out of time order: the edge reads by sequence range must not rely on it
    by_run: dict[str, list[dict]] = {}
    for record in records:
        by_run.setdefault(record["run_id"], []).append(record)
    for mine in by_run.values():
        for record, seq in zip(mine, rng.sample(range(len(mine)), len(mine)), strict=True):
            record["seq"] = seq
    template = run_objects[0][0]
    hosts: dict[str, str] = {}
    infos = []
    for run_id in sorted({r["run_id"] for r in records}):
        info = copy.deepcopy(template)
        info["run_id"] = run_id
        hosts[run_id] = f"host-{rng.randrange(3)}"
        info["host"]["hostname"] = hosts[run_id]
        info["host"]["host_id"] = f"{rng.randrange(16**15):016x}"
        infos.append(info)
    items = infos + records
    for start in range(0, len(items), 200):
        response = client.post("/api/v1/ingest", json={"items": items[start:start + 200]},
                               headers={"Authorization": f"Bearer {org.api_key}"})
        assert response.status_code == 200, response.text
    return records, hosts


@pytest.fixture
def read(make_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(scopes=('read',))}"}


@pytest.mark.parametrize("by", ["run", "host", "component"])
def test_totals_over_random_ranges_equal_the_clipped_records(client, read, loaded, by):
    records, hosts = loaded
    rng = random.Random({"run": 1, "host": 2, "component": 3}[by])
    for _ in range(RANGES):
        since_s, until_s = random_range(rng)
        params = {"by": by, **({"since": since_s} if since_s is not None else {}),
                  **({"until": until_s} if until_s is not None else {})}

        answer = client.get("/api/v1/totals", params=params, headers=read)

        assert answer.status_code == 200, answer.text
        got = {g["key"]: g for g in answer.json()["groups"]}
        want = expected_totals(records, hosts, by, since_s, until_s)
        assert set(got) == set(want), (since_s, until_s)
        for key, group in want.items():
            assert got[key]["runs"] == len(group["runs"]), (key, since_s, until_s)
            assert got[key]["energy_j"] == pytest.approx(group["energy_j"], rel=REL)
            assert got[key]["duration_s"] == pytest.approx(group["duration_s"], rel=REL)
            assert got[key]["emissions_by_kind"] == pytest.approx(group["grams"], rel=REL)


def test_no_range_counts_whole_runs_from_the_rollups(client, read, loaded):
    records, hosts = loaded

    groups = client.get("/api/v1/totals", params={"by": "run"}, headers=read).json()["groups"]

    want = expected_totals(records, hosts, "run", None, None)
    assert {g["key"]: g["energy_j"] for g in groups} == pytest.approx(
        {key: group["energy_j"] for key, group in want.items()})


def test_a_range_reads_no_more_records_than_its_edge_hours(client, read, loaded, engine):
    """The proof the read path is the rollup: with every record moved out of the records
    table's reach (start_s shifted far away), a range on whole hours still answers the same."""
    records, hosts = loaded
    since_s, until_s = T0_S + 5 * HOUR_S, T0_S + 50 * HOUR_S
    before = client.get("/api/v1/totals", params={"by": "run", "since": since_s,
                                                  "until": until_s}, headers=read).json()
    with engine.begin() as connection:
        connection.execute(text("UPDATE records SET start_s = start_s + 1e9"))

    after = client.get("/api/v1/totals", params={"by": "run", "since": since_s,
                                                 "until": until_s}, headers=read).json()

    assert before["groups"] and after == before


def test_dedup_totals_are_clipped_to_the_range(client, org, read, run_objects):
    items, summary = run_objects
    records = [item for item in items if item["type"] == "record"]
    first, last = records[0], records[-1]
    since_s = first["start_s"] + first["duration_s"] / 2  # half of the first record
    until_s = last["start_s"] + last["duration_s"]
    twin = copy.deepcopy(items)
    for item in twin:
        item["run_id"] = "same-host-same-time"
    response = client.post("/api/v1/ingest", json={"items": items + twin},
                           headers={"Authorization": f"Bearer {org.api_key}"})
    assert response.status_code == 200, response.text

    answer = client.get("/api/v1/totals", params={"by": "project", "dedup": "true",
                                                  "since": since_s, "until": until_s},
                        headers=read).json()

    inside_j = summary.energy_j["total"] - first["energy_j"] / 2
    [group] = answer["groups"]
    assert group["energy_j"] == pytest.approx(2 * inside_j)  # both runs' parts inside
    assert group["deduplicated"]["energy_j"] == pytest.approx(inside_j)  # the host once
    assert answer["dedup"]["measured_energy_j"] == pytest.approx(2 * inside_j)
    assert answer["dedup"]["energy_j"] == pytest.approx(inside_j)


def test_a_running_run_lists_its_records_so_far(client, org, read, run_objects):
    items, summary = run_objects
    unfinished = [item for item in items if item["type"] != "summary"]
    response = client.post("/api/v1/ingest", json={"items": unfinished},
                           headers={"Authorization": f"Bearer {org.api_key}"})
    assert response.status_code == 200, response.text

    [run] = client.get("/api/v1/runs", headers=read).json()["runs"]

    records = [item for item in items if item["type"] == "record"]
    assert run["energy_j"] == pytest.approx(sum(r["energy_j"] for r in records))
    assert run["emissions_g"] == pytest.approx(sum(r["emissions_g"] for r in records))


def test_an_empty_range_is_400(client, read):
    answer = client.get("/api/v1/totals", params={"since": 10, "until": 10}, headers=read)

    assert answer.status_code == 400 and answer.json()["detail"]["field"] == "until"


def test_the_series_of_one_run(client, read, loaded):
    records, _ = loaded
    mine = [r for r in records if r["run_id"] == "run-003"]
    since_s, until_s = T0_S - HOUR_S, T0_S + 10 * 24 * HOUR_S

    answer = client.get("/api/v1/series", params={"run": "run-003", "since": since_s,
                                                   "until": until_s, "points": 1}, headers=read)

    [bucket] = answer.json()["points"]
    assert bucket["records"] == len(mine)
    assert bucket["energy_j"] == pytest.approx(sum(r["energy_j"] for r in mine))


# (cloud, cloud_region, zone, country, subdivision, hostname) given to runs by the test below:
# every branch of the region and host keys, empty strings among them
PLACES = [("aws", "eu-west-1", None, "IE", None, "a"), (None, "r1", "Z", "FR", None, ""),
          ("", "", "DE-LU", "DE", None, None), (None, None, "", "US", "CA", "b"),
          (None, None, None, "", "", "c"), (None, None, None, None, None, "")]


def test_totals_grouped_in_sql_equal_the_runs_grouped_one_by_one(engine, client, org, loaded,
                                                                 run_objects):
    """The database's grouping (every request without dedup) against the Python path kept for
    dedup, on every key, without a range and over random ranges: runs with a summary, one whose
    summary came without any record (its grams as kind 'unknown'), one with nothing yet,
    places and start days of every shape."""
    from wattprint.server import query

    items, _ = run_objects
    lone = copy.deepcopy([item for item in items if item["type"] in ("run", "summary")])
    empty = copy.deepcopy([item for item in items if item["type"] == "run"])
    for item in lone:
        item["run_id"] = "summary-only"
    for item in empty:
        item["run_id"] = "nothing-yet"
    response = client.post("/api/v1/ingest", json={"items": items + lone + empty},
                           headers={"Authorization": f"Bearer {org.api_key}"})
    assert response.status_code == 200, response.text
    with engine.begin() as connection:
        run_ids = sorted(connection.execute(text("SELECT run_id FROM runs")).scalars())
        for n, run_id in enumerate(run_ids):
            cloud, region, zone, country, subdivision, hostname = PLACES[n % len(PLACES)]
            connection.execute(text(
                "UPDATE runs SET cloud = :cloud, cloud_region = :region, zone = :zone, "
                "country = :country, subdivision = :subdivision, hostname = :hostname, "
                "host_id = :host_id, started_s = :started_s WHERE run_id = :run_id"),
                {"cloud": cloud, "region": region, "zone": zone, "country": country,
                 "subdivision": subdivision, "hostname": hostname,
                 "host_id": None if n % 4 == 0 else f"id-{n % 3}",
                 "started_s": T0_S + n * 7 * HOUR_S + 0.5, "run_id": run_id})
    rng = random.Random(9)
    ranges = [(None, None)] + [random_range(rng) for _ in range(6)]
    compared = 0
    with engine.connect() as connection:
        scope = query._scoped_runs(org.organisation_id, query.RunQuery(), detail=False)
        for by in query.TOTALS_KEYS:
            for since_s, until_s in ranges:
                in_sql = query._grouped_in_sql(connection, by, scope, since_s, until_s)
                one_by_one = query._grouped_in_python(connection, by, scope, since_s, until_s,
                                                      None)
                assert sorted(in_sql) == sorted(one_by_one), (by, since_s, until_s)
                for key, (runs, duration_s, energy_j, grams) in in_sql.items():
                    want = one_by_one[key]
                    assert runs == want[0], (by, key)
                    assert duration_s == pytest.approx(want[1], rel=1e-12, abs=1e-9)
                    assert energy_j == pytest.approx(want[2], rel=1e-12, abs=1e-9)
                    assert grams == pytest.approx(want[3], rel=1e-12, abs=1e-12), (by, key)
                    compared += 1
    assert compared > 150
    with engine.connect() as connection:
        unranged = query.totals(connection, org.organisation_id, "run", query.RunQuery())
    groups = {group["key"]: group for group in unranged["groups"]}
    assert set(groups["summary-only"]["emissions_by_kind"]) == {"unknown"}
    assert groups["nothing-yet"]["runs"] == 1 and groups["nothing-yet"]["energy_j"] == 0.0
