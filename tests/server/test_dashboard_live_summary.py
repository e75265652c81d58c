"""A running run's summary on the team server (dashboard/live_summary.py): built from the
rollups and the run's first and last records, it equals the summary summed record by record
(summarize over the records the query API returns), on SQLite and PostgreSQL (``db_url``),
for records sent through the real ingest in several batches: gaps, several components, two
intensity kinds and unscored intervals, a PUE, work units."""

from __future__ import annotations

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
                gpus: int = 1) -> Record:
    """Record ``seq`` of 2 s: a CPU, ``gpus`` GPUs and RAM at varying power; average and
    marginal intensities that vary, and every 7th interval without an intensity."""
    cpu = 40.0 + seq % 13
    gpu_parts = [200.0 + (seq % 7) * 10 + 5 * i for i in range(gpus)]
    ram = 3.0
    energy = cpu + sum(gpu_parts) + ram
    kind = None if seq % 7 == 0 else ("marginal" if seq % 3 == 0 else "average")
    g_per_kwh = 0.0 if kind is None else 30.0 + seq % 11
    return Record(
        run_id=RUN_ID, seq=seq, start_s=T0 + 2.0 * seq + (50.0 if seq > 100 else 0.0),
        duration_s=2.0, cpu_energy_j=cpu, gpu_energy_j=sum(gpu_parts), ram_energy_j=ram,
        other_energy_j=0.0, energy_j=energy, pue=pue,
        emissions_g=0.0 if kind is None else energy * pue * g_per_kwh / 3.6e6,
        intensity_g_per_kwh=g_per_kwh, intensity_zone="FR" if kind else "",
        intensity_source=("RTE" if kind == "marginal" else "Ember") if kind else "",
        intensity_year=2024 if kind else None, intensity_kind=kind,
        intensity_live=kind == "marginal", intensity_basis="generation" if kind else None,
        intensity_scope="lifecycle" if kind else None, intensity_gases="CO2e" if kind else None,
        components=(ComponentEnergy("cpu", "rapl:package-0", "measured", cpu, share=0.5,
                                    share_basis="measured"),
                    *(ComponentEnergy("gpu", f"nvml:{i}", "sampled", part)
                      for i, part in enumerate(gpu_parts)),
                    ComponentEnergy("ram", "ram", "modelled", ram)),
        gaps=gaps, work=(("step", 1.0), ("sample", 32.0)))


def edge_run(n: int = 240) -> list[Record]:
    """Every figure the edges cannot see the middle of is constant or at an edge: gaps in the
    first and last records, one device per class, one PUE, both kinds seen at the edges."""
    return [make_record(seq, gaps=("nvml:0: lost",) if seq == 1 else
                        ("rapl: counter wrapped",) if seq == n else ())
            for seq in range(1, n + 1)]


def send(client, auth, run_objects, records: list[Record], batch: int = 70) -> RunInfo:
    """The run's start and ``records`` through the real ingest, ``batch`` records a request."""
    wire = dict(run_objects[0][0], run_id=RUN_ID, started_s=T0, interval_s=2.0)
    assert client.post("/api/v1/ingest", json={"items": [wire]},
                       headers=auth).json()["accepted"] == 1
    for start in range(0, len(records), batch):
        items = [to_wire(r) for r in records[start:start + batch]]
        answer = client.post("/api/v1/ingest", json={"items": items}, headers=auth)
        assert answer.json() == {"accepted": len(items), "duplicates": 0}
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


def test_the_rollup_summary_equals_the_record_by_record_one(client, auth, engine, org,
                                                           run_objects):
    info = send(client, auth, run_objects, edge_run())
    slow, fast = both_paths(engine, org, info)

    assert slow.records == fast.records == 240
    assert slow.intensity["kind"] == "mixed" and slow.intensity["varied"] is True
    assert [row["kind"] for row in slow.intensity["by_kind"]] == ["average", "marginal", None]
    assert slow.gaps == ("nvml:0: lost", "rapl: counter wrapped")
    assert [w["unit"] for w in slow.work] == ["sample", "step"]
    want, got = slow.to_json(), fast.to_json()
    # the two documented differences: work units wait for the final summary, and the
    # summary says which figures are as of its edge records
    assert list(got.pop("work")) == []
    assert list(got.pop("warnings")) == [*info.warnings, LIVE_WARNING]
    del want["work"], want["warnings"]
    assert_same(got, want)


def test_what_the_edges_cannot_see_is_said_and_the_sums_stay_exact(client, auth, engine, org,
                                                                   run_objects):
    """A gap and a PUE change in the middle, two GPUs: the rollups' sums are still the record
    path's; the edge figures differ as the warning says."""
    records = [make_record(seq, pue=1.5 if 100 <= seq < 120 else 1.25, gpus=2,
                           gaps=("nvml:1: lost",) if seq == 150 else ())
               for seq in range(1, 241)]
    info = send(client, auth, run_objects, records)
    slow, fast = both_paths(engine, org, info)

    assert LIVE_WARNING in fast.warnings
    for name in ("duration_s", "emissions_g", "records"):
        assert_same(getattr(fast, name), getattr(slow, name), name)
    assert_same(dict(fast.energy_j), dict(slow.energy_j))
    gpu_fast = sum(c["energy_j"] for c in fast.components if c["component"] == "gpu")
    gpu_slow = sum(c["energy_j"] for c in slow.components if c["component"] == "gpu")
    assert_same(gpu_fast, gpu_slow)  # the class total exact, its split by the last record
    assert slow.gaps == ("nvml:1: lost",) and fast.gaps == ()
    for row_fast, row_slow in zip(fast.intensity["by_kind"], slow.intensity["by_kind"],
                                  strict=True):
        for name in ("records", "duration_s", "energy_j", "emissions_g"):
            assert_same(row_fast[name], row_slow[name], name)
    # the mean intensity takes the last record's PUE: off where the PUE changed mid-run
    average = 0
    assert not math.isclose(fast.intensity["by_kind"][average]["g_per_kwh"],
                            slow.intensity["by_kind"][average]["g_per_kwh"], rel_tol=1e-9)


def test_the_run_page_takes_the_rollups_beyond_the_limit(client, auth, engine, org,
                                                         run_objects, monkeypatch):
    info = send(client, auth, run_objects, edge_run(60), batch=25)
    data = ServerData(engine, org.organisation_id, clock=lambda: NOW_S)

    exact = data.run(RUN_ID).summary  # 60 records: within the limit, record by record
    assert exact.status == "running" and LIVE_WARNING not in exact.warnings
    assert [w["count"] for w in exact.work] == [60 * 32.0, 60.0]
    assert exact == summarize(info, data.records_since(RUN_ID, None, limit=100), spans=(),
                              status="running")

    monkeypatch.setattr(live_summary, "RECORD_PATH_MAX_RECORDS", 59)
    monkeypatch.setattr(ServerData, "_records",
                        lambda *a, **k: pytest.fail("a long run's page read every record"))
    fast = data.run(RUN_ID).summary
    assert LIVE_WARNING in fast.warnings and fast.records == 60
    assert_same(dict(fast.energy_j), dict(exact.energy_j))
    assert_same(fast.emissions_g, exact.emissions_g)
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
    # its work units are not "none counted": they wait for the final summary
    assert 'data-testid="work-pending"' in run_page.text and "No work counted" not in \
        run_page.text
    compared = browser.get(f"{base}/compare?run={RUN_ID}&run={other}")
    assert compared.status_code == 200 and total in compared.text
