"""A running run's summary on the team server (dashboard/live_summary.py): built from the
rollups alone, it equals the summary summed record by record (summarize over the records the
query API returns) in every field, on SQLite and PostgreSQL (``db_url``), for records sent
through the real ingest in several batches (retried, out of order): gaps at the edges and in
the middle, several components and two GPUs, shares, share bases and a PUE changing mid-run,
two intensity kinds and unscored intervals, work units."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from wattprint.records import ComponentEnergy, Record, RunInfo, summarize
from wattprint.server.dashboard import live_summary
from wattprint.server.dashboard.live_summary import LIVE_WARNING, summary_so_far
from wattprint.server.dashboard.server_data import ServerData
from wattprint.wire import from_wire, to_wire

T0 = 1_767_225_600.0
NOW_S = 1_800_000_000.0  # the client fixture's wall clock
RUN_ID = "live-run"


def make_record(seq: int, *, pue: float = 1.25, gaps: tuple[str, ...] = (),
                gpus: int = 1, cpu_share: float = 0.5, cpu_basis: str | None = "measured",
                kinds: tuple[str, ...] = ("average", "marginal"),
                work: bool = True) -> Record:
    """Record ``seq`` of 2 s: a CPU, ``gpus`` GPUs and RAM at varying power; intensities of
    ``kinds`` that vary, and every 7th interval without an intensity."""
    cpu = 40.0 + seq % 13
    gpu_parts = [200.0 + (seq % 7) * 10 + 5 * i for i in range(gpus)]
    ram = 3.0
    energy = cpu + sum(gpu_parts) + ram
    kind = None if seq % 7 == 0 else kinds[1] if seq % 3 == 0 and len(kinds) > 1 else kinds[0]
    g_per_kwh = 0.0 if kind is None else 30.0 + seq % 11
    return Record(
        run_id=RUN_ID, seq=seq, start_s=T0 + 2.0 * seq + (50.0 if seq > 100 else 0.0),
        duration_s=2.0 if seq % 5 else 1.5, cpu_energy_j=cpu, gpu_energy_j=sum(gpu_parts),
        ram_energy_j=ram, other_energy_j=0.0, energy_j=energy, pue=pue,
        emissions_g=0.0 if kind is None else energy * pue * g_per_kwh / 3.6e6,
        intensity_g_per_kwh=g_per_kwh, intensity_zone="FR" if kind else "",
        intensity_source=("RTE" if kind == "marginal" else "Ember") if kind else "",
        intensity_year=(2024 if seq < 200 else 2025) if kind else None, intensity_kind=kind,
        intensity_live=kind == "marginal", intensity_basis="generation" if kind else None,
        intensity_scope="lifecycle" if kind else None, intensity_gases="CO2e" if kind else None,
        components=(ComponentEnergy("cpu", "rapl:package-0", "measured", cpu, share=cpu_share,
                                    share_basis=cpu_basis),
                    *(ComponentEnergy("gpu", f"nvml:{i}", "sampled", part)
                      for i, part in enumerate(gpu_parts)),
                    ComponentEnergy("ram", "ram", "modelled", ram)),
        gaps=gaps, work=(("step", 1.0), ("sample", 32.0 + seq % 3)) if work else ())


def edge_run(n: int = 240) -> list[Record]:
    """Gaps in the first and last records only, one device per class, one PUE."""
    return [make_record(seq, gaps=("nvml:0: lost",) if seq == 1 else
                        ("rapl: counter wrapped",) if seq == n else ())
            for seq in range(1, n + 1)]


def changing_run(n: int = 240, **options: Any) -> list[Record]:
    """What a run's first and last records cannot tell: gaps appearing mid-run (one of them
    twice), a PUE, a CPU share and its basis changing mid-run, two GPUs, a device that first
    appears mid-run."""
    out = []
    for seq in range(1, n + 1):
        record = make_record(
            seq, pue=1.5 if 100 <= seq < 120 else 1.25, gpus=2 if seq >= 30 else 1,
            cpu_share=0.25 if 60 <= seq < 90 else 0.5,
            cpu_basis="estimated" if 60 <= seq < 90 else "measured",
            gaps=("nvml:1: lost",) if seq in (150, 170) else
            ("rapl: counter wrapped", "nvml:1: lost") if seq == 160 else (), **options)
        out.append(record)
    return out


def send(client, auth, run_objects, records: list[Record], batch: int = 70, *,
         shuffled: bool = False) -> RunInfo:
    """The run's start and ``records`` through the real ingest, ``batch`` records a request;
    ``shuffled``: the batches in reverse order, each sent twice (a retry stores nothing)."""
    wire = dict(run_objects[0][0], run_id=RUN_ID, started_s=T0, interval_s=2.0)
    assert client.post("/api/v1/ingest", json={"items": [wire]},
                       headers=auth).json()["accepted"] == 1
    parts = [records[start:start + batch] for start in range(0, len(records), batch)]
    for part in reversed(parts) if shuffled else parts:
        items = [to_wire(r) for r in part]
        for attempt in range(2 if shuffled else 1):
            answer = client.post("/api/v1/ingest", json={"items": items}, headers=auth)
            assert answer.json() == ({"accepted": len(items), "duplicates": 0} if not attempt
                                     else {"accepted": 0, "duplicates": len(items)})
    info = from_wire(wire)
    assert isinstance(info, RunInfo)
    return info


def both_paths(engine, org, info: RunInfo) -> tuple[Any, Any]:
    """(record path, rollup path) summaries of the running run, as the page builds them."""
    data = ServerData(engine, org.organisation_id, clock=lambda: NOW_S)
    records = data.records_since(RUN_ID, None, limit=10**6)
    with engine.connect() as connection:
        fast = summary_so_far(connection, RUN_ID, info, spans=(), status="running",
                              records=lambda: pytest.fail("the record path was taken"),
                              max_records=0)
    return summarize(info, records, spans=(), status="running"), fast


def assert_same(got: Any, want: Any, where: str = "") -> None:
    """Equal, floats to 1e-12 relative (the rollups add batch by batch, the record path one
    record at a time)."""
    if isinstance(want, float) and isinstance(got, float):
        assert math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12), (where, got, want)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), (where, got, want)
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), (where, got, want)
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    else:
        assert got == want, (where, got, want)


def assert_equal_summaries(slow: Any, fast: Any, info: RunInfo) -> None:
    """Every field equal; the rollup path's warnings add only that it is a summary so far."""
    want, got = slow.to_json(), fast.to_json()
    assert list(got.pop("warnings")) == [*info.warnings, LIVE_WARNING]
    assert list(want.pop("warnings")) == list(info.warnings)
    assert_same(got, want)


