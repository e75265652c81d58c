"""The server's tables (SQLAlchemy 2, portable to SQLite and PostgreSQL).

organisations -> projects -> experiments -> runs -> records, spans, heartbeats, summary,
rescores; users <-> organisations through memberships (with a role); API keys per project.

Times are Unix seconds (UTC) as floats, like the wire format; energies in J, emissions in g.
Text that comes from the wire is unbounded (``String()``): the schema sets no lengths, and
PostgreSQL would answer an over-long value with an error instead of storing it.
Each wire object is also kept whole (``wire`` JSON column), so nothing the tracker said is lost
while the typed columns serve queries. A run's primary key is its wire ``run_id``: records,
spans and heartbeats name their run by it, which is what lets them arrive before the run's own
object (see :mod:`.ingest`). Changing a table means a new Alembic revision in ``alembic/versions``.
"""

from __future__ import annotations

# A runtime import, unlike the tracker's modules: SQLAlchemy evaluates the Mapped[...]
# annotations when the classes are built (and the server is never on the tracker's path).
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["ROLES", "SCOPES", "ApiKey", "Base", "Experiment", "Heartbeat", "IntervalRecord",
           "Prediction",
           "LoginFailure", "LoginSession", "OidcPendingLogin", "UserIdentity",
           "Membership", "Organisation", "Project", "Rescore", "RollupRun", "RollupRunDevice",
           "RollupRunGap", "RollupRunHour", "RollupRunIntensity", "RollupRunWork", "Run",
           "Span", "Summary", "User"]

ROLES = ("owner", "admin", "member", "viewer")
SCOPES = ("ingest", "read")

_NAME = 200


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON}


class Organisation(Base):
    __tablename__ = "organisations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(_NAME), unique=True)
    name: Mapped[str] = mapped_column(String(_NAME))
    created_s: Mapped[float] = mapped_column(Float)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(_NAME))
    created_s: Mapped[float] = mapped_column(Float)


class Experiment(Base):
    __tablename__ = "experiments"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String())


