"""``wattprint push`` sends each run's local rescores after its items, to the REAL server under
uvicorn: a run rescored locally (with an injected hourly history) reads back from the server
with the same figures; pushing again stores nothing twice; a server that answers 404 on the
rescores route (one older than them) is reported, the run itself still pushed."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
pytest.importorskip("uvicorn", reason="the server extra is not installed")

from run_items import login, stored_run  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from test_real_server import PEPPER  # noqa: E402
from test_real_server import real as real  # noqa: E402  (the real server fixture)

from wattprint.cli import main  # noqa: E402
from wattprint.cli.common import reading_settings  # noqa: E402
from wattprint.intensity.providers import IntensityPoint  # noqa: E402
from wattprint.rescore import rescore_records  # noqa: E402
from wattprint.server.accounts import create_api_key  # noqa: E402
from wattprint.server.models import Rescore, Summary  # noqa: E402
from wattprint.store import Store  # noqa: E402


def _rescore_locally(run_id: str, *, g_per_kwh: float, created_s: float) -> dict:
    """What `wattprint rescore` stores, with a provider history of one constant value."""
    store = Store(reading_settings().store_path)
    try:
        records = store.records(run_id)
        point = IntensityPoint(start=datetime(1970, 1, 1, tzinfo=timezone.utc),
                               end=datetime(2100, 1, 1, tzinfo=timezone.utc),
                               g_per_kwh=g_per_kwh, kind="marginal", zone="FR",
                               source="injected", forecast=False)
        result = rescore_records(records, [point], provider="injected", kind="marginal")
        store.add_rescore(run_id, "injected", created_s=created_s,
                          emissions_g=result.emissions_g,
                          intensity_g_per_kwh=result.intensity_g_per_kwh, kind=result.kind,
                          detail_json=json.dumps(result.to_json()))
        return {"provider": "injected", "created_s": created_s,
                "emissions_g": result.emissions_g,
                "intensity_g_per_kwh": result.intensity_g_per_kwh, "kind": result.kind,
                "detail": result.to_json()}
    finally:
        store.close()


def _server_rescores(server, engine, run_id: str) -> dict:
    import httpx

    with engine.begin() as connection:
        read_key = create_api_key(connection, project_id=server.project_id,
                                  pepper=PEPPER.encode(), now_s=time.time(), scopes=("read",))
    answer = httpx.get(f"{server.url}/api/v1/runs/{run_id}/rescores",
                       headers={"Authorization": f"Bearer {read_key}"})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_push_sends_the_runs_rescores_once(real, monkeypatch, capsys):
    server, engine, key = real
    summary = stored_run(3)
    first = _rescore_locally(summary.run_id, g_per_kwh=120.0, created_s=1_700_000_100.0)
    second = _rescore_locally(summary.run_id, g_per_kwh=480.0, created_s=1_700_000_200.0)
    assert login(monkeypatch, capsys, server.url, key)[0] == 0

    assert main(["push", summary.run_id]) == 0
    said = capsys.readouterr().out
    assert main(["push", summary.run_id, "--json"]) == 0  # again: nothing stored twice
    again = json.loads(capsys.readouterr().out)

    assert "2 new rescores" in said
    assert again["runs"][0]["rescores_stored"] == 0
    listed = _server_rescores(server, engine, summary.run_id)
    assert listed["rescores"] == [first, second]
    assert listed["original_emissions_g"] == pytest.approx(summary.emissions_g)
    energy_kwh = summary.energy_j["total"] / 3.6e6
    assert [r["emissions_g"] for r in listed["rescores"]] == pytest.approx(
        [120.0 * energy_kwh, 480.0 * energy_kwh])
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Rescore)).scalar() == 2


def test_push_all_sends_a_run_again_when_it_was_rescored_after_its_push(real, monkeypatch,
                                                                        capsys):
    server, engine, key = real
    summary = stored_run(2)
    assert login(monkeypatch, capsys, server.url, key)[0] == 0
    assert main(["push", "--all"]) == 0
    capsys.readouterr()
    assert main(["push", "--all"]) == 0
    assert "nothing to push" in capsys.readouterr().out
    later = _rescore_locally(summary.run_id, g_per_kwh=90.0, created_s=4_000_000_000.0)

    assert main(["push", "--all"]) == 0

    assert "1 new rescores" in capsys.readouterr().out
    assert _server_rescores(server, engine, summary.run_id)["rescores"] == [later]


def test_a_server_without_the_rescores_route_is_reported_not_a_crash(real, monkeypatch,
                                                                      capsys):
    server, engine, key = real
    summary = stored_run(2)
    _rescore_locally(summary.run_id, g_per_kwh=120.0, created_s=1_700_000_100.0)
    assert login(monkeypatch, capsys, server.url, key)[0] == 0
    # an older server: the rescores routes are not there (FastAPI's own 404, an unknown path)
    from wattprint.server.routes_rescores import router as rescores_router

    app = server._server.config.app
    app.router.routes[:] = [route for route in app.router.routes
                            if getattr(route, "original_router", None) is not rescores_router]

    assert main(["push", summary.run_id, "--json"]) == 0
    out, err = capsys.readouterr()

    [result] = json.loads(out)["runs"]
    assert result["pushed"] is True and "404" in result["rescores_error"]
    assert "rescores of run" in err and "upgrade it" in err
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Rescore)).scalar() == 0
        assert connection.execute(select(func.count()).select_from(Summary)).scalar() == 1
