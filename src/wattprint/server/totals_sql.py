"""Totals grouped in the database: one statement per request returns one row per group (its
runs, duration and energy) and one row per group and kind of intensity (its grams).

:func:`.query.totals` grouped the runs in Python: at 1,000 runs that was most of a request's
CPU (30-40 ms: a row object per run and per rollup row, dict sums per column). Here the
database groups and the server reads a few rows per group. The rules are the Python path's
(:func:`.query.totals` keeps it for ``dedup=true``, and a test holds the two equal):

- without a range a run counts whole: its summary's duration and energy once it came, else its
  records' sums; a run whose summary has grams but no record has them as kind ``unknown``;
- with a range a run counts when it has a rollup hour or an edge record inside, with its parts;
- by component, a run counts in each component it has energy of, with its whole duration;
- grams per kind of intensity only (never a record without a kind), zero grams left out.
"""

from __future__ import annotations

# Runtime imports: this module is only ever imported by the server.
from sqlalchemy import Float, String, and_, case, cast, func, literal, null, select, union_all

from .models import Experiment, Organisation, Project, Run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sqlalchemy import Connection, Select

__all__ = ["group_key", "grouped_totals"]

_COMPONENTS = ("cpu", "gpu", "ram", "other")


def _named(column: Any) -> Any:
    """The column, or None where it is NULL or empty (Python's ``value or ...``)."""
    return func.nullif(column, "")


def group_key(by: str, started: Any, dialect: str) -> Any:
    """The SQL expression of a run's group under ``by`` (not ``component``), as
    :func:`.query._group_key` computes it in Python."""
    if by == "run":
        return Run.run_id
    if by == "host":
        return func.coalesce(_named(Run.hostname), _named(Run.host_id), "unknown")
    if by == "region":
        cloud = func.coalesce(_named(Run.cloud), "cloud")
        country = case((_named(Run.subdivision).is_not(None),
                        Run.country + "-" + Run.subdivision), else_=Run.country)
        return case((_named(Run.cloud_region).is_not(None), cloud + "/" + Run.cloud_region),
                    (_named(Run.zone).is_not(None), Run.zone),
                    (_named(Run.country).is_not(None), country), else_="unknown")
    if by == "day":  # the UTC day the run started
        if dialect == "postgresql":
            return func.to_char(func.timezone("UTC", func.to_timestamp(started)), "YYYY-MM-DD")
        return func.strftime("%Y-%m-%d", started, "unixepoch")
    column = {"organisation": Organisation.slug, "project": Project.name,
              "experiment": Experiment.name}[by]
    return func.coalesce(_named(column), "unknown")


def grouped_totals(connection: Connection, by: str, scope: Select[Any], sums: Any, *,
                   ranged: bool) -> dict[str, list[Any]]:
    """key -> [runs, duration_s, energy_j, {kind: grams}].

    ``scope``: the runs (a select with ``run_id``, ``started``, ``s_duration_s``,
    ``s_energy_j``, ``s_emissions_g``, joined to projects, organisations and experiments);
    ``sums``: a select (or union) of rows (run_id, intensity_kind, the summed columns), several rows
    per run and kind allowed (whole hours and edges)."""
    s = sums.cte("run_kind_sums")
    kind = _named(s.c.intensity_kind)
    per_run_columns = ["duration_s", "energy_j", "emissions_g",
                       *(f"{comp}_energy_j" for comp in _COMPONENTS)]
    p = (select(s.c.run_id, *(func.sum(s.c[name]).label(name) for name in per_run_columns))
         .group_by(s.c.run_id).cte("run_sums"))
    component = by == "component"
    key = literal("") if component else group_key(by, scope.selected_columns.started,
                                                   connection.dialect.name)
    runs = scope.with_only_columns(
        Run.run_id, key.label("key"), scope.selected_columns.s_duration_s,
        scope.selected_columns.s_energy_j, scope.selected_columns.s_emissions_g).cte("scoped_runs")
    joined = runs.outerjoin(p, p.c.run_id == runs.c.run_id) if not ranged \
        else runs.join(p, p.c.run_id == runs.c.run_id)
    # a run's duration: its summary's without a range, else its records' (parts) so far
    duration = p.c.duration_s if ranged else func.coalesce(runs.c.s_duration_s, p.c.duration_s)
    duration = func.coalesce(duration, 0.0)
    no_kind = cast(null(), String)
    no_number = cast(null(), Float)
    parts: list[Any] = []
    if component:
        for comp in _COMPONENTS:
            energy = p.c[f"{comp}_energy_j"]
            parts.append(select(literal(comp).label("key"), no_kind.label("kind"),
                                func.count().label("runs"), func.sum(duration), func.sum(energy),
                                no_number).select_from(joined).where(energy > 0)
                         .having(func.count() > 0))  # no such run: no group
            grams = s.c[f"{comp}_emissions_g"]
            parts.append(
                select(literal(comp), kind, func.count(), no_number, no_number, func.sum(grams))
                .select_from(s.join(p, p.c.run_id == s.c.run_id)
                             .join(runs, runs.c.run_id == s.c.run_id))
                .where(energy > 0, kind.is_not(None), grams != 0).group_by(kind))
    else:
        run_energy: Any = p.c.energy_j if ranged \
            else func.coalesce(runs.c.s_energy_j, p.c.energy_j)
        parts.append(select(runs.c.key, no_kind.label("kind"), func.count().label("runs"),
                            func.sum(duration), func.sum(func.coalesce(run_energy, 0.0)), no_number)
                     .select_from(joined).group_by(runs.c.key))
        parts.append(
            select(runs.c.key, kind, func.count(), no_number, no_number,
                   func.sum(s.c.emissions_g))
            .select_from(s.join(runs, runs.c.run_id == s.c.run_id))
            .where(kind.is_not(None), s.c.emissions_g != 0).group_by(runs.c.key, kind))
        if not ranged:  # a summary's grams for a run without any record
            parts.append(
                select(runs.c.key, literal("unknown"), func.count(), no_number, no_number,
                       func.sum(runs.c.s_emissions_g))
                .select_from(joined)
                .where(and_(p.c.run_id.is_(None), runs.c.s_emissions_g != 0))
                .group_by(runs.c.key))
    groups: dict[str, list[Any]] = {}
    grams_rows = []
    for row in connection.execute(union_all(*parts)):
        group_name, kind_name, count, duration_s, energy_j, grams_g = tuple(row)
        if kind_name is None:
            groups[str(group_name)] = [int(count), float(duration_s or 0.0),
                                       float(energy_j or 0.0), {}]
        else:
            grams_rows.append((str(group_name), str(kind_name), float(grams_g)))
    for group_name, kind_name, grams_g in grams_rows:
        by_kind = groups[group_name][3]
        by_kind[kind_name] = by_kind.get(kind_name, 0.0) + grams_g
    return groups