def test_the_rollup_summary_equals_the_record_by_record_one(client, auth, engine, org,
                                                           run_objects):
    info = send(client, auth, run_objects, edge_run())
    slow, fast = both_paths(engine, org, info)

    assert slow.records == fast.records == 240
    assert slow.intensity["kind"] == "mixed" and slow.intensity["varied"] is True
    assert [row["kind"] for row in slow.intensity["by_kind"]] == ["average", "marginal", None]
    assert slow.gaps == ("nvml:0: lost", "rapl: counter wrapped")
    assert [(w["unit"], w["count"]) for w in fast.work] == [("sample", 240 * 33.0),
                                                           ("step", 240.0)]
    assert_equal_summaries(slow, fast, info)


@pytest.mark.parametrize("kinds", [("average", "marginal"), ("average",)])
def test_figures_changing_mid_run_are_exact_too(client, auth, engine, org, run_objects, kinds):
    """Gaps appearing in the middle, a PUE and a CPU share (and its basis) changing there, two
    GPUs (one from record 30 on): batches out of order and retried."""
    info = send(client, auth, run_objects, changing_run(kinds=kinds), batch=45, shuffled=True)
    slow, fast = both_paths(engine, org, info)

    assert slow.gaps == ("nvml:1: lost", "rapl: counter wrapped") == fast.gaps
    assert [c["device"] for c in fast.components] == ["rapl:package-0", "nvml:0", "ram",
                                                     "nvml:1"]
    cpu = fast.components[0]
    assert cpu["share_basis"] == "mixed" and 0.25 < cpu["share"] < 0.5
    if kinds == ("average",):  # one kind: a mean intensity, over every record's own PUE
        assert fast.intensity["kind"] == "average" and fast.intensity["g_per_kwh"] > 0
        assert fast.intensity["year"] == 2025 and fast.intensity["live"] is False
    assert_equal_summaries(slow, fast, info)


