"""CodeCarbon's ``emissions.csv`` history -> runs in the local store (``wattprint import
codecarbon``), from where ``wattprint push`` sends them to a team server.

One run per row: one record spanning the row's duration, and a finished summary. Every row
layout CodeCarbon has written is read by column name: 1.x (only ``energy_consumed``, no
``run_id``), 2.x (energy per CPU, GPU and RAM, later ``pue``) and 3.x (``water_consumed``,
utilisation), and the per-task files of ``start_task``/``stop_task`` (a run per task, tagged
``codecarbon.task_name``). Units are CodeCarbon's: kWh, kg, s. CodeCarbon multiplies energy by the PUE
before it writes it, so the IT energy kept here is ``kWh x 3.6e6 / pue`` J per component and
the record carries that PUE; emissions are the file's, x 1000 (g). A 1.x row's single total is
kept as "other" energy.

Nothing imported passes for wattprint's own measurement. The wire format's ``method`` knows no
"imported", so each device is ``modelled`` (CodeCarbon's figures may be RAPL or a TDP model:
the file does not say) with a detail naming the file and line; the run's tags say
``imported.method = imported`` and ``imported_from = codecarbon <version> emissions.csv``, the
intensity source says the same, and the run carries a warning that ``wattprint show`` prints.

Idempotent: a run's id is a hash of the row's project, CodeCarbon run id and timestamp, so a
file imported twice (or grown by appends and imported again) adds only the new rows. A row
that cannot be read is reported with its line number and skipped; the good rows are kept.
CodeCarbon's ``timestamp`` is the end of the run in the writing machine's local time without
an offset: it is read in ``tz`` (default: this machine's zone), and the zone used is in the
tags. Rows wattprint's own codecarbon-csv sink wrote (``codecarbon_version`` starting with
"wattprint", or a ``run_id`` that is a run in the store) are not imported: those runs were
measured by wattprint and are in the store of the machine that measured them.
"""

from __future__ import annotations

import csv
import hashlib
import math
from datetime import datetime, timezone
from pathlib import Path

