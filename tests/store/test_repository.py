"""The read API: pages, filters, live records, spans, aggregates."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import storekit
from storekit import T0

from wattprint.errors import StoreError
from wattprint.records import RunSummary, summarize
from wattprint.store import Repository, RunFilter, SqliteRepository, Store, open_repository
from wattprint.store.repository import FIGURE_COLUMNS

DAY = 86400.0


@pytest.fixture
def store(tmp_path):
    # this host is "here"; pid 666 is the only dead process; the wall clock is injected
    s = Store(tmp_path / "wattprint.db", host_id="here", hostname="node-here",
              clock=lambda: T0 + 10 * DAY, pid_alive=lambda pid: pid != 666)
    yield s
    s.close()


def finished(store, run_id, *, started, project="p", experiment="e", host="node-a",
             cpu_j=100.0, gpu_j=0.0, n=2, job_id=None, location=None, status="finished"):
    run = storekit.info(run_id, project=project, experiment=experiment, started=started,
                        hostname=host, job_id=job_id, location=location)
    records = [storekit.record(run_id, seq, cpu_j=cpu_j, gpu_j=gpu_j, start=started + seq - 1)
               for seq in range(1, n + 1)]
    store.export([run, *records, summarize(run, records, status=status)])


def test_the_store_and_the_merged_reader_are_repositories(store, tmp_path):
    assert isinstance(store, Repository)
    repo = open_repository(tmp_path / "wattprint.db", host_id="x", hostname="x")
    assert isinstance(repo, Repository) and isinstance(repo, SqliteRepository)
    repo.close()


def test_pages_are_newest_first_with_a_stable_cursor(store):
    for i, run_id in enumerate(["a", "b", "c", "d", "e", "f", "g"]):
        # b and c start at the same instant: the run id breaks the tie
        finished(store, run_id, started=T0 + {"c": 1}.get(run_id, i))
    seen, cursor, pages = [], None, 0
    while True:
        page = store.runs(limit=3, cursor=cursor)
        seen += [r.run_id for r in page.items]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
        finished(store, f"new{pages}", started=T0 + 100 + pages)  # arrivals do not shift pages
    assert seen == ["g", "f", "e", "d", "c", "b", "a"] and pages == 3
    assert store.runs(limit=9).next_cursor is None and store.runs(limit=8).next_cursor


def test_an_invalid_cursor_says_what_to_pass(store):
    with pytest.raises(StoreError, match="invalid cursor.*next_cursor"):
        store.runs(cursor="not-a-cursor")


def test_filters(store):
    finished(store, "p1", started=T0, project="vision", host="gpu-1", job_id="j1")
    finished(store, "p2", started=T0 + DAY, project="vision", experiment="big", host="gpu-2",
             job_id="j1")
    finished(store, "p3", started=T0 + 2 * DAY, project="nlp", host="gpu-1", status="failed")

    def ids(**kw):
        return [r.run_id for r in store.runs(RunFilter(**kw)).items]

    assert ids(project="vision") == ["p2", "p1"]
    assert ids(project="vision", experiment="big") == ["p2"]
    assert ids(host="gpu-1") == ["p3", "p1"]
    assert ids(host=storekit.HOST_ID) == ["p3", "p2", "p1"]  # a host id works too
    assert ids(job_id="j1") == ["p2", "p1"]
    assert ids(since_s=T0 + DAY) == ["p3", "p2"]
    assert ids(until_s=T0 + DAY) == ["p1"]
    assert ids(since_s=T0 + DAY, until_s=T0 + 2 * DAY) == ["p2"]
    assert ids(status="failed") == ["p3"]
    assert ids(status="finished") == ["p2", "p1"]
    assert ids(project="none") == []


def test_status_filter_follows_the_liveness_rule(store):
    now = T0 + 10 * DAY
    store.export([storekit.info("alive", started=now - 5, host_id="here", tracker_pid=1)])
    store.export([storekit.info("dead-here", started=now - 4, host_id="here", tracker_pid=666)])
    store.export([storekit.info("silent", started=now - 300, host_id="other"),
                  storekit.heartbeat("silent", at=now - 100, every=5.0)])
    store.export([storekit.info("beating", started=now - 2, host_id="other"),
                  storekit.heartbeat("beating", at=now - 1, every=5.0)])
    finished(store, "done", started=now - 1)
    statuses = {r.run_id: r.status for r in store.runs().items}
    assert statuses == {"alive": "running", "dead-here": "interrupted", "silent": "interrupted",
                        "beating": "running", "done": "finished"}
    running = store.runs(RunFilter(status="running"), limit=1)
    assert [r.run_id for r in running.items] == ["beating"]
    assert [r.run_id for r in store.runs(RunFilter(status="running"), limit=1,
                                         cursor=running.next_cursor).items] == ["alive"]
    assert [r.run_id for r in store.runs(RunFilter(status="interrupted")).items] == [
        "dead-here", "silent"]


def test_heartbeats_only_move_forward_and_records_count_as_seen(store):
    store.export([storekit.info("r1", started=T0), storekit.heartbeat("r1", at=T0 + 50)])
    store.export([storekit.heartbeat("r1", at=T0 + 20)])  # an old one, delivered late
    assert store.runs().items[0].heartbeat_s == T0 + 50
    store.export([storekit.record("r1", 1, start=T0 + 99)])
    assert store.runs().items[0].heartbeat_s == T0 + 100


def test_prefixes_resolve_like_git(store):
    for run_id in ("abc123", "abd456", "x_y"):
        store.export([storekit.info(run_id)])
    assert store.resolve_id("abc") == "abc123"
    with pytest.raises(StoreError, match="several runs"):
        store.resolve_id("ab")
    with pytest.raises(StoreError, match="no run matches.*wattprint runs"):
        store.resolve_id("zzz")
    with pytest.raises(StoreError, match="no run matches"):
        store.resolve_id("x%")  # LIKE wildcards are literal


def test_records_since_seq_for_live_views(store):
    store.export([storekit.info("r1"), *[storekit.record("r1", s) for s in range(1, 8)]])
    repo = store.repository
    assert [r.seq for r in repo.records("r1")] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.seq for r in repo.records("r1", since_seq=5)] == [6, 7]
    assert [r.seq for r in repo.records("r1", since_seq=2, limit=2)] == [3, 4]
    assert repo.records("r1", since_seq=7) == []
    with pytest.raises(StoreError, match="no run 'nope'"):
        repo.info("nope")


def test_records_round_trip_exactly_with_work(store):
    records = [storekit.record("r1", s, gpu_j=5.0, work=(("samples", 64.0),)) for s in (1, 2)]
    store.export([storekit.info("r1"), *records])
    assert store.records("r1") == records


def test_spans_upsert_and_an_older_replay_never_replaces_a_newer_aggregate(store):
    store.export([storekit.info("r1"), storekit.span(count=3, energy=30.0)])
    store.export([storekit.span(count=10, energy=100.0)])
    store.export([storekit.span(count=3, energy=30.0)])  # a spooled older batch, late
    (span,) = store.spans("r1")
    assert (span.count, span.energy_j, span.work) == (10, 100.0, (("samples", 1280.0),))
    assert span == storekit.span(count=10, energy=100.0)


def test_summary_is_stored_when_finished_and_rebuilt_while_running(store):
    run = storekit.info("r1", host_id="here", tracker_pid=1)
    records = [storekit.record("r1", s, cpu_j=50.0 * s) for s in (1, 2, 3)]
    store.export([run, *records])
    rebuilt = store.summary("r1")
    assert (rebuilt.status, rebuilt.energy_j["total"], rebuilt.records) == ("running", 300.0, 3)
    final = summarize(run, records, status="finished", exit_code=3)
    store.export([final])
    assert store.summary("r1") == final
    row = store.runs().items[0]
    assert (row.status, row.exit_code, row.energy_j, row.ended_s) == (
        "finished", 3, 300.0, T0 + 3.0)
    assert isinstance(store.summary("r1"), RunSummary)


def test_aggregates(store):
    gcp = {"country": "FR", "cloud": "gcp", "cloud_region": "europe-west9"}
    finished(store, "a", started=T0, project="vision", host="n1", cpu_j=100.0, location=gcp)
    finished(store, "b", started=T0 + 3600, project="vision", host="n2", cpu_j=50.0,
             gpu_j=150.0)
    finished(store, "c", started=T0 + DAY, project="nlp", host="n1", cpu_j=10.0,
             location={"country": "US", "subdivision": "CA"})
    # a run still going counts with its records so far
    store.export([storekit.info("d", started=T0 + DAY + 5, project="nlp",
                                location={"zone": "SE-SE3"}),
                  storekit.record("d", 1, cpu_j=7.0)])

    def table(by, **kw):
        return {a.key: (a.runs, a.duration_s, a.energy_j) for a in store.aggregate(by, RunFilter(**kw))}

    assert table("project") == {"nlp": (2, 3.0, 27.0), "vision": (2, 4.0, 600.0)}
    assert table("experiment") == {"e": (4, 7.0, 627.0)}
    assert table("day") == {"2026-01-01": (2, 4.0, 600.0), "2026-01-02": (2, 3.0, 27.0)}
    assert table("host") == {"n1": (2, 4.0, 220.0), "n2": (1, 2.0, 400.0),
                             "node-a": (1, 1.0, 7.0)}
    assert table("region") == {"gcp/europe-west9": (1, 2.0, 200.0), "FR": (1, 2.0, 400.0),
                               "US-CA": (1, 2.0, 20.0), "SE-SE3": (1, 1.0, 7.0)}
    assert table("component") == {"cpu": (4, 7.0, 327.0), "gpu": (1, 2.0, 300.0)}
    assert table("project", project="vision") == {"vision": (2, 4.0, 600.0)}
    emissions = {a.key: a.emissions_g for a in store.aggregate("component")}
    assert emissions["gpu"] == pytest.approx(300.0 / 3.6e6 * 36.0)
    assert sum(emissions.values()) == pytest.approx(627.0 / 3.6e6 * 36.0)
    assert store.aggregate("project", RunFilter(project="none")) == []
    with pytest.raises(StoreError, match="choose one of project, experiment, day"):
        store.aggregate("colour")


def test_aggregates_keep_average_and_marginal_grams_apart(store):
    from dataclasses import replace

    finished(store, "avg", started=T0, project="vision", cpu_j=3600.0)  # 2 x 36 g/kWh
    run = storekit.info("mix", started=T0 + 10, project="vision")
    records = [storekit.record("mix", 1, cpu_j=3600.0, start=T0 + 10),  # average, 0.036 g
               replace(storekit.record("mix", 2, cpu_j=3600.0, gpu_j=3600.0, start=T0 + 11,
                                       g_per_kwh=500.0), intensity_kind="marginal"),
               replace(storekit.record("mix", 3, cpu_j=3600.0, start=T0 + 12, g_per_kwh=0.0),
                       intensity_kind=None, emissions_g=0.0)]  # no intensity: no grams
    store.export([run, *records, summarize(run, records)])
    (vision,) = store.aggregate("project")
    assert vision.kind == "mixed" and vision.runs == 2
    assert vision.emissions_by_kind == pytest.approx({"average": 0.108, "marginal": 1.0})
    assert vision.emissions_g == pytest.approx(1.108)
    assert vision.to_dict()["kind"] == "mixed"
    by_component = {a.key: a for a in store.aggregate("component")}
    assert by_component["gpu"].kind == "marginal"
    assert by_component["gpu"].emissions_by_kind == pytest.approx({"marginal": 0.5})
    assert by_component["cpu"].emissions_by_kind == pytest.approx({"average": 0.108,
                                                                   "marginal": 0.5})
    (avg_only,) = store.aggregate("project", RunFilter(experiment="e", until_s=T0 + 5))
    assert avg_only.kind == "average"


def test_a_batch_failing_midway_leaves_nothing(store):
    run = storekit.info("r1")
    ok = storekit.record("r1", 1)
    with pytest.raises(StoreError, match="'ghost' is not in the store"):
        store.export([run, ok, storekit.span(), storekit.record("ghost", 1),
                      summarize(run, [ok])])
    assert store.runs().items == [] and store.spans("r1") == []
    store.export([run, ok])  # and the store is still usable
    assert [r.seq for r in store.records("r1")] == [1]


def test_a_bad_row_fails_the_batch_instead_of_vanishing(store):
    bad = storekit.record("r1", 2, cpu_j=float("nan"))  # NaN is bound as NULL: NOT NULL fails
    with pytest.raises(StoreError, match="NOT NULL.*nothing of this batch was written"):
        store.export([storekit.info("r1"), storekit.record("r1", 1), bad])
    assert store.runs().items == []


def test_records_of_a_run_never_announced_are_refused_clearly(store):
    with pytest.raises(StoreError, match="not in the store.*run info must be exported first"):
        store.export([storekit.record("ghost", 1)])


def test_aggregate_many_equals_one_aggregate_per_grouping(store):
    finished(store, "m1", started=T0, project="vision", host="gpu-1", gpu_j=50.0)
    finished(store, "m2", started=T0 + DAY, project="nlp", host="gpu-2",
             location={"country": "DE", "subdivision": None, "resolved_by": "config"})
    keys = ("project", "experiment", "day", "host", "component", "region")
    for flt in (None, RunFilter(project="nlp"), RunFilter(since_s=T0 + 1)):
        many = store.aggregate_many(keys, flt)
        assert list(many) == list(keys)
        for by in keys:
            assert many[by] == store.aggregate(by, flt), (by, flt)
    assert [a.key for a in store.aggregate_many(("region",))["region"]] == ["DE", "FR"]
    with pytest.raises(StoreError, match="cannot aggregate by 'colour'"):
        store.aggregate_many(("project", "colour"))


def test_record_figures_are_the_records_numbers_without_their_devices(store, tmp_path):
    run = storekit.info("fig")
    records = [storekit.record("fig", seq, cpu_j=10.0 * seq, gpu_j=5.0) for seq in (1, 2, 3)]
    records[1] = replace(records[1], gaps=("rapl:package-0: read failed",))
    store.export([run, *records])
    rows = store.record_figures("fig")
    assert [r[FIGURE_COLUMNS.index("seq")] for r in rows] == [1, 2, 3]
    for row, record in zip(rows, records, strict=True):
        for name, value in zip(FIGURE_COLUMNS, row, strict=True):
            expected = getattr(record, name)
            assert (json.loads(value) if name == "gaps" else value) == \
                (list(expected) if name == "gaps" else expected), name
    assert store.record_figures("none") == []
    merged = open_repository(tmp_path / "wattprint.db", host_id="x", hostname="x")
    assert merged.record_figures("fig") == rows
    merged.close()
