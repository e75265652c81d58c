"""A long run's chart points (dashboard/buckets.py: one rule, summed per time bucket in the
database) equal the raw records summed plainly here: on the local store's SQLite file, and on
the team server's SQLite and PostgreSQL databases (``db_url``)."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
from wattprint.server.dashboard import views
from wattprint.server.dashboard.buckets import NICE_WIDTHS_S
from wattprint.server.dashboard.data import DataError
from wattprint.server.dashboard.local import LocalStoreData
from wattprint.server.dashboard.server_data import ServerData
from wattprint.store import Store, open_repository
from wattprint.wire import from_wire

T0 = 1_767_225_600.0  # a whole number of every width: records start on bucket edges
RECORD_S = 2.0
LOST = ("nvml:0: lost",)


def long_run(run_objects, run_id: str = "long-run",
             n: int = 3000) -> tuple[RunInfo, list[Record]]:
    """A real tracker run's start (``run_objects``) with ``n`` records of 2 s instead: varying
    power and intensity, a 100 s hole after record 1000, a 3 s one after record 2000 and gap
    notes on records 1500-1510."""
    wire = dict(run_objects[0][0], run_id=run_id, started_s=T0, interval_s=RECORD_S)
    info = from_wire(wire)
    assert isinstance(info, RunInfo)
    records = []
    for seq in range(1, n + 1):
        start_s = T0 + RECORD_S * (seq - 1) + (100.0 if seq > 1000 else 0.0) \
            + (3.0 if seq > 2000 else 0.0)
        cpu, gpu = (40.0 + seq % 13) * RECORD_S, (200.0 + (seq % 7) * 10) * RECORD_S
        g_per_kwh = 36.0 if seq % 2 else 50.0
        energy = cpu + gpu
        records.append(Record(
            run_id=run_id, seq=seq, start_s=start_s, duration_s=RECORD_S, cpu_energy_j=cpu,
            gpu_energy_j=gpu, ram_energy_j=0.0, other_energy_j=0.0, energy_j=energy, pue=1.0,
            emissions_g=energy / 3.6e6 * g_per_kwh, intensity_g_per_kwh=g_per_kwh,
            intensity_zone="FR", intensity_source="Ember", intensity_year=2024,
            intensity_kind="average", intensity_live=False,
            components=(ComponentEnergy("cpu", "rapl:package-0", "measured", cpu),
                        ComponentEnergy("gpu", "nvml:0", "measured", gpu)),
            gaps=LOST if 1500 <= seq <= 1510 else ()))
    return info, records


def plain_buckets(records: list[Record], max_points: int) -> tuple[float, list[dict]]:
    """The rule, written out: the narrowest nice width giving at most ``max_points`` buckets
    from the first start rounded down to a whole width; each bucket's sums over its records."""
    first = min(r.start_s for r in records)
    last = max(r.start_s + r.duration_s for r in records)
    width = next(w for w in NICE_WIDTHS_S
                 if math.floor((last - math.floor(first / w) * w) / w) + 1 <= max_points)
    origin = math.floor(first / width) * width
    groups: dict[int, list[Record]] = {}
    for r in records:
        groups.setdefault(math.floor((r.start_s - origin) / width), []).append(r)
    out = []
    for _, rs in sorted(groups.items()):
        start, end = min(r.start_s for r in rs), max(r.start_s + r.duration_s for r in rs)
        energy = sum(r.energy_j for r in rs)
        out.append({
            "seq": max(r.seq for r in rs), "start_s": start, "end_s": end,
            "measured_s": sum(r.duration_s for r in rs), "records": len(rs),
            "energy_j": energy, "cpu_energy_j": sum(r.cpu_energy_j for r in rs),
            "gpu_energy_j": sum(r.gpu_energy_j for r in rs),
            "emissions_g": sum(r.emissions_g for r in rs),
            "intensity": sum(r.intensity_g_per_kwh * r.energy_j for r in rs) / energy,
            "min_w": min(r.energy_j / r.duration_s for r in rs),
            "max_w": max(r.energy_j / r.duration_s for r in rs),
            "gaps": tuple(sorted({note for r in rs for note in r.gaps}))})
    return width, out


def flat(rows: list[tuple[float, ...]]) -> list[float]:
    return [value for row in rows for value in row]


