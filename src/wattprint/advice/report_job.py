"""The parts of a report for a distributed job: its ranks' runs taken together.

Each device is measured by exactly one rank (:mod:`wattprint.cluster`), so the job's summary is
:func:`wattprint.records.combine` of its ranks'; a device is named with its node
("node-a/nvml:0"), since two nodes both have an ``nvml:0``; the hardware is what the ranks
measured (16 GPUs over two nodes are "16 x ..."); the power chart sums the ranks' records per
time bucket.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import StoreError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Sequence

    from ..records import RunInfo, RunSummary
    from ..store.repository import Repository

__all__ = ["job_parts", "series_by_time"]


def job_parts(repo: Repository, job_id: str, *, energy_rows: Any
              ) -> tuple[RunInfo, RunSummary, Sequence[Mapping[str, Any]],
                         list[tuple[float, float, float, float, float, float]]]:
    """(first rank's info, the job's summary, the measured devices, every rank's rows)."""
    from ..records import combine
    from ..store.repository import RunFilter

    ranks = []
    cursor = None
    while True:
        page = repo.runs(RunFilter(job_id=job_id), limit=500, cursor=cursor)
        ranks += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    if not ranks:
        raise StoreError(f"no runs of job {job_id!r} in the store; see `wattprint runs --job ID`")
    ranks.sort(key=lambda r: (r.started_s, r.run_id))
    summaries = [repo.summary(r.run_id) for r in ranks]
    infos = {r.run_id: repo.info(r.run_id) for r in ranks}
    job = combine(summaries, run_id=job_id)
    devices, components = [], []
    for comp in job.components:
        info = infos[str(comp["run_id"])]
        found = next((d for d in info.devices if d.get("device") == comp["device"]),
                     {"device": comp["device"], "component": comp["component"],
                      "method": comp["method"]})
        label = f"{comp['node']}/{comp['device']}" if comp.get("node") else str(comp["device"])
        devices.append({**found, "device": label})
        components.append({**comp, "device": label})
    first = summaries[0]
    # combine keeps no PUE source: the ranks share one setting, so the first rank's says it
    job = replace(job, components=tuple(components), pue_source=first.pue_source)
    rows = sorted(row for r in ranks for row in energy_rows(repo, r.run_id))
    return infos[ranks[0].run_id], job, devices, rows


def series_by_time(rows: Sequence[tuple[float, float, float, float, float, float]],
                   max_points: int) -> list[dict[str, Any]]:
    """Mean power per component summed over overlapping runs, per time bucket. A record counts
    in the bucket its start falls in (the chart's resolution is the bucket); buckets without
    any record are left out, not drawn as zero."""
    if not rows:
        return []
    t0 = min(r[0] for r in rows)
    end = max(r[0] + r[1] for r in rows)
    shortest = min((r[1] for r in rows if r[1] > 0), default=1.0)
    width = max((end - t0) / max_points, shortest)
    buckets: dict[int, list[float]] = {}
    for start, _duration, *energies in rows:
        sums = buckets.setdefault(int((start - t0) // width), [0.0, 0.0, 0.0, 0.0])
        for k, energy_j in enumerate(energies):
            sums[k] += energy_j
    return [{"t_s": i * width, "duration_s": width,
             **{f"{c}_w": sums[k] / width for k, c in enumerate(("cpu", "gpu", "ram", "other"))}}
            for i, sums in sorted(buckets.items())]
