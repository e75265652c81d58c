"""Team server ingest throughput over real HTTP: records per second, sustained, and server RSS.

The server (``wattprint.server.app.create_app`` under uvicorn, one worker) runs in its own
process on a fresh database; a client process posts batches of wire objects (one run info, then
records with rising sequence numbers) with an ingest key, one request at a time, as the http
sink does. Goal (issue 10): >= 10,000 records/s sustained with batches of 1,000 on PostgreSQL.

    python benchmarks/bench_server_ingest.py --db sqlite
    python benchmarks/bench_server_ingest.py --db postgresql   # starts tools/pg_test_server.sh

Needs the ``server`` extra (``make test`` installs it).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from _common import emit

ROOT = Path(__file__).resolve().parents[1]
PEPPER = "bench-pepper"

SERVE = r"""
import sys, uvicorn
from wattprint.server.app import create_app
from wattprint.server.settings import Settings
app = create_app(Settings(db_url=sys.argv[1], pepper=sys.argv[2]))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[3]), log_level="warning", lifespan="off")
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pg_base_url() -> str:
    return os.environ.get("WATTPRINT_TEST_PG_URL") or subprocess.run(
        [str(ROOT / "tools" / "pg_test_server.sh"), "start"], check=True, capture_output=True,
        text=True).stdout.strip().splitlines()[-1]


def _pg_database(base: str, name: str, *, drop: bool = False) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if drop:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        else:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.replace("/postgres?", f"/{name}?")


def _prepare(db_url: str) -> str:
    from wattprint.server.accounts import bootstrap
    from wattprint.server.db import make_engine
    from wattprint.server.migrate import upgrade

    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as connection:
        made = bootstrap(connection, organisation="Bench", email="owner@bench.test",
                         password="correct horse battery", pepper=PEPPER.encode(),
                         now_s=time.time())
    engine.dispose()
    return made.api_key


def _items(total: int) -> tuple[dict[str, object], list[dict[str, object]]]:
    """A real run's wire objects, its one record repeated with rising sequence numbers."""
    import wattprint
    from wattprint.sensors.fake import FakeDevice, FakeSensor
    from wattprint.sinks.memory import MemorySink
    from wattprint.wire import to_wire

    sink = MemorySink()
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 50.0), FakeDevice("fake:gpu", "gpu", 250.0)])
    tracker = wattprint.Tracker(sensors=[sensor], sinks=[sink], country="FR", interval_s=3600)
    tracker.start()
    tracker.stop()
    assert sink.run is not None and sink.records
    info = to_wire(sink.run)
    record = to_wire(sink.records[0])
    records = []
    for seq in range(total):
        one = dict(record)
        one["seq"] = seq
        one["start_s"] = float(str(record["start_s"])) + seq
        records.append(one)
    return info, records


def _rss_peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()
    import httpx

    pg_base = _pg_base_url() if args.db == "postgresql" else ""
    pg_name = f"bench_{uuid.uuid4().hex[:12]}"
    with tempfile.TemporaryDirectory() as tmp:
        db_url = (f"sqlite:///{Path(tmp) / 'server.db'}" if args.db == "sqlite"
                  else _pg_database(pg_base, pg_name))
        key = _prepare(db_url)
        info, records = _items(args.records)
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-c", SERVE, db_url, PEPPER, str(port)])
        try:
            url = f"http://127.0.0.1:{port}/api/v1/ingest"
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(timeout=60.0) as client:
                deadline = time.monotonic() + 20.0
                while True:
                    try:
                        client.get(f"http://127.0.0.1:{port}/healthz")
                        break
                    except httpx.TransportError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
                client.post(url, json={"items": [info]}, headers=headers).raise_for_status()
                started = time.perf_counter()
                for first in range(0, len(records), args.batch):
                    answer = client.post(url, json={"items": records[first:first + args.batch]},
                                         headers=headers)
                    answer.raise_for_status()
                elapsed = time.perf_counter() - started
            rss = _rss_peak_mb(server.pid)
        finally:
            server.terminate()
            server.wait(10)
            if pg_base:
                _pg_database(pg_base, pg_name, drop=True)
    emit("server_ingest", {
        "db": args.db,
        "records": args.records,
        "batch": args.batch,
        "records_per_s": round(args.records / elapsed),
        "server_peak_rss_mb": round(rss, 1),
        "goal_records_per_s_postgresql": 10_000,
    })


if __name__ == "__main__":
    main()
