"""The local store: one SQLite file per user (WAL mode), the embedded default sink's database.

Every interval is committed as it arrives, so a process killed mid-run leaves every interval
written so far; such a run stays ``running`` in the table and is shown as ``interrupted`` once
its process is gone.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..errors import StoreError
from ..records import RECORD_COLUMNS, Record, RunInfo, RunSummary, SpanRecord, summarize
from .schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["RunRow", "Store"]

_SPAN_COLUMNS = tuple(SpanRecord.__dataclass_fields__)
_INSERT_RECORD = (
    f"INSERT INTO records ({', '.join(RECORD_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in RECORD_COLUMNS)})"
)


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    project: str
    experiment: str
    started_s: float
    ended_s: float | None
    status: str  # running | finished | failed | interrupted
    hostname: str | None
    duration_s: float | None
    energy_j: float | None
    emissions_g: float | None
    exit_code: int | None
    job_id: str | None = None


class Store:
    """A connection to the local SQLite store. Thread-safe through one lock."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            # WAL + NORMAL: a commit is a write() to the log, not an fsync, so each interval
            # survives the process being killed (not a power cut) at almost no cost.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._lock = threading.Lock()
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"cannot open the store at {self.path}: {exc}; set `home` (WATTPRINT_HOME) to "
                "a writable directory"
            ) from exc

    # -- schema ---------------------------------------------------------------------------
    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this wattprint "
                f"understands ({SCHEMA_VERSION}); upgrade wattprint"
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            with self._lock:
                self._db.executescript(
                    "BEGIN;" + MIGRATIONS[number - 1] + f";PRAGMA user_version={number};COMMIT;"
                )

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing --------------------------------------------------------------------------
    def begin_run(self, info: RunInfo) -> None:
        host = info.host
        with self._lock:
            self._db.execute(
                "INSERT INTO runs (run_id, project, experiment, started_s, status, hostname, pid,"
                " info_json, job_id) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (info.run_id, info.project, info.experiment, info.started_s,
                 host.get("hostname"), host.get("pid"), json.dumps(info.to_dict()),
                 (info.job or {}).get("job_id")),
            )

    def add_record(self, record: Record) -> None:
        self.add_records([record])

    def add_records(self, records: Sequence[Record]) -> None:
        """Insert records in one transaction (one commit, however many rows)."""
        rows = [tuple(r.to_row()[c] for c in RECORD_COLUMNS) for r in records]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(_INSERT_RECORD, rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def add_span(self, span: SpanRecord) -> None:
        data = span.to_dict()
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO spans ({', '.join(_SPAN_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _SPAN_COLUMNS)})",
                tuple(data[c] for c in _SPAN_COLUMNS),
            )

    def finish_run(self, summary: RunSummary, *, ended_s: float) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status=?, ended_s=?, duration_s=?, energy_j=?, emissions_g=?,"
                " exit_code=?, summary_json=? WHERE run_id=?",
                (summary.status, ended_s, summary.duration_s, summary.energy_j.get("total"),
                 summary.emissions_g, summary.exit_code, summary.dumps(), summary.run_id),
            )

    def add_rescore(self, run_id: str, provider: str, *, created_s: float, emissions_g: float,
                    intensity_g_per_kwh: float, kind: str, detail_json: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO rescores (run_id, provider, created_s, emissions_g,"
                " intensity_g_per_kwh, kind, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, provider, created_s, emissions_g, intensity_g_per_kwh, kind,
                 detail_json),
            )

    def rescores(self, run_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT provider, created_s, emissions_g, intensity_g_per_kwh, kind FROM rescores"
                " WHERE run_id=? ORDER BY created_s", (run_id,)).fetchall()
        return [dict(r) for r in rows]

    # -- reading --------------------------------------------------------------------------
    def _status(self, row: sqlite3.Row) -> str:
        if row["status"] != "running":
            return str(row["status"])
        same_host = row["hostname"] == socket.gethostname()
        return "interrupted" if same_host and not _pid_alive(row["pid"]) else "running"

    def runs(
        self, *, limit: int = 20, project: str | None = None, experiment: str | None = None,
        job_id: str | None = None,
    ) -> list[RunRow]:
        sql = "SELECT * FROM runs"
        where: list[str] = []
        args: list[Any] = []
        if job_id:
            where.append("job_id = ?")
            args.append(job_id)
        if project:
            where.append("project = ?")
            args.append(project)
        if experiment:
            where.append("experiment = ?")
            args.append(experiment)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_s DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [self._run_row(r) for r in rows]

    def _run_row(self, row: sqlite3.Row) -> RunRow:
        return RunRow(
            run_id=row["run_id"], project=row["project"], experiment=row["experiment"],
            started_s=row["started_s"], ended_s=row["ended_s"], status=self._status(row),
            hostname=row["hostname"], duration_s=row["duration_s"], energy_j=row["energy_j"],
            emissions_g=row["emissions_g"], exit_code=row["exit_code"], job_id=row["job_id"],
        )

    def resolve_id(self, prefix: str) -> str:
        """The full run id for a unique prefix (as git does for commits)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' LIMIT 2",
                (prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
        if not rows:
            raise StoreError(f"no run matches {prefix!r} in {self.path}; see `wattprint runs`")
        if len(rows) > 1:
            raise StoreError(f"{prefix!r} matches several runs; give more characters")
        return str(rows[0][0])

    def info(self, run_id: str) -> RunInfo:
        with self._lock:
            row = self._db.execute("SELECT info_json FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.path}")
        return RunInfo.from_dict(json.loads(row[0]))

    def records(self, run_id: str) -> list[Record]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM records WHERE run_id=? ORDER BY seq", (run_id,)
            ).fetchall()
        return [Record.from_row(dict(r)) for r in rows]

    def spans(self, run_id: str) -> list[SpanRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM spans WHERE run_id=? ORDER BY start_s, span_id", (run_id,)
            ).fetchall()
        return [SpanRecord(**{c: r[c] for c in _SPAN_COLUMNS}) for r in rows]

    def summary(self, run_id: str) -> RunSummary:
        """The stored summary of a finished run, or one rebuilt from its records."""
        with self._lock:
            row = self._db.execute("SELECT * FROM runs WHERE run_id=?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.path}")
        if row["summary_json"]:
            return RunSummary.from_json(json.loads(row["summary_json"]))
        info = RunInfo.from_dict(json.loads(row["info_json"]))
        return summarize(
            info, self.records(run_id), spans=self.spans(run_id), status=self._status(row)
        )


def _pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
