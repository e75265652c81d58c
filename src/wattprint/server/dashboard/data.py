"""The dashboard's one data seam: what the pages ask for, never how it is stored.

:class:`DashboardData` is the protocol every page reads through. :mod:`.local` implements it
over the local store's read API (:class:`~wattprint.store.Repository`); the team server will
implement it over its own database. Figures are SI (J, g, s, W); presentation units are
:mod:`.fmt`'s job.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

from ..._struct import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ...advice.waste import WasteReport
    from ...records import Prediction, Record, RunInfo, RunSummary, SpanRecord
    from ...store.repository import Aggregate, RunRow

__all__ = ["BREAKDOWNS", "SORT_KEYS", "DashboardData", "Overview", "Period", "RunDetail",
           "Point", "RunsPage", "RunsQuery", "Series", "Totals", "DataError"]

#: The overview's breakdowns, in the order the page shows them.
BREAKDOWNS = ("project", "experiment", "component", "region", "host")
#: Columns the runs table sorts by (``-`` prefix: descending).
SORT_KEYS = ("started_s", "duration_s", "energy_j", "emissions_g", "project", "experiment",
             "status", "hostname")


class DataError(ValueError):
    """A request the data cannot answer (unknown run, bad cursor): the message says what to do."""


@dataclass(frozen=True, slots=True)
class Period:
    """``[since_s, until_s)`` in Unix seconds; ``since_s`` None: from the beginning."""

    since_s: float | None
    until_s: float

    @property
    def previous(self) -> Period | None:
        """The period of the same length just before, for the trend (none for "all time")."""
        if self.since_s is None:
            return None
        return Period(since_s=self.since_s - (self.until_s - self.since_s), until_s=self.since_s)


@dataclass(frozen=True, slots=True)
class Totals:
    runs: int
    energy_j: float
    emissions_g: float


@dataclass(frozen=True, slots=True)
class Overview:
    period: Period
    totals: Totals
    previous: Totals | None  # the period before, same length; None for "all time"
    breakdowns: dict[str, list[Aggregate]]  # BREAKDOWNS key -> groups, largest energy first
    recent: list[RunRow]  # newest runs in the period
    # the team server's de-duplicated totals (the query API's ``dedup`` object: rule,
    # measured_energy_j, energy_j, removed_energy_j, ... ); None where no rule applies (local)
    dedup: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RunsQuery:
    project: str | None = None
    experiment: str | None = None
    status: str | None = None
    host: str | None = None
    since_s: float | None = None
    until_s: float | None = None
    sort: str = "-started_s"  # one of SORT_KEYS, "-" for descending
    limit: int = 50
    cursor: str | None = None

    def filters(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("project", "experiment", "status", "host",
                                              "since_s", "until_s")
                if getattr(self, k) is not None}


@dataclass(frozen=True, slots=True)
class RunsPage:
    items: list[RunRow]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class RunDetail:
    row: RunRow  # status (from heartbeats) and the listing's figures
    info: RunInfo
    summary: RunSummary
    spans: list[SpanRecord]
    rescores: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a run's charts: a record, or consecutive records merged (energies and
    grams summed over the span, so power = energy / duration still holds). SI units."""

    seq: int  # the last record's: polling for new records resumes after it
    start_s: float
    duration_s: float
    cpu_energy_j: float
    gpu_energy_j: float
    ram_energy_j: float
    other_energy_j: float
    energy_j: float
    emissions_g: float
    intensity_g_per_kwh: float  # energy-weighted over a merged span
    gaps: tuple[str, ...] = ()
    records: int = 1  # how many records the point sums
    # the lowest and highest power among those records (a band around the mean); None when
    # the point was not summed in the database (one record, or merged in Python)
    min_power_w: float | None = None
    max_power_w: float | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """A run's points for charts: at most the asked number (:mod:`.buckets` is the rule)."""

    points: list[Point]
    total: int  # records the run holds
    holes: list[tuple[float, float]]  # (from_s, to_s) with no record
    # seconds each point spans when the records were summed per time bucket; None: one
    # record a point
    bucket_s: float | None = None
    # (from_s, to_s, missing_s): time without records inside one bucket, too short to place
    hidden_holes: list[tuple[float, float, float]] = field(default_factory=list)


@runtime_checkable
class DashboardData(Protocol):
    """Everything the dashboard reads. Raises :class:`DataError` for what it cannot answer."""

    def now_s(self) -> float: ...

    def overview(self, period: Period, *, top: int = 5) -> Overview: ...

    def runs(self, query: RunsQuery) -> RunsPage: ...

    def all_runs(self, query: RunsQuery, *, max_rows: int) -> list[RunRow]: ...

    def run(self, run_id: str) -> RunDetail: ...

    def run_row(self, run_id: str) -> RunRow: ...

    def series(self, run_id: str, *, max_points: int) -> Series: ...

    def records_since(self, run_id: str, since_seq: int | None, *, limit: int) -> list[Record]: ...

    def record_rows(self, run_id: str, columns: Sequence[str], *, since_seq: int | None,
                    limit: int) -> list[tuple[Any, ...]]:
        """Raw rows of the run's records after ``since_seq`` (None: from the first), in seq
        order: ``columns`` (``seq`` first) as the database holds them, no :class:`Record`
        built (JSON columns as text or as the driver decoded them; ``intensity_live`` may be
        0/1). What a download or a scan of a long run pages through."""
        ...

    def waste(self, run_id: str, *, max_records: int) -> WasteReport | None:
        """What the run wasted (:func:`wattprint.advice.waste.waste_report` over its records);
        None when it holds more than ``max_records`` records."""
        ...

    def prediction(self, run_id: str) -> Prediction | None:
        """The run's latest prediction of its totals (the read API's ``prediction``, the query
        API's ``/runs/{id}/prediction``); None when it made none."""
        ...