def check_series(data, run_id: str, records: list[Record], max_points: int = 100) -> None:
    series = data.series(run_id, max_points=max_points)
    width, want = plain_buckets(records, max_points)
    assert series.bucket_s == width == 120.0 and series.total == len(records)
    assert len(series.points) == len(want) <= max_points
    cumulative_got = cumulative_want = 0.0
    for got, plain in zip(series.points, want, strict=True):
        assert got.seq == plain["seq"] and got.records == plain["records"]
        assert got.start_s == plain["start_s"]
        assert got.start_s + got.duration_s == pytest.approx(plain["end_s"], abs=1e-6)
        for name in ("energy_j", "cpu_energy_j", "gpu_energy_j", "emissions_g"):
            assert getattr(got, name) == pytest.approx(plain[name], rel=1e-12), name
        # mean power over the point's time: the area under the curve is the energy
        assert got.energy_j / got.duration_s == pytest.approx(
            plain["energy_j"] / (plain["end_s"] - plain["start_s"]), rel=1e-9)
        assert got.intensity_g_per_kwh == pytest.approx(plain["intensity"], rel=1e-12)
        assert got.min_power_w == pytest.approx(plain["min_w"])
        assert got.max_power_w == pytest.approx(plain["max_w"])
        assert tuple(sorted(got.gaps)) == plain["gaps"]
        cumulative_got += got.energy_j
        cumulative_want += plain["energy_j"]
        assert cumulative_got == pytest.approx(cumulative_want, rel=1e-12)  # exact at each end
    assert cumulative_got == pytest.approx(sum(r.energy_j for r in records), rel=1e-12)
    # holes: between buckets, the earlier's last end to the later's first start
    plain_holes = [(a["end_s"], b["start_s"]) for a, b in zip(want, want[1:], strict=False)
                   if b["start_s"] - a["end_s"] > 0.5 * a["measured_s"] / a["records"]]
    assert flat(series.holes) == pytest.approx(flat(plain_holes))
    assert (T0 + 2000.0, T0 + 2100.0) in [tuple(h) for h in series.holes]  # the 100 s hole
    # inside a bucket: the 3 s hole after record 2000 (seconds 4102-4105 fall in one bucket)
    plain_hidden = [(p["start_s"], p["end_s"], p["end_s"] - p["start_s"] - p["measured_s"])
                    for p in want
                    if p["end_s"] - p["start_s"] - p["measured_s"] > 0.5 * RECORD_S]
    assert flat(series.hidden_holes) == pytest.approx(flat(plain_hidden))
    assert [round(h[2], 6) for h in series.hidden_holes] == [3.0]
    # a short run: one point a record, no bucket
    short = data.series(run_id, max_points=len(records))
    assert short.bucket_s is None and len(short.points) == len(records)
    assert [p.energy_j for p in short.points] == [r.energy_j for r in records]


def test_local_store_buckets_equal_the_records_summed_plainly(tmp_path: Path, run_objects):
    info, records = long_run(run_objects)
    store = Store(tmp_path / "wattprint.db")
    store.export([info, *records, summarize(info, records, exit_code=0)])
    store.close()
    repo = open_repository(tmp_path / "wattprint.db", clock=lambda: T0 + 86400)
    try:
        data = LocalStoreData(repo, clock=lambda: T0 + 86400)
        check_series(data, info.run_id, records)
        with pytest.raises(DataError, match="no run 'nope'"):
            data.series("nope", max_points=100)
    finally:
        repo.close()


def store_as_ingest(engine, org, info, records, *, components: bool) -> None:
    """The run and its records stored as the ingest stores them (JSON columns take the values;
    the records' components only when asked), its rollups rebuilt, without the HTTP round trip."""
    from sqlalchemy import insert

    from wattprint.server import rollups
    from wattprint.server.models import IntervalRecord, Run

    columns = {c.name for c in IntervalRecord.__table__.columns}
    with engine.begin() as connection:
        connection.execute(insert(Run).values(
            run_id=info.run_id, project_id=org.project_id, info_received=True,
            started_s=info.started_s, scope="machine", interval_s=RECORD_S, pue=1.0,
            host_id="h0", hostname="node-0", country="FR", first_seen_s=T0))
        connection.execute(insert(IntervalRecord), [
            {**{k: v for k, v in r.to_row().items() if k in columns}, "run_id": info.run_id,
             "gaps": list(r.gaps),
             "components": [c.to_dict() for c in r.components] if components else [],
             "work": []}
            for r in records])
        rollups.rebuild(connection)