def test_a_run_without_work_gaps_or_intensity_has_none_so_far(client, auth, engine, org,
                                                              run_objects):
    records = [dataclasses.replace(make_record(seq, work=False), intensity_kind=None,
                                   emissions_g=0.0, intensity_g_per_kwh=0.0, intensity_zone="",
                                   intensity_source="", intensity_year=None,
                                   intensity_live=False, intensity_basis=None,
                                   intensity_scope=None, intensity_gases=None)
               for seq in range(1, 31)]
    info = send(client, auth, run_objects, records, batch=13)
    slow, fast = both_paths(engine, org, info)

    assert fast.work == () and fast.gaps == () and fast.intensity["kind"] is None
    assert fast.intensity["source"] == "unavailable"
    assert_equal_summaries(slow, fast, info)


def test_scored_records_without_energy_take_the_latest_intensity(client, auth, engine, org,
                                                                 run_objects):
    """No energy to weigh by: the mean intensity is the latest record's, whatever order the
    batches arrived in."""
    def no_energy(record: Record) -> Record:
        return dataclasses.replace(
            record, cpu_energy_j=0.0, gpu_energy_j=0.0, ram_energy_j=0.0, energy_j=0.0,
            emissions_g=0.0, components=tuple(dataclasses.replace(c, energy_j=0.0)
                                              for c in record.components))

    records = [no_energy(make_record(seq, kinds=("average",))) for seq in range(1, 41)]
    info = send(client, auth, run_objects, records, batch=9, shuffled=True)
    slow, fast = both_paths(engine, org, info)

    assert fast.intensity["g_per_kwh"] == records[-1].intensity_g_per_kwh
    assert_equal_summaries(slow, fast, info)


def test_the_run_page_takes_the_rollups_beyond_the_limit(client, auth, engine, org,
                                                         run_objects, monkeypatch):
    info = send(client, auth, run_objects, edge_run(60), batch=25)
    data = ServerData(engine, org.organisation_id, clock=lambda: NOW_S)

    exact = data.run(RUN_ID).summary  # 60 records: within the limit, record by record
    assert exact.status == "running" and LIVE_WARNING not in exact.warnings
    assert [w["count"] for w in exact.work] == [sum(32.0 + seq % 3 for seq in range(1, 61)),
                                                60.0]
    assert exact == summarize(info, data.records_since(RUN_ID, None, limit=100), spans=(),
                              status="running")

    monkeypatch.setattr(live_summary, "RECORD_PATH_MAX_RECORDS", 59)
    monkeypatch.setattr(ServerData, "_records",
                        lambda *a, **k: pytest.fail("a long run's page read every record"))
    fast = data.run(RUN_ID).summary
    assert LIVE_WARNING in fast.warnings and fast.records == 60
    assert_equal_summaries(exact, fast, info)
    assert fast.status == "running"


def test_the_run_and_compare_pages_show_the_summary_so_far_and_say_so(client, auth, org,
                                                                      run_objects, monkeypatch):
    import html

    from fastapi.testclient import TestClient
    from server_constants import OWNER  # tests/server is on sys.path (see conftest)

    from wattprint.server.dashboard import fmt

    send(client, auth, run_objects, edge_run(60), batch=25)
    items, _ = run_objects  # a finished run to compare it with
    assert client.post("/api/v1/ingest", json={"items": items}, headers=auth).status_code == 200
    other = items[0]["run_id"]
    # (a run this short has its chart and waste read from its records: not the summary's path)
    monkeypatch.setattr(live_summary, "RECORD_PATH_MAX_RECORDS", 59)
    browser = TestClient(client.app, base_url="https://testserver")  # the cookie is Secure
    assert browser.post("/api/v1/login", json=OWNER).status_code == 200
    base = f"/dashboard/orgs/{org.organisation_id}"
    engine = client.app.state.engine
    summary = ServerData(engine, org.organisation_id, clock=lambda: NOW_S).run(RUN_ID).summary
    assert LIVE_WARNING in summary.warnings
    total = fmt.energy(summary.energy_j["total"])
    assert total == fmt.energy(sum(r.energy_j for r in edge_run(60)))
    run_page = browser.get(f"{base}/runs/{RUN_ID}")
    assert run_page.status_code == 200
    assert LIVE_WARNING in html.unescape(run_page.text) and total in run_page.text
    # its work units so far, counted at ingest
    assert 'data-testid="work-table"' in run_page.text and "No work counted" not in \
        run_page.text
    assert [w["count"] for w in summary.work] == [sum(32.0 + seq % 3 for seq in range(1, 61)),
                                                  60.0]
    compared = browser.get(f"{base}/compare?run={RUN_ID}&run={other}")
    assert compared.status_code == 200 and total in compared.text
