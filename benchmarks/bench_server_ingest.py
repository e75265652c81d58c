"""Team server ingest throughput over real HTTP: records per second, sustained, and server RSS.

The server (``wattprint.server.app.create_app`` under uvicorn, ``--workers`` processes) runs
apart on a fresh database; ``--senders`` client threads (one keep-alive connection each, like
that many trackers' http sinks) post batches of wire objects: each sender one run info, then
its run's records with rising sequence numbers, one request at a time. The bodies are encoded
before the clock starts, so the client costs only its HTTP work. Goal (issue 10): >= 10,000
records/s sustained with batches of 1,000 on PostgreSQL, client, server and database sharing
the machine.

Besides records/s it reports the CPU seconds each side used during the timed part (client,
server processes, PostgreSQL's processes) per record, and the server's peak RSS (the largest
worker, and all of them together).

    python benchmarks/bench_server_ingest.py --db sqlite
    python benchmarks/bench_server_ingest.py --db postgresql   # starts tools/pg_test_server.sh
    python benchmarks/bench_server_ingest.py --db postgresql --workers 2 --senders 4

Needs the ``server`` extra (``make test`` installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil

from _common import emit, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
PEPPER = "bench-pepper"

# the app factory uvicorn imports in each worker (a module: --workers needs an import string)
SERVE_MODULE = """
import os
from wattprint.server.app import create_app
from wattprint.server.settings import Settings

def make():
    return create_app(Settings(db_url=os.environ["BENCH_DB_URL"], pepper=os.environ["BENCH_PEPPER"]))
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


def _run_objects() -> tuple[dict[str, object], dict[str, object]]:
    """A real run's info and first record, as wire objects."""
    import wattprint
    from wattprint.config import load_config
    from wattprint.sensors.fake import FakeDevice, FakeSensor
    from wattprint.sinks.memory import MemorySink
    from wattprint.wire import to_wire

    sink = MemorySink()
    sensor = FakeSensor([FakeDevice("fake:cpu", "cpu", 50.0), FakeDevice("fake:gpu", "gpu", 250.0)])
    # no environment: WATTPRINT_TEST_PG_URL (the test database) is no tracker setting
    tracker = wattprint.Tracker(config=load_config(environ={}), sensors=[sensor], sinks=[sink],
                                country="FR", interval_s=3600)
    tracker.start()
    tracker.stop()
    assert sink.run is not None and sink.records
    return to_wire(sink.run), to_wire(sink.records[0])


def _sender_bodies(info: dict[str, object], record: dict[str, object], *, run_id: str,
                   records: int, batch: int) -> tuple[bytes, list[bytes]]:
    """One sender's run info and its record batches, encoded: the run's record repeated with
    rising sequence numbers and start times."""
    start_s = float(str(record["start_s"]))
    rows = [dict(record, run_id=run_id, seq=seq, start_s=start_s + seq) for seq in range(records)]
    bodies = [json.dumps({"items": rows[first:first + batch]}).encode()
              for first in range(0, records, batch)]
    return json.dumps({"items": [dict(info, run_id=run_id)]}).encode(), bodies


def _tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def _cpu_s(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _postgres_cpu_s(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend on ``database`` now (one per connection; the
    server is shared with other work, whose backends are left out)."""
    out = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and database in " ".join(
                process.info["cmdline"] or ()):
            out[process.pid] = _cpu_s([process])
    return out


def _rss_peak_mb(pid: int) -> float:
    """VmHWM: the process's peak resident memory."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--records", type=int, default=50_000, help="in all, over the senders")
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--senders", type=int, default=1, help="concurrent client connections")
    parser.add_argument("--http", choices=["auto", "h11", "httptools"], default="auto",
                        help="uvicorn's HTTP parser (auto: httptools when installed)")
    args = parser.parse_args()
    import httpx

    pg_base = _pg_base_url() if args.db == "postgresql" else ""
    pg_name = f"bench_{uuid.uuid4().hex[:12]}"
    info, record = _run_objects()
    per_sender = args.records // args.senders
    senders = [_sender_bodies(info, record, run_id=uuid.uuid4().hex, records=per_sender,
                              batch=args.batch) for _ in range(args.senders)]
    with tempfile.TemporaryDirectory() as tmp:
        db_url = (f"sqlite:///{Path(tmp) / 'server.db'}" if args.db == "sqlite"
                  else _pg_database(pg_base, pg_name))
        key = _prepare(db_url)
        (Path(tmp) / "bench_app.py").write_text(SERVE_MODULE)
        port = _free_port()
        env = dict(os.environ, BENCH_DB_URL=db_url, BENCH_PEPPER=PEPPER,
                   PYTHONPATH=os.pathsep.join([tmp, os.environ.get("PYTHONPATH", "")]))
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "bench_app:make", "--factory", "--host",
             "127.0.0.1", "--port", str(port), "--workers", str(args.workers), "--log-level",
             "warning", "--lifespan", "off", "--no-access-log", "--http", args.http],
            env=env, cwd=tmp)
        try:
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            clients = [httpx.Client(base_url=base, headers=headers, timeout=120.0)
                       for _ in senders]
            for client in clients:
                wait_healthy(client, f"{base}/healthz", poll_s=0.05)
            for client, (info_body, _) in zip(clients, senders, strict=True):
                client.post("/api/v1/ingest", content=info_body).raise_for_status()
            failures: list[BaseException] = []

            def send(client: httpx.Client, bodies: list[bytes]) -> None:
                try:
                    for body in bodies:
                        client.post("/api/v1/ingest", content=body).raise_for_status()
                except BaseException as exc:  # reported after the run
                    failures.append(exc)

            threads = [threading.Thread(target=send, args=(client, bodies))
                       for client, (_, bodies) in zip(clients, senders, strict=True)]
            server_processes = _tree(server.pid)
            server_cpu, postgres_before = _cpu_s(server_processes), _postgres_cpu_s(pg_name)
            client_times = os.times()
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
            client_after = os.times()
            server_cpu = _cpu_s(server_processes) - server_cpu
            postgres_cpu = sum(cpu - postgres_before.get(pid, 0.0)
                               for pid, cpu in _postgres_cpu_s(pg_name).items())
            for client in clients:
                client.close()
            if failures:
                raise failures[0]
            rss = [_rss_peak_mb(process.pid) for process in server_processes]
        finally:
            server.terminate()
            server.wait(30)
            if pg_base:
                _pg_database(pg_base, pg_name, drop=True)
    sent = per_sender * args.senders
    client_cpu = (client_after.user - client_times.user) + (client_after.system - client_times.system)

    def us_per_record(cpu_s: float) -> float:
        return round(cpu_s / sent * 1e6, 1)

    emit("server_ingest", {
        "db": args.db,
        "records": sent,
        "batch": args.batch,
        "workers": args.workers,
        "senders": args.senders,
        "http": args.http,
        "records_per_s": round(sent / elapsed),
        # PostgreSQL: the benchmark database's backends (not the WAL writer or checkpointer)
        "cpu_us_per_record": {"client": us_per_record(client_cpu),
                              "server": us_per_record(server_cpu),
                              "postgresql": us_per_record(postgres_cpu) if pg_base else None},
        "client_cpu_share": round(client_cpu / elapsed, 2),  # of one core
        "server_peak_rss_mb": round(max(rss), 1),  # the largest process
        "server_peak_rss_mb_all": round(sum(rss), 1),  # supervisor and workers together
        "load_average_1m": round(os.getloadavg()[0], 2),
        "goal_records_per_s_postgresql": 10_000,
    })


if __name__ == "__main__":
    main()
