"""One run's records summed per time bucket, in the database: the SQL behind a long run's chart.

A chart of a run with 10^6 records must not carry 10^6 points, nor read them into Python. The
database groups the run's records by ``floor((start_s - origin_s) / width_s)`` and returns one
row of sums per bucket (:data:`BUCKET_COLUMNS`); the rule that picks the width and turns the
rows into chart points lives in the dashboard's data seam
(:mod:`wattprint.server.dashboard.buckets`), the same for the local store and the team
server. Only the SQL differs by backend, here: the local store's SQLite file and the team
server's SQLite or PostgreSQL database share a ``records`` table with these columns (the
server's ``gaps`` is a JSON column, read as text).

Parameters are named (``:run_id``, ``:origin_s``, ``:width_s``): both ``sqlite3`` and
SQLAlchemy's ``text()`` bind them. ``origin_s`` must not exceed the run's earliest start, so
every bucket number is >= 0 (SQLite's CAST truncates toward zero where PostgreSQL floors).
"""

from __future__ import annotations

from typing import Any

__all__ = ["BOUNDS_SQL", "BUCKET_COLUMNS", "bucket_rows", "bucket_sql"]

#: A bucket row, in order. Sums are over the bucket's records; ``start_s``/``end_s``: the
#: earliest start and latest end among them; ``intensity_energy``: sum of g/kWh x J (the
#: energy-weighted mean's numerator); ``min_power_w``/``max_power_w``: over records with a
#: duration; ``gap_records``: records carrying gap notes, two of whose note lists
#: (``gaps_low``/``gaps_high``, JSON text, the least and greatest) travel along.
BUCKET_COLUMNS = ("bucket", "first_seq", "last_seq", "records", "start_s", "end_s", "duration_s",
                  "cpu_energy_j", "gpu_energy_j", "ram_energy_j", "other_energy_j", "energy_j",
                  "emissions_g", "intensity_energy", "intensity_mean", "min_power_w",
                  "max_power_w", "gap_records", "gaps_low", "gaps_high")

#: How many records a run has, its earliest start and latest end.
BOUNDS_SQL = ("SELECT count(*), min(start_s), max(start_s + duration_s) FROM records"
              " WHERE run_id = :run_id")


def bucket_sql(dialect: str) -> str:
    """The bucket query for ``dialect`` (``sqlite`` or ``postgresql``), rows in bucket order."""
    if dialect == "postgresql":
        bucket = "CAST(floor((start_s - :origin_s) / :width_s) AS BIGINT)"
        gaps = "CAST(gaps AS TEXT)"  # json has no equality operator
    elif dialect == "sqlite":
        bucket = "CAST((start_s - :origin_s) / :width_s AS INTEGER)"
        gaps = "gaps"
    else:
        raise ValueError(f"no bucket query for the {dialect!r} dialect: use sqlite or postgresql")
    noted = f"{gaps} <> '[]'"
    power = "CASE WHEN duration_s > 0 THEN energy_j / duration_s END"
    return (
        f"SELECT {bucket} AS bucket, min(seq), max(seq), count(*), min(start_s),"
        " max(start_s + duration_s), sum(duration_s), sum(cpu_energy_j), sum(gpu_energy_j),"
        " sum(ram_energy_j), sum(other_energy_j), sum(energy_j), sum(emissions_g),"
        " sum(intensity_g_per_kwh * energy_j), avg(intensity_g_per_kwh),"
        f" min({power}), max({power}),"
        f" sum(CASE WHEN {noted} THEN 1 ELSE 0 END),"
        f" min(CASE WHEN {noted} THEN {gaps} END), max(CASE WHEN {noted} THEN {gaps} END)"
        " FROM records WHERE run_id = :run_id GROUP BY 1 ORDER BY 1")


def bucket_rows(figures: list[tuple[Any, ...]], origin_s: float,
                width_s: float) -> list[tuple[Any, ...]]:
    """:func:`bucket_sql`'s rows computed in Python from records' ``FIGURE_COLUMNS`` rows (a
    run whose records lie in several store files, de-duplicated by seq before)."""
    sums: dict[int, list[Any]] = {}
    for seq, start_s, duration_s, cpu, gpu, ram, other, energy, _, grams, g_per_kwh, gaps \
            in figures:
        number = int((start_s - origin_s) / width_s)  # start_s >= origin_s: truncation floors
        power = energy / duration_s if duration_s > 0 else None
        noted = gaps not in (None, "", "[]")
        row = sums.get(number)
        if row is None:
            sums[number] = [number, seq, seq, 1, start_s, start_s + duration_s, duration_s, cpu,
                            gpu, ram, other, energy, grams, g_per_kwh * energy, [g_per_kwh],
                            power, power, int(noted), gaps if noted else None,
                            gaps if noted else None]
            continue
        row[1], row[2], row[3] = min(row[1], seq), max(row[2], seq), row[3] + 1
        row[4], row[5] = min(row[4], start_s), max(row[5], start_s + duration_s)
        for i, value in enumerate((duration_s, cpu, gpu, ram, other, energy, grams,
                                   g_per_kwh * energy), start=6):
            row[i] += value
        row[14].append(g_per_kwh)
        if power is not None:
            row[15] = power if row[15] is None else min(row[15], power)
            row[16] = power if row[16] is None else max(row[16], power)
        if noted:
            row[17] += 1
            row[18] = gaps if row[18] is None else min(row[18], gaps)
            row[19] = gaps if row[19] is None else max(row[19], gaps)
    out = []
    for number in sorted(sums):
        row = sums[number]
        row[14] = sum(row[14]) / len(row[14])
        out.append(tuple(row))
    return out
