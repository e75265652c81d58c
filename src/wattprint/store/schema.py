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
    # 4: run-level provenance (wire format 3). Records carry what their intensity counts
    #    (basis, scope, gases: NULL = unknown, for rows written before) and an interval without
    #    an intensity has no kind: intensity_kind becomes nullable, and rows that said "average"
    #    with source "unavailable" (the old label for "none") become NULL. A component's
    #    share_basis lives in the components JSON (absent = unknown). A rescore is labelled
    #    with the kind of its rescored records: "mixed", with no single mean intensity, when the
    #    provider's history left records of another kind uncovered.
    """
    CREATE TABLE records_v4 (
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
        intensity_kind      TEXT,            -- average | marginal; NULL: no intensity
        intensity_live      INTEGER NOT NULL,
        intensity_basis     TEXT,            -- generation | consumption; NULL: unknown
        intensity_scope     TEXT,            -- lifecycle | direct | direct+upstream
        intensity_gases     TEXT,            -- CO2e | CO2
        components          TEXT NOT NULL,   -- JSON [{component, device, method, energy_j,
                                             --        share, share_basis}]
        gaps                TEXT NOT NULL,   -- JSON list of strings
        work                TEXT NOT NULL DEFAULT '[]',  -- JSON [{unit, count}]
        PRIMARY KEY (run_id, seq)
    );
    INSERT OR IGNORE INTO records_v4 SELECT
        run_id, seq, start_s, duration_s, cpu_energy_j, gpu_energy_j, ram_energy_j,
        other_energy_j, energy_j, pue, emissions_g, intensity_g_per_kwh, intensity_zone,
        intensity_source, intensity_year,
        CASE WHEN intensity_source = 'unavailable' THEN NULL ELSE intensity_kind END,
        intensity_live, NULL, NULL, NULL, components, gaps, work
    FROM records;
    DROP TABLE records;
    ALTER TABLE records_v4 RENAME TO records;
    CREATE TABLE rescores_v4 (
        run_id              TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        provider            TEXT NOT NULL,
        created_s           REAL NOT NULL,
        emissions_g         REAL NOT NULL,   -- the sum over records (per kind in detail_json)
        intensity_g_per_kwh REAL,            -- over scored records; NULL when kinds are mixed
        kind                TEXT,            -- average | marginal | mixed; NULL: no intensity
        detail_json         TEXT NOT NULL,   -- Rescore.to_json(): per record and per kind
        PRIMARY KEY (run_id, provider, created_s)
    );
    INSERT OR IGNORE INTO rescores_v4 SELECT
        run_id, provider, created_s, emissions_g, intensity_g_per_kwh, kind, detail_json
    FROM rescores;
    DROP TABLE rescores;
    ALTER TABLE rescores_v4 RENAME TO rescores;
    -- Before v4 a rescore took the provider's kind even where records it did not cover kept
    -- their own (detail_json lists them with source "original"): such a rescore mixed kinds.
    UPDATE rescores SET kind = 'mixed', intensity_g_per_kwh = NULL
    WHERE kind IN ('average', 'marginal')
      AND detail_json LIKE '%"source": "original"%'
      AND EXISTS (SELECT 1 FROM records r WHERE r.run_id = rescores.run_id
                  AND r.intensity_kind IS NOT NULL AND r.intensity_kind != rescores.kind);
    """,
    # 5: predictions (wire format 4): each run's latest prediction of its totals once the work
    #    it expects is done (see advice/predict.py); the one made after the highest record stays.
    """
    CREATE TABLE predictions (
        run_id          TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
        seq             INTEGER NOT NULL,   -- the record it was made after
        at_s            REAL NOT NULL,
        unit            TEXT NOT NULL,
        done            REAL NOT NULL,
        total           REAL NOT NULL,
        duration_s      REAL NOT NULL,
        energy_j        REAL NOT NULL,
        emissions_g     REAL NOT NULL,
        end_s           REAL NOT NULL,
        prediction_json TEXT NOT NULL       -- Prediction.to_dict(): bands, level, regime
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
