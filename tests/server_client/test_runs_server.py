"""`wattprint runs --server` against the REAL server (uvicorn): the runs pushed from the local
store read back with their summaries' numbers; a key without the read scope is told why."""

from __future__ import annotations

import json
import time

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
pytest.importorskip("uvicorn", reason="the server extra is not installed")

import test_real_server  # noqa: E402
from run_items import login, stored_run  # noqa: E402

from wattprint.cli import main  # noqa: E402
from wattprint.server.accounts import create_api_key  # noqa: E402

PEPPER = test_real_server.PEPPER
real = test_real_server.real  # the fixture: the app under uvicorn on a fresh SQLite database


def _key(server, engine, scopes) -> str:
    with engine.begin() as connection:
        return create_api_key(connection, project_id=server.project_id, pepper=PEPPER.encode(),
                              now_s=time.time(), scopes=scopes)


def test_runs_server_lists_what_the_server_holds(real, monkeypatch, capsys):
    server, engine, _ = real
    key = _key(server, engine, ("ingest", "read"))
    assert login(monkeypatch, capsys, server.url, key)[0] == 0
    first, second = stored_run(3), stored_run(2)
    assert main(["push", "--all"]) == 0
    capsys.readouterr()

    assert main(["runs", "--server", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert main(["runs", "--server", "--limit", "1"]) == 0
    table, more = capsys.readouterr()

    by_id = {r["run_id"]: r for r in listed}
    assert set(by_id) == {first.run_id, second.run_id}
    for summary in (first, second):
        run = by_id[summary.run_id]
        assert run["status"] == "finished"
        assert run["energy_j"] == pytest.approx(summary.energy_j["total"])
        assert run["emissions_g"] == pytest.approx(summary.emissions_g)
    assert "status" in table and "finished" in table
    assert "more: wattprint runs --server --cursor" in table
    assert key not in table + more


def test_runs_server_with_an_ingest_only_key_says_to_use_a_read_key(real, monkeypatch, capsys):
    server, _, ingest_only = real
    assert login(monkeypatch, capsys, server.url, ingest_only)[0] == 0

    code = main(["runs", "--server"])

    said = "".join(capsys.readouterr())
    assert code == 1
    assert "403" in said and "read" in said and ingest_only not in said


def test_runs_server_without_a_login_says_how_to_log_in(capsys):
    code = main(["runs", "--server"])

    assert code != 0 and "wattprint login URL" in "".join(capsys.readouterr())
