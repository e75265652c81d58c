"""CodeCarbon history imported into the local store reaches the REAL team server with
``wattprint push``: its database holds each imported run's energy and emissions exactly, and
the run's provenance tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed")
pytest.importorskip("uvicorn", reason="the server extra is not installed")

from real_server import RealServer, bootstrapped  # noqa: E402
from run_items import login  # noqa: E402
from sqlalchemy import select  # noqa: E402

from wattprint.cli import main  # noqa: E402
from wattprint.server.models import IntervalRecord, Run, Summary  # noqa: E402
from wattprint.server.settings import Settings  # noqa: E402

PEPPER = "codecarbon-push-pepper"
EMISSIONS_CSV = (
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,"
    "country_iso_code,region,cloud_provider,cloud_region,os,python_version,codecarbon_version,"
    "cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,"
    "on_cloud,pue\n"
    "2025-03-02T10:00:00,resnet,aa11,e1,120.0,0.0009,7.5e-06,60.0,0.0,4.5,0.003,0.0,0.000225,"
    "0.003225,Germany,DEU,,,,Linux,3.10.12,2.8.4,4,Intel Core i7,0,,13.4,52.5,16.0,machine,N,"
    "1.5\n"
    "2025-03-03T11:00:00,resnet,bb22,e1,60.0,0.0004,6.7e-06,50.0,100.0,4.5,0.0008,0.0016,"
    "0.000075,0.002475,Germany,DEU,,,,Linux,3.10.12,2.8.4,4,Intel Core i7,1,1 x RTX 4090,13.4,"
    "52.5,16.0,machine,N,1.0\n"
)


@pytest.fixture
def server(tmp_path: Path):
    db_url, engine, org = bootstrapped(tmp_path, PEPPER)
    running = RealServer(Settings(db_url=db_url, pepper=PEPPER))
    running.up()
    yield running.url, engine, org.api_key
    running.down()
    engine.dispose()


def test_imported_runs_are_pushed_to_the_real_server_exactly(server, tmp_path, monkeypatch,
                                                             capsys):
    url, engine, key = server
    path = tmp_path / "emissions.csv"
    path.write_text(EMISSIONS_CSV, encoding="utf-8")
    assert main(["import", "codecarbon", str(path), "--timezone", "UTC", "--json"]) == 0
    imported = [r["run_id"] for r in json.loads(capsys.readouterr().out)["imported"]]
    assert len(imported) == 2
    code, said = login(monkeypatch, capsys, url, key)
    assert code == 0, said
    assert main(["push", "--all"]) == 0
    capsys.readouterr()
    expected = {  # IT energy (CodeCarbon's kWh / PUE) in J, emissions in g
        imported[0]: ((0.003 + 0.0 + 0.000225) * 3.6e6 / 1.5, 0.9),
        imported[1]: ((0.0008 + 0.0016 + 0.000075) * 3.6e6, 0.4),
    }
    with engine.connect() as connection:
        for run_id, (energy_j, emissions_g) in expected.items():
            stored = connection.execute(select(Summary).where(Summary.run_id == run_id)).one()
            records = connection.execute(select(IntervalRecord).where(
                IntervalRecord.run_id == run_id)).all()
            assert stored.energy_j == pytest.approx(energy_j, rel=1e-12)
            assert stored.emissions_g == pytest.approx(emissions_g, rel=1e-12)
            assert len(records) == 1 and records[0].energy_j == pytest.approx(energy_j, rel=1e-12)
            # where it ran, and its provenance, as the server keeps them
            run = connection.execute(select(Run).where(Run.run_id == run_id)).one()
            assert (run.country, run.info_received) == ("DE", True)
            assert run.wire is not None
            assert run.wire["tags"]["imported_from"] == "codecarbon 2.8.4 emissions.csv"
            assert run.wire["tags"]["imported.method"] == "imported"