from .._struct import dataclass
from ..errors import WattprintError
from ..records import (
    J_PER_KWH,
    ComponentEnergy,
    Record,
    RunAccumulator,
    RunInfo,
    RunSummary,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import tzinfo
    from typing import Any, Mapping, Sequence

    from ..wire import Item

__all__ = ["CodeCarbonFileError", "ImportedRun", "ImportResult", "RowProblem",
           "import_emissions_csv", "read_emissions_csv"]

_COMPONENTS = ("cpu", "gpu", "ram")


class CodeCarbonFileError(WattprintError):
    """The file is not a CodeCarbon emissions.csv at all (no rows can be read from it)."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int  # line number in the file (the header is line 1)
    message: str


@dataclass(frozen=True, slots=True)
class ImportedRun:
    line: int
    info: RunInfo
    record: Record  # one, over the row's whole duration
    summary: RunSummary

    @property
    def run_id(self) -> str:
        return self.info.run_id

    @property
    def items(self) -> tuple[Item, ...]:
        """What the store is given, in the order a tracker sends it."""
        return (self.info, self.record, self.summary)


@dataclass(frozen=True, slots=True)
class ImportResult:
    path: str
    imported: tuple[ImportedRun, ...]  # new in the store
    already: tuple[ImportedRun, ...]  # in the store before (an earlier import)
    problems: tuple[RowProblem, ...]  # rows skipped, with why
    # rows wattprint's codecarbon-csv sink wrote: the run is in the store it was measured in
    own: tuple[ImportedRun, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        def runs(items: tuple[ImportedRun, ...]) -> list[dict[str, Any]]:
            return [{"line": r.line, "run_id": r.run_id} for r in items]

        return {"path": self.path, "imported": runs(self.imported),
                "already_imported": runs(self.already),
                "written_by_wattprint": [{"line": r.line, "run_id": r.info.tags[
                    "codecarbon.run_id"]} for r in self.own],
                "skipped": [{"line": p.line, "reason": p.message} for p in self.problems]}


def read_emissions_csv(path: Path, *, project: str | None = None, tz: tzinfo | None = None,
                       ) -> tuple[list[ImportedRun], list[RowProblem]]:
    """The runs of every readable row of ``path``, and the rows that could not be read.

    ``project`` replaces the file's ``project_name``; ``tz`` is the zone the file's timestamps
    were written in (default: this machine's local zone).
    """
    zone = tz or datetime.now().astimezone().tzinfo or timezone.utc
    runs: list[ImportedRun] = []
    problems: list[RowProblem] = []
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CodeCarbonFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        _check_header(path, header)
        for row in reader:
            line = reader.line_num  # the header is line 1
            try:
                if None in row or None in row.values():
                    raise ValueError(f"the row has {'more' if None in row else 'fewer'} "
                                     f"columns than the header's {len(header)}")
                runs.append(_row_run(row, path=path, line=line, project=project, tz=zone))
            except (ValueError, KeyError, OverflowError) as exc:
                problems.append(RowProblem(line, str(exc)))
    return runs, problems


def _check_header(path: Path, header: Sequence[str]) -> None:
    missing = [c for c in ("timestamp", "duration", "emissions") if c not in header]
    has_energy = "energy_consumed" in header or all(f"{c}_energy" in header for c in _COMPONENTS)
    if missing or not has_energy:
        need = missing + ([] if has_energy else ["cpu_energy, gpu_energy, ram_energy or "
                                                 "energy_consumed"])
        raise CodeCarbonFileError(
            f"{path} is not a CodeCarbon emissions.csv: its header lacks {', '.join(need)} "
            f"(it has: {', '.join(header) or 'nothing'}). Give the emissions.csv that "
            "CodeCarbon wrote in its output_dir.")


def _number(row: Mapping[str, Any], column: str, *, default: float | None = None) -> float:
    text = (row.get(column) or "").strip()
    if not text:
        if default is not None:
            return default
        raise ValueError(f"{column} is empty")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{column} {text!r} is not a finite number of 0 or more")
    return value


def _text(row: Mapping[str, Any], column: str) -> str:
    return (row.get(column) or "").strip()


def _end_s(text: str, tz: tzinfo) -> float:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp {text!r} is not a date and time like "
                         "2024-05-01T10:00:00") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.timestamp()


def _stable_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(("codecarbon", *parts)).encode()).hexdigest()[:32]


def _row_run(row: Mapping[str, Any], *, path: Path, line: int, project: str | None,
             tz: tzinfo) -> ImportedRun:
    version = _text(row, "codecarbon_version")
    stamp = _text(row, "timestamp")
    if not stamp:
        raise ValueError("timestamp is empty")
    duration_s = _number(row, "duration")
    end_s = _end_s(stamp, tz)
    start_s = end_s - duration_s
    pue = _number(row, "pue", default=1.0)
    if pue < 1.0:
        raise ValueError(f"pue {pue!r} is below 1")
    emissions_g = _number(row, "emissions") * 1000.0
    per_component = all(row.get(f"{c}_energy") not in (None, "") for c in _COMPONENTS)
    if per_component:  # 2.x and later: the components (energy_consumed is their sum)
        energy_j = {c: _number(row, f"{c}_energy") * J_PER_KWH / pue for c in _COMPONENTS}
        energy_j["other"] = 0.0
    else:  # 1.x: one total, not split
        energy_j = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0,
                    "other": _number(row, "energy_consumed") * J_PER_KWH / pue}
    name = project or _text(row, "project_name") or "codecarbon"
    cc_run_id = _text(row, "run_id")
    task = _text(row, "task_name")  # a task file (start_task/stop_task): one row per task
    run_id = _stable_id(name, cc_run_id, stamp, _text(row, "experiment_id"),
                        *((task,) if task else ()))
    origin = f"codecarbon {version or '(version not recorded)'} emissions.csv"
    where = f"{path.name}, line {line}"
    location = _location(row)
    devices = _devices(row, energy_j, origin, where)
    info = RunInfo(
        run_id=run_id, project=name, experiment=_text(row, "experiment_id") or "default",
        started_s=start_s, scope="process" if _text(row, "tracking_mode") == "process"
        else "machine", interval_s=max(duration_s, 0.1), pue=pue, location=location,
        host=_host(row), devices=tuple(devices), skipped=(),
        warnings=(f"imported from {origin} ({where}): the figures are CodeCarbon's, not "
                  "measured by wattprint; energy per component is CodeCarbon's kWh / PUE",),
        wattprint_version=_version(),
        tags={"imported_from": origin, "imported.method": "imported",
              "imported.file": path.name, "imported.line": str(line),
              "codecarbon.run_id": cc_run_id, "codecarbon.version": version,
              **({"codecarbon.task_name": task} if task else {}),
              "codecarbon.timestamp": stamp,
              "codecarbon.timestamp_zone": str(tz)},
    )
    total_j = sum(energy_j.values())
    facility_kwh = total_j * pue / J_PER_KWH
    record = Record(
        run_id=run_id, seq=0, start_s=start_s, duration_s=duration_s,
        cpu_energy_j=energy_j["cpu"], gpu_energy_j=energy_j["gpu"],
        ram_energy_j=energy_j["ram"], other_energy_j=energy_j["other"], energy_j=total_j,
        pue=pue, emissions_g=emissions_g,
        # the intensity CodeCarbon's figures imply: its emissions over its (PUE'd) energy
        intensity_g_per_kwh=emissions_g / facility_kwh if facility_kwh > 0 else 0.0,
        intensity_zone=location["country"] or "", intensity_source=origin,
        intensity_year=None, intensity_kind="average", intensity_live=False,
        components=tuple(
            ComponentEnergy(component=d["component"], device=d["device"], method="modelled",
                            energy_j=energy_j[d["device"].split(":")[1]], share=1.0,
                            share_basis="whole")
            for d in devices),
    )
    acc = RunAccumulator()
    acc.add(record)
    summary: RunSummary = acc.summary(info, duration_s=duration_s)
    return ImportedRun(line, info, record, summary)


def _devices(row: Mapping[str, Any], energy_j: Mapping[str, float], origin: str,
             where: str) -> list[dict[str, Any]]:
    """One device per component the row has energy for (a GPU-less row has no GPU)."""
    models = {"cpu": _text(row, "cpu_model"), "gpu": _text(row, "gpu_model")}
    devices = []
    for bucket in (*_COMPONENTS, "other"):
        if energy_j[bucket] <= 0:
            continue
        model = models.get(bucket, "")
        detail = f"imported from {origin} ({where})" + (f": {model}" if model else "")
        devices.append({"device": f"codecarbon:{bucket}",
                        "component": "system" if bucket == "other" else bucket,
                        "method": "modelled", "detail": detail, "coverage": "host",
                        "attributes": {"imported": "codecarbon"}, "warning": None,
                        "max_power_w": None})
    return devices


def _location(row: Mapping[str, Any]) -> dict[str, Any]:
    from ..intensity.tables import normalize_country

    iso = _text(row, "country_iso_code")
    country: str | None = None
    notes: list[str] = []
    if iso:
        try:
            country = normalize_country(iso)
        except WattprintError:
            notes.append(f"CodeCarbon's country_iso_code {iso!r} is not a known country")
    lat, lon = _text(row, "latitude"), _text(row, "longitude")
    return {
        "country": country, "subdivision": _text(row, "region") or None,
        "resolved_by": "config" if country else "default",
        "detail": f"from CodeCarbon's emissions.csv (country_iso_code {iso or 'empty'}, region "
                  f"{_text(row, 'region') or 'empty'})",
        "zone": None, "cloud": _text(row, "cloud_provider") or None,
        "cloud_region": _text(row, "cloud_region") or None,
        "lat": _float_or_none(lat), "lon": _float_or_none(lon), "postcode": None,
        "notes": notes,
    }


def _float_or_none(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _host(row: Mapping[str, Any]) -> dict[str, Any]:
    # The file names no machine: the host is the machine's description as CodeCarbon saw it,
    # and its id a hash of that (runs from one machine group together, never with real hosts).
    described = (_text(row, "os"), _text(row, "cpu_model"), _text(row, "gpu_model"))
    return {"host_id": hashlib.sha256("\x1f".join(described).encode()).hexdigest()[:16],
            "hostname": "codecarbon import", "os": described[0], "machine": "",
            "python": _text(row, "python_version"), "pid": 0, "tracker_pid": 0,
            "command": "", "cpu": described[1]}


def _version() -> str:
    from .. import __version__

    return __version__


def import_emissions_csv(path: Path, store_path: Path, *, project: str | None = None,
                         tz: tzinfo | None = None) -> ImportResult:
    """Read ``path`` and write its new runs to the store at ``store_path`` (each run in one
    transaction, through the same writer the tracker's sqlite sink uses)."""
    from ..sinks.sqlite import SqliteSink
    from ..store import open_repository

    runs, problems = read_emissions_csv(path, project=project, tz=tz)
    repo = open_repository(store_path)
    try:
        # A row wattprint's own sink wrote names its run; in a file of an older CodeCarbon
        # layout (no codecarbon_version column) that run id is the only sign.
        own: list[ImportedRun] = []
        theirs: list[ImportedRun] = []
        for run in runs:
            tags = run.info.tags
            ours = (tags["codecarbon.version"].startswith("wattprint")
                    or _has_run(repo, tags["codecarbon.run_id"]))
            (own if ours else theirs).append(run)
        runs = theirs
        known = {r.run_id for r in runs if _has_run(repo, r.run_id)}
    finally:
        repo.close()
    new = [r for r in runs if r.run_id not in known]
    seen: set[str] = set()
    fresh: list[ImportedRun] = []
    repeated = [r for r in runs if r.run_id in known]
    for run in new:  # the same row twice in one file is one run
        (repeated if run.run_id in seen else fresh).append(run)
        seen.add(run.run_id)
    sink = SqliteSink(store_path)
    try:
        for run in fresh:
            sink.export(run.items)
    finally:
        sink.close()
    return ImportResult(str(path), tuple(fresh), tuple(repeated), tuple(problems), tuple(own))


def _has_run(repo: Any, run_id: str) -> bool:
    from ..errors import StoreError

    if not run_id:
        return False
    try:
        repo.info(run_id)
    except StoreError:
        return False
    return True