class Run(Base):
    """One tracker run. ``info_received`` is false while only its records/spans have arrived."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_project_started", "project_id", "started_s"),
        Index("ix_runs_host_started", "host_id", "started_s"),
        Index("ix_runs_job", "job_id"),
        # the runs list's order and cursor (a placeholder run sorts by when it was first seen)
        Index("ix_runs_sort", func.coalesce(text("started_s"), text("first_seen_s")), "run_id"),
        Index("ix_runs_project_sort", "project_id",
              func.coalesce(text("started_s"), text("first_seen_s")), "run_id"),
    )
    run_id: Mapped[str] = mapped_column(String(), primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="SET NULL"), nullable=True)
    info_received: Mapped[bool] = mapped_column(Boolean, default=False)
    # the names the tracker reported (the API key's project decides where the run is stored)
    reported_project: Mapped[str | None] = mapped_column(String(), nullable=True)
    reported_experiment: Mapped[str | None] = mapped_column(String(), nullable=True)
    started_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    scope: Mapped[str | None] = mapped_column(String(), nullable=True)
    interval_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    pue: Mapped[float | None] = mapped_column(Float, nullable=True)
    # host
    host_id: Mapped[str | None] = mapped_column(String(), nullable=True)
    hostname: Mapped[str | None] = mapped_column(String(), nullable=True)
    os: Mapped[str | None] = mapped_column(String(), nullable=True)
    machine: Mapped[str | None] = mapped_column(String(), nullable=True)
    python: Mapped[str | None] = mapped_column(String(), nullable=True)
    # location
    country: Mapped[str | None] = mapped_column(String(), nullable=True)
    subdivision: Mapped[str | None] = mapped_column(String(), nullable=True)
    zone: Mapped[str | None] = mapped_column(String(), nullable=True)
    location_resolved_by: Mapped[str | None] = mapped_column(String(), nullable=True)
    cloud: Mapped[str | None] = mapped_column(String(), nullable=True)
    cloud_region: Mapped[str | None] = mapped_column(String(), nullable=True)
    # versions
    wattprint_version: Mapped[str | None] = mapped_column(String(), nullable=True)
    # distributed job identity
    job_id: Mapped[str | None] = mapped_column(String(), nullable=True)
    node: Mapped[str | None] = mapped_column(String(), nullable=True)
    node_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # hardware (devices, skipped probes), tags, warnings: in the wire object
    wire: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    first_seen_s: Mapped[float] = mapped_column(Float)


class IntervalRecord(Base):
    __tablename__ = "records"
    __table_args__ = (Index("ix_records_start", "start_s"),)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    start_s: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    cpu_energy_j: Mapped[float] = mapped_column(Float)
    gpu_energy_j: Mapped[float] = mapped_column(Float)
    ram_energy_j: Mapped[float] = mapped_column(Float)
    other_energy_j: Mapped[float] = mapped_column(Float)
    energy_j: Mapped[float] = mapped_column(Float)
    pue: Mapped[float] = mapped_column(Float)
    emissions_g: Mapped[float] = mapped_column(Float)
    intensity_g_per_kwh: Mapped[float] = mapped_column(Float)
    intensity_zone: Mapped[str] = mapped_column(String())
    intensity_source: Mapped[str] = mapped_column(String())
    intensity_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    intensity_kind: Mapped[str | None] = mapped_column(String(), nullable=True)
    intensity_live: Mapped[bool] = mapped_column(Boolean)
    intensity_basis: Mapped[str | None] = mapped_column(String(), nullable=True)
    intensity_scope: Mapped[str | None] = mapped_column(String(), nullable=True)
    intensity_gases: Mapped[str | None] = mapped_column(String(), nullable=True)
    components: Mapped[list[Any]] = mapped_column(JSON)
    gaps: Mapped[list[Any]] = mapped_column(JSON)
    work: Mapped[list[Any]] = mapped_column(JSON)


class Span(Base):
    __tablename__ = "spans"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    span_id: Mapped[str] = mapped_column(String(), primary_key=True)
    parent_id: Mapped[str | None] = mapped_column(String(), nullable=True)
    name: Mapped[str] = mapped_column(String())
    count: Mapped[int] = mapped_column(Integer)
    first_start_s: Mapped[float] = mapped_column(Float)
    last_end_s: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    energy_j: Mapped[float] = mapped_column(Float)
    emissions_g: Mapped[float] = mapped_column(Float)
    wire: Mapped[dict[str, Any]] = mapped_column(JSON)


class Heartbeat(Base):
    __tablename__ = "heartbeats"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    at_s: Mapped[float] = mapped_column(Float, primary_key=True)
    every_s: Mapped[float] = mapped_column(Float)


class Prediction(Base):
    """A run's latest prediction of its totals (``prediction`` wire objects, migration 0006):
    one row per run, replaced only by a prediction made after the same or a later record."""

    __tablename__ = "predictions"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)  # the record it was made after
    at_s: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String())
    done: Mapped[float] = mapped_column(Float)
    total: Mapped[float] = mapped_column(Float)
    duration_s: Mapped[float] = mapped_column(Float)
    energy_j: Mapped[float] = mapped_column(Float)
    emissions_g: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    wire: Mapped[dict[str, Any]] = mapped_column(JSON)


class Summary(Base):
    __tablename__ = "summaries"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    status: Mapped[str] = mapped_column(String())
    exit_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_s: Mapped[float] = mapped_column(Float)
    energy_j: Mapped[float] = mapped_column(Float)
    emissions_g: Mapped[float] = mapped_column(Float)
    records: Mapped[int] = mapped_column(Integer)
    wire: Mapped[dict[str, Any]] = mapped_column(JSON)


class Rescore(Base):
    """A run's emissions recomputed with other intensity data (``wattprint rescore``)."""

    __tablename__ = "rescores"
    # a rescore is pushed again with every push of its run: stored once (migration 0005)
    __table_args__ = (UniqueConstraint("run_id", "provider", "created_s",
                                       name="uq_rescores_run_provider_created"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        index=True)
    provider: Mapped[str] = mapped_column(String())
    # average | marginal | mixed (then intensity_g_per_kwh is None); None: no intensity
    kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_s: Mapped[float] = mapped_column(Float)
    emissions_g: Mapped[float] = mapped_column(Float)
    intensity_g_per_kwh: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)  # rescore.Rescore.to_json()


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)  # argon2id, see passwords.py
    created_s: Mapped[float] = mapped_column(Float)


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint("role IN ('owner', 'admin', 'member', 'viewer')",
                                      name="ck_memberships_role"),)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    role: Mapped[str] = mapped_column(String(16))