def test_server_buckets_equal_the_records_summed_plainly(engine, org, run_objects):
    """Rows stored as ingest stores them (records, the run, its rollups rebuilt), without the
    HTTP round trip: 3,000 records are what is under test here, not the ingest."""
    info, records = long_run(run_objects)
    store_as_ingest(engine, org, info, records, components=True)
    data = ServerData(engine, org.organisation_id, clock=lambda: T0 + 86400)
    check_series(data, info.run_id, records)
    with pytest.raises(DataError, match="no run 'nope' in this organisation"):
        data.series("nope", max_points=100)
    # another organisation's reader never sees the run
    with pytest.raises(DataError):
        ServerData(engine, org.organisation_id + 1).series(info.run_id, max_points=100)


def test_the_run_page_says_how_many_records_each_point_sums(tmp_path: Path, monkeypatch,
                                                            run_objects):
    from wattprint.server.dashboard.app import create_dashboard_app

    info, records = long_run(run_objects, n=1200)
    store = Store(tmp_path / "wattprint.db")
    store.export([info, *records, summarize(info, records, exit_code=0)])
    store.close()
    repo = open_repository(tmp_path / "wattprint.db", clock=lambda: T0 + 86400)
    monkeypatch.setattr(views, "MAX_CHART_POINTS", 50)
    app = create_dashboard_app(LocalStoreData(repo, clock=lambda: T0 + 86400),
                               allowed_hosts=("testserver",))
    with TestClient(app) as client:
        html = client.get(f"/runs/{info.run_id}").text
    repo.close()
    width, want = plain_buckets(records, 50)
    assert width == 60.0 and f"1,200 records shown as {len(want)} points of 1 min each" in html
    chart = views.json.loads(html.split('id="run-data">')[1].split("</script>")[0])
    assert chart["columns"]["max_power_w"] == pytest.approx([p["max_w"] for p in want])
    # the point after the 100 s hole starts a new line
    assert chart["columns"]["gap"].count(True) == 1


def test_a_long_runs_points_are_kept_until_its_records_change(tmp_path: Path, run_objects):
    info, records = long_run(run_objects, run_id="growing", n=1000)
    store = Store(tmp_path / "wattprint.db")
    store.export([info, *records])
    repo = open_repository(tmp_path / "wattprint.db", clock=lambda: T0 + 86400)
    data = LocalStoreData(repo, clock=lambda: T0 + 86400)
    try:
        first = data.series(info.run_id, max_points=100)
        assert data.series(info.run_id, max_points=100) is first  # kept
        later = replace(records[-1], seq=1001, start_s=records[-1].start_s + RECORD_S)
        store.export([later])  # a live run's next record: summed again
        grown = data.series(info.run_id, max_points=100)
        assert grown.total == 1001 and grown.points[-1].seq == 1001
        assert sum(p.energy_j for p in grown.points) == pytest.approx(
            sum(r.energy_j for r in [*records, later]), rel=1e-12)
    finally:
        repo.close()
        store.close()


