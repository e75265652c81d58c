"""The local store's schema and its migrations.

``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS` holds the SQL that takes
version N-1 to N. Never edit a shipped migration: append a new one. The interval columns are
:data:`wattprint.records.RECORD_COLUMNS`, the same schema the CSV/JSON sinks, the HTTP sink and
the team server use.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: runs, interval records, spans
    """
    CREATE TABLE runs (
        run_id       TEXT PRIMARY KEY,
        project      TEXT NOT NULL,
        experiment   TEXT NOT NULL,
        started_s    REAL NOT NULL,
        ended_s      REAL,
        status       TEXT NOT NULL,          -- running | finished | failed
        hostname     TEXT,
        pid          INTEGER,
        duration_s   REAL,
        energy_j     REAL,
        emissions_g  REAL,
        exit_code    INTEGER,
        info_json    TEXT NOT NULL,          -- RunInfo
        summary_json TEXT                    -- RunSummary, once finished
    );
    CREATE INDEX runs_by_start ON runs (started_s);
    CREATE INDEX runs_by_project ON runs (project, experiment, started_s);
    CREATE TABLE records (
        run_id              TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        seq                 INTEGER NOT NULL,
        start_s             REAL NOT NULL,
        duration_s          REAL NOT NULL,
        cpu_energy_j        REAL NOT NULL,
        gpu_energy_j        REAL NOT NULL,
        ram_energy_j        REAL NOT NULL,
        other_energy_j      REAL NOT NULL,
        energy_j            REAL NOT NULL,
        pue                 REAL NOT NULL,
        emissions_g         REAL NOT NULL,
        intensity_g_per_kwh REAL NOT NULL,
        intensity_zone      TEXT NOT NULL,
        intensity_source    TEXT NOT NULL,
        intensity_year      INTEGER,
        intensity_kind      TEXT NOT NULL,
        intensity_live      INTEGER NOT NULL,
        components          TEXT NOT NULL,   -- JSON list of {component, device, method, energy_j, share}
        gaps                TEXT NOT NULL,   -- JSON list of strings
        PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE spans (
        run_id         TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        span_id        TEXT NOT NULL,
        parent_id      TEXT,
        name           TEXT NOT NULL,
        start_s        REAL NOT NULL,
        end_s          REAL NOT NULL,
        duration_s     REAL NOT NULL,
        cpu_energy_j   REAL NOT NULL,
        gpu_energy_j   REAL NOT NULL,
        ram_energy_j   REAL NOT NULL,
        other_energy_j REAL NOT NULL,
        energy_j       REAL NOT NULL,
        emissions_g    REAL NOT NULL,
        PRIMARY KEY (run_id, span_id)
    );
    """,
    # 2: distributed-job identity on runs; emissions recomputed later (`wattprint rescore`),
    #    kept beside the numbers measured at the time, never over them
    """
    ALTER TABLE runs ADD COLUMN job_id TEXT;
    CREATE INDEX runs_by_job ON runs (job_id);
    CREATE TABLE rescores (
        run_id              TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        provider            TEXT NOT NULL,
        created_s           REAL NOT NULL,
        emissions_g         REAL NOT NULL,
        intensity_g_per_kwh REAL NOT NULL,   -- energy-weighted over the run
        kind                TEXT NOT NULL,   -- average | marginal
        detail_json         TEXT NOT NULL,   -- per record: seq, g_per_kwh, emissions_g, source
        PRIMARY KEY (run_id, provider, created_s)
    );
    """,
    # 3: many processes and machines. The tracker's own pid and heartbeat decide liveness (see
    #    store/liveness.py); records carry units of work; spans become aggregates (one row per
    #    parent and name, see records.SpanRecord). Spans stored before v3 were single instances
    #    whose edges were read from the sensors: they become count=1 aggregates, boundary "exact".
    """
    ALTER TABLE runs ADD COLUMN host_id TEXT;
    ALTER TABLE runs ADD COLUMN tracker_pid INTEGER;
    ALTER TABLE runs ADD COLUMN heartbeat_s REAL;           -- last seen, wall clock (Unix s)
    ALTER TABLE runs ADD COLUMN heartbeat_every_s REAL;     -- promised heartbeat period
    CREATE INDEX runs_by_host ON runs (host_id, started_s);
    CREATE INDEX runs_by_status ON runs (status, started_s);
    ALTER TABLE records ADD COLUMN work TEXT NOT NULL DEFAULT '[]';  -- JSON [{unit, count}]
    CREATE TABLE spans_v3 (
        run_id         TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        span_id        TEXT NOT NULL,
        parent_id      TEXT,
        name           TEXT NOT NULL,
        count          INTEGER NOT NULL,
        first_start_s  REAL NOT NULL,
        last_end_s     REAL NOT NULL,
        duration_s     REAL NOT NULL,
        duration_min_s REAL NOT NULL,
        duration_max_s REAL NOT NULL,
        cpu_energy_j   REAL NOT NULL,
        gpu_energy_j   REAL NOT NULL,
        ram_energy_j   REAL NOT NULL,
        other_energy_j REAL NOT NULL,
        energy_j       REAL NOT NULL,
        energy_min_j   REAL NOT NULL,
        energy_max_j   REAL NOT NULL,
        emissions_g    REAL NOT NULL,
        work           TEXT NOT NULL DEFAULT '[]',   -- JSON [{unit, count}]
        boundary       TEXT NOT NULL,
        PRIMARY KEY (run_id, span_id)
    );
    INSERT OR IGNORE INTO spans_v3 SELECT
        run_id, span_id, parent_id, name, 1, start_s, end_s, duration_s, duration_s, duration_s,
        cpu_energy_j, gpu_energy_j, ram_energy_j, other_energy_j, energy_j, energy_j, energy_j,
        emissions_g, '[]', 'exact'
    FROM spans;
    DROP TABLE spans;
    ALTER TABLE spans_v3 RENAME TO spans;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