class UserIdentity(Base):
    """A user's account at an OpenID provider: the provider's (issuer, subject), linked once.

    The subject, not the e-mail, is what identifies a person at a provider (an address can be
    reassigned); see oidc_users.py for when a link is made.
    """

    __tablename__ = "user_identities"
    __table_args__ = (Index("ix_user_identities_user", "user_id"),)
    issuer: Mapped[str] = mapped_column(String(), primary_key=True)
    subject: Mapped[str] = mapped_column(String(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)  # when linked
    created_s: Mapped[float] = mapped_column(Float)
    last_login_s: Mapped[float] = mapped_column(Float)


class OidcPendingLogin(Base):
    """A sign-in sent to the OpenID provider and not back yet (10 minutes at most).

    Server-side, so a state is used once (the callback deletes its row) and the PKCE verifier
    never leaves the server; ``browser_sha256`` binds it to the browser that started it.
    """

    __tablename__ = "oidc_pending_logins"
    __table_args__ = (Index("ix_oidc_pending_logins_expires", "expires_s"),)
    state_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_sha256: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(Text)
    expires_s: Mapped[float] = mapped_column(Float)


class ApiKey(Base):
    """An API key: ``wp_<prefix>_<secret>``; only the prefix and a keyed hash are stored."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hmac: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256 hex, keyed by the pepper
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    scopes: Mapped[str] = mapped_column(String(64))  # space-separated, from SCOPES
    name: Mapped[str] = mapped_column(String(_NAME))
    created_s: Mapped[float] = mapped_column(Float)
    revoked_s: Mapped[float | None] = mapped_column(Float, nullable=True)


class LoginSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256.

    Server-side so logout and revocation take effect at once; the CSRF token is per session.
    """

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_s: Mapped[float] = mapped_column(Float)
    expires_s: Mapped[float] = mapped_column(Float)


class LoginFailure(Base):
    """One failed login, counted per account and per client address (see ratelimit.py)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_subject_at", "subject", "at_s"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(400))  # "account:<email>" or "ip:<address>"
    at_s: Mapped[float] = mapped_column(Float)


class _RollupSums:
    """The sums a rollup row keeps (see :mod:`.rollups`): grams per component follow each
    record's share of its energy; ``intensity_kind`` is '' for records without one."""

    intensity_kind: Mapped[str] = mapped_column(String(), primary_key=True)
    records: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[float] = mapped_column(Float)
    energy_j: Mapped[float] = mapped_column(Float)
    cpu_energy_j: Mapped[float] = mapped_column(Float)
    gpu_energy_j: Mapped[float] = mapped_column(Float)
    ram_energy_j: Mapped[float] = mapped_column(Float)
    other_energy_j: Mapped[float] = mapped_column(Float)
    emissions_g: Mapped[float] = mapped_column(Float)
    cpu_emissions_g: Mapped[float] = mapped_column(Float)
    gpu_emissions_g: Mapped[float] = mapped_column(Float)
    ram_emissions_g: Mapped[float] = mapped_column(Float)
    other_emissions_g: Mapped[float] = mapped_column(Float)
    first_start_s: Mapped[float] = mapped_column(Float)
    last_end_s: Mapped[float] = mapped_column(Float)
    # the sequence numbers of those records: an edge hour reads them by primary key
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)


class RollupRunHour(_RollupSums, Base):
    """A run's records within one UTC hour, a record spanning hours split pro rata of time."""

    __tablename__ = "rollup_run_hours"
    __table_args__ = (Index("ix_rollup_run_hours_hour", "hour_start_s"),)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    hour_start_s: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class RollupRun(_RollupSums, Base):
    """A run's records, whole."""

    __tablename__ = "rollup_runs"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)


class RollupRunDevice(Base):
    """A run's sums per device (and share basis), for its summary so far (see
    :mod:`.rollup_details`): ``share_basis`` is '' when unknown; ``component`` and ``method``
    are those of the device's first record (``first_seq``, at ``first_index`` in it)."""

    __tablename__ = "rollup_run_devices"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    device: Mapped[str] = mapped_column(String(), primary_key=True)
    share_basis: Mapped[str] = mapped_column(String(), primary_key=True)
    component: Mapped[str] = mapped_column(String())
    method: Mapped[str] = mapped_column(String())
    first_seq: Mapped[int] = mapped_column(BigInteger)
    first_index: Mapped[int] = mapped_column(Integer)
    records: Mapped[int] = mapped_column(Integer)
    energy_j: Mapped[float] = mapped_column(Float)
    share_s: Mapped[float] = mapped_column(Float)  # sum of share x duration
    seen_s: Mapped[float] = mapped_column(Float)
    share_sum: Mapped[float] = mapped_column(Float)


class RollupRunIntensity(Base):
    """A run's scored records per intensity kind and provenance ('' for an unknown label):
    energy x PUE (the mean intensity's denominator), the range of the intensity and its value
    in the latest record."""

    __tablename__ = "rollup_run_intensities"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    intensity_kind: Mapped[str] = mapped_column(String(), primary_key=True)
    source: Mapped[str] = mapped_column(String(), primary_key=True)
    zone: Mapped[str] = mapped_column(String(), primary_key=True)
    basis: Mapped[str] = mapped_column(String(), primary_key=True)
    scope: Mapped[str] = mapped_column(String(), primary_key=True)
    gases: Mapped[str] = mapped_column(String(), primary_key=True)
    records: Mapped[int] = mapped_column(Integer)
    pue_energy_j: Mapped[float] = mapped_column(Float)
    min_g_per_kwh: Mapped[float] = mapped_column(Float)
    max_g_per_kwh: Mapped[float] = mapped_column(Float)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_g_per_kwh: Mapped[float] = mapped_column(Float)
    max_year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    live: Mapped[int] = mapped_column(Integer)  # 1 when any of them was live


class RollupRunGap(Base):
    """Each distinct gap a run's records reported, with where it was first seen."""

    __tablename__ = "rollup_run_gaps"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    gap: Mapped[str] = mapped_column(String(), primary_key=True)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    first_index: Mapped[int] = mapped_column(Integer)


class RollupRunWork(Base):
    """A run's work units counted so far, per unit."""

    __tablename__ = "rollup_run_work"
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id", ondelete="CASCADE"),
                                        primary_key=True)
    unit: Mapped[str] = mapped_column(String(), primary_key=True)
    count: Mapped[float] = mapped_column(Float)