def test_the_overview_says_when_it_did_not_count_overlaps_once(engine, org, run_objects,
                                                               monkeypatch):
    """Over more than DEDUP_MAX_RECORDS records of runs that overlap another measurer's (the
    only records the de-duplicated figure reads) the overview shows the runs' own sums and says
    that the de-duplicated figure was not computed, never a guess. A run alone on its host
    reads nothing and never counts against the limit."""
    from sqlalchemy import insert

    from wattprint.server import rollups
    from wattprint.server.dashboard import server_data
    from wattprint.server.dashboard.data import Period
    from wattprint.server.models import IntervalRecord, Run

    info, records = long_run(run_objects, n=50)
    columns = {c.name for c in IntervalRecord.__table__.columns}
    with engine.begin() as connection:
        # two machine-scope runs at once on node-0, a third alone on node-1
        for run_id, host_id in (("on-0", "h0"), ("also-on-0", "h0"), ("alone-on-1", "h1")):
            connection.execute(insert(Run).values(
                run_id=run_id, project_id=org.project_id, info_received=True,
                started_s=info.started_s, scope="machine", interval_s=RECORD_S, pue=1.0,
                host_id=host_id, hostname=f"node-{host_id[1]}", country="FR", first_seen_s=T0))
            connection.execute(insert(IntervalRecord), [
                {**{k: v for k, v in r.to_row().items() if k in columns}, "run_id": run_id,
                 "gaps": list(r.gaps), "components": [], "work": []} for r in records])
        rollups.rebuild(connection)
    data = ServerData(engine, org.organisation_id, clock=lambda: T0 + 86400)
    for period in (Period(since_s=None, until_s=T0 + 86400),
                   Period(since_s=T0 - 3600, until_s=T0 + 86400)):
        counted = data.overview(period)
        assert counted.dedup is not None and "rule" in counted.dedup
        # node-0 counted once: one of its two runs' energy removed
        assert counted.dedup["removed_energy_j"] == pytest.approx(
            sum(r.energy_j for r in records), rel=1e-9)
        monkeypatch.setattr(server_data, "DEDUP_MAX_RECORDS", 100)
        assert data.overview(period).dedup == counted.dedup  # 100 records of 150 read
        monkeypatch.setattr(server_data, "DEDUP_MAX_RECORDS", 99)
        skipped = data.overview(period)
        monkeypatch.setattr(server_data, "DEDUP_MAX_RECORDS", 100_000)
        assert skipped.dedup == {"skipped_records": 100, "limit_records": 99}
        assert skipped.totals == counted.totals
        assert skipped.totals.energy_j == pytest.approx(3 * sum(r.energy_j for r in records))
    said = "Not computed for this period: its runs that overlap another measurer's on the " \
        "same host hold 100 records"
    assert said not in views_page(data, "all")
    monkeypatch.setattr(server_data, "DEDUP_MAX_RECORDS", 99)
    assert said in views_page(data, "all")


def views_page(data, period: str) -> str:
    from wattprint.server.dashboard.app import templates

    return templates().get_template("overview.html").render(
        **views.overview_context(data, period))


def test_ranged_breakdowns_from_one_sum_equal_the_apis_totals(engine, org, run_objects):
    """The overview sums a range once (a temporary table) for its five breakdowns and the
    period before: each equals /api/v1/totals' answer for the same range and key."""
    from wattprint.server.dashboard.data import BREAKDOWNS, Period
    from wattprint.server.query import RunQuery, totals

    info, records = long_run(run_objects)
    store_as_ingest(engine, org, info, records, components=False)
    data = ServerData(engine, org.organisation_id, clock=lambda: T0 + 86400)
    # edges inside hours, so the edge hours come from the records; twice on one connection
    period = Period(since_s=T0 + 1000.5, until_s=T0 + 5000.25)
    for _ in range(2):
        overview = data.overview(period)
    with engine.connect() as connection:
        for by in BREAKDOWNS:
            want = totals(connection, org.organisation_id, by,
                          RunQuery(since_s=period.since_s, until_s=period.until_s))["groups"]
            got = sorted(overview.breakdowns[by], key=lambda a: a.key)  # the page: largest first
            assert [(a.key, a.runs) for a in got] == [(g["key"], g["runs"]) for g in want]
            for a, g in zip(got, want, strict=True):
                assert a.energy_j == pytest.approx(g["energy_j"], rel=1e-12)
                assert a.emissions_g == pytest.approx(g["emissions_g"], rel=1e-12)
                assert a.duration_s == pytest.approx(g["duration_s"], rel=1e-12)
        before = period.previous
        assert before is not None
        want_before = totals(connection, org.organisation_id, "organisation",
                             RunQuery(since_s=before.since_s, until_s=before.until_s))
    assert overview.previous is not None
    assert overview.previous.energy_j == pytest.approx(
        sum(g["energy_j"] for g in want_before["groups"]), rel=1e-12)
    # each record by its part inside the range, pro rata of its time
    inside = sum(r.energy_j * max(0.0, min(r.start_s + r.duration_s, period.until_s)
                                  - max(r.start_s, period.since_s)) / r.duration_s
                 for r in records)
    assert overview.totals.energy_j == pytest.approx(inside, rel=1e-9)
