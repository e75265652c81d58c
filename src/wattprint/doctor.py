"""``wattprint doctor``: every sensor tried and what it found or why not (with the fix), the
settings and where each came from, the location and intensity that would be used and why.

It never raises: a broken setting is reported and the rest is diagnosed without it. Findings
come in three strengths, and :func:`exit_status` turns them into the command's exit status:

- **problems**: a run would refuse to start (a bad setting, an unknown location, a live
  provider that cannot work), would measure nothing (no sensor at all), or has nowhere to keep
  its data (the store cannot be read). Exit 1.
- **warnings**: a fallback that makes figures less exact and that every run labels: energy
  estimated by a model instead of measured, the WORLD average for an unknown location, the
  bundled tables standing in for a live provider. Exit 0, or 1 with ``strict``.
- **notes**: information only.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from .errors import WattprintError

__all__ = ["diagnose", "exit_status", "render"]

# Components whose modelled energy is worth a warning: they usually have a real counter (RAPL,
# NVML, amdsmi) that the fix in the skipped list would open. RAM is modelled almost everywhere.
_MEASURABLE = ("cpu", "gpu")


def diagnose(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    paths: Any = None,
    modules: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    from . import __version__
    from .cluster import detect_job
    from .config import describe, load_config
    from .sensors import HostPaths, detect
    from .tracker import probe_context

    paths = paths or HostPaths()
    report: dict[str, Any] = {"wattprint": __version__, "python": sys.version.split()[0],
                              "platform": sys.platform, "problems": [], "warnings": []}
    try:
        config = load_config(overrides, environ=environ)
    except WattprintError as exc:
        report["problems"].append(f"config: {exc}")
        config = _usable_config(overrides, environ)
    report["config"] = [{"key": k, "value": v, "source": s} for k, v, s in describe(config)]

    from .host import hostname

    job = detect_job(config.environ, job_id=config.job_id, hostname=hostname(), paths=paths)
    report["job"] = job.to_dict() if job else None
    location = _locate(config, paths, report)
    context = probe_context(config, paths, job, modules, location=location)
    detection = detect(context)
    report["devices"] = [
        {"device": d.device, "component": d.component, "method": d.method, "detail": d.detail,
         "coverage": d.coverage, "warning": d.warning}
        for d in detection.devices()
    ]
    report["skipped"] = [{"sensor": s.sensor, "reason": s.reason, "fix": s.fix}
                         for s in detection.skipped]
    if not report["devices"]:
        report["problems"].append("no energy sensor could be opened: a run would read 0 J; see "
                                  "'Sensors not available' for each reason and fix")
    for device in report["devices"]:
        if device["warning"]:
            report["warnings"].append(f"{device['device']}: {device['warning']}")
        elif device["method"] == "modelled" and device["component"] in _MEASURABLE:
            report["warnings"].append(
                f"{device['device']}: {device['component']} energy is estimated by a model, not "
                "measured; 'Sensors not available' says how to open a counter")
    if job is not None:  # a derived job id's limits, GPUs without a clear owner
        from .cluster import job_warnings

        report["warnings"] += job_warnings(
            job, config.environ, gpu_ids=config.gpu_ids,
            gpus_measured=sum(d["component"] == "gpu" for d in report["devices"]))
    report["notes"] = [f"{sensor.name}: {note}" for sensor in detection.sensors
                       for note in getattr(sensor, "notes", [])]
    for sensor in detection.sensors:
        sensor.close()
    report["container"] = _container(paths)
    report["instance"] = _instance(context.options, report)
    report["location"], report["intensity"] = _location_and_intensity(config, location, paths,
                                                                      report)
    report["store"] = _store(config, paths)
    if report["store"].get("error"):
        report["problems"].append(f"store: {report['store']['error']}")
    report["server"], problems = _team_server(config)
    report["problems"] += problems
    return report


def _team_server(config: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """The team server the http sink and `push` would use (no network call), and why a run
    with the http sink could not send to it."""
    from .sinks.http import require_httpx, server_login

    uses_sink = "http" in config.sinks
    try:
        url, _key = server_login(config)  # the key itself is never reported
    except WattprintError as exc:
        return None, [f"sink http: {exc}"] if uses_sink else []
    from_login = config.server_url is None or config.server_api_key is None
    server = {"url": url, "http_sink": uses_sink,
              "key_from": "the saved login" if from_login else "the settings"}
    try:
        require_httpx()
    except WattprintError as exc:
        return server, [f"sink http: {exc}"] if uses_sink else []
    return server, []


def _usable_config(overrides: Mapping[str, Any] | None, environ: Mapping[str, str] | None) -> Any:
    """The settings to diagnose with when loading them failed: without the bad variables if
    that was the trouble, else the defaults (with the flags, when they are valid)."""
    from .config import Config, load_config_skipping_bad_env

    try:
        return load_config_skipping_bad_env(overrides, environ=environ)[0]
    except WattprintError:
        pass
    base = Config(environ=dict(environ or {}))
    try:
        return base.with_overrides(overrides or {})
    except WattprintError:
        return base


def exit_status(report: Mapping[str, Any], *, strict: bool = False) -> int:
    """0 when nothing is wrong, 1 on a problem (or, with ``strict``, on a warning too)."""
    if report["problems"] or (strict and report["warnings"]):
        return 1
    return 0


def _container(paths: Any) -> dict[str, Any] | None:
    from .sensors.cgroup import detect_cgroup

    try:
        group = detect_cgroup(paths)
    except Exception as exc:  # diagnosing must not fail on an odd cgroup layout
        return {"error": repr(exc)}
    if group is None:
        return None
    return {"version": group.version, "path": group.path, "limited": group.limited,
            "cpu_quota_cores": group.cpu_quota_cores,
            "memory_limit_bytes": group.memory_limit_bytes}


def _locate(config: Any, paths: Any, report: dict[str, Any]) -> Any:
    from .intensity.locate import DEFAULT_WARNING, locate

    try:
        location = locate(config, paths)
    except WattprintError as exc:
        report["problems"].append(f"location: {exc}")
        location = locate(type(config)(environ=config.environ), paths)
    if location.is_default:
        report["warnings"].append(f"{DEFAULT_WARNING} ({location.detail})")
    return location


def _instance(options: Any, report: dict[str, Any]) -> dict[str, Any] | None:
    """The cloud instance type the CPU model and the embodied figures use, and its figures."""
    from .sensors.instances import instance_choice

    choice = instance_choice(options)
    if choice is None:
        return None
    if choice.warning and not any(choice.warning in (d["warning"] or "")
                                  for d in report["devices"]):
        report["warnings"].append(f"cloud instance type: {choice.warning}")
    row = choice.row
    found: dict[str, Any] = {"name": choice.name, "source": choice.source,
                             "provider": choice.provider, "known": row is not None,
                             "warning": choice.warning}
    if row is not None:
        found.update(
            label=row.label, cpu=row.cpu_label, vcpus=row.vcpus,
            platform_vcpus=row.platform_vcpus, min_w_per_vcpu=row.min_w_per_vcpu,
            max_w_per_vcpu=row.max_w_per_vcpu, embodied_kg=row.embodied_kg,
            platform_embodied_kg=row.platform_embodied_kg,
            embodied_basis=row.embodied_basis_text(), embodied_year=row.embodied_year,
            coefficients_source=f"{row.source}, {row.year}")
    return found


def _location_and_intensity(
    config: Any, location: Any, paths: Any, report: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    from .intensity.bundled import BundledSource
    from .tracker import _resolve_pue

    pue, pue_source, wue = _resolve_pue(config, location)
    report["pue"] = {"pue": pue, "source": pue_source, "wue": wue}
    now = datetime.now(timezone.utc)
    intensity = BundledSource(figure=config.intensity_figure).lookup(location, now, now)
    if intensity.note:
        report["warnings"].append(f"carbon intensity: {intensity.note}")
    report["provider"] = config.provider
    if config.provider != "bundled":  # a choice, not a fallback: rendered as information
        report["provider_kind"], problems = _live_provider(config)
        report["problems"] += problems
    return location.to_dict(), {
        "g_per_kwh": intensity.g_per_kwh, "zone": intensity.zone, "source": intensity.source,
        "year": intensity.year, "kind": intensity.kind, "live": intensity.live,
        "basis": intensity.basis, "scope": intensity.scope, "gases": intensity.gases,
        "note": intensity.note,
    }


def _live_provider(config: Any) -> tuple[str | None, list[str]]:
    """The configured live provider's kind, and why it could never answer (a run would refuse
    to start, or do without it for its whole length). Built as the tracker builds it, without
    any network call."""
    import importlib.util

    from .tracker import _make_provider

    try:
        provider = _make_provider(config)  # checks the credentials, as a run's start does
    except WattprintError as exc:
        return None, [f"provider: {exc}"]
    kind = str(provider.kind)
    provider.close()
    if importlib.util.find_spec("httpx") is None:
        return kind, [f"provider {config.provider} needs httpx, which is not installed: "
                      "pip install 'wattprint[live]'"]
    return kind, []


def _store(config: Any, paths: Any = None) -> dict[str, Any]:
    """Where runs are written and read, on what file system, and what is in the files."""
    from .host import HostPaths, host_id
    from .store import open_repository
    from .store.location import placement, store_files
    from .store.schema import SCHEMA_VERSION

    path = config.store_path
    paths = paths or HostPaths()
    info: dict[str, Any] = {"path": str(path), "sinks": list(config.sinks)}
    try:
        where = placement(path, host_id(paths), paths)
        files = store_files(path)
        info.update(where.to_dict())
        info.update(exists=bool(files), files=[str(f) for f in files])
        if not files:
            blocked = _cannot_create(path.parent)
            if blocked:
                info["error"] = blocked
        if where.network:
            info["note"] = (
                f"the store is on a network file system ({where.fstype} at {where.mount_point}),"
                " where SQLite's locking cannot be trusted: this node writes its own file "
                f"{where.write_path.name}, and reads merge every node's file")
        if files:
            repo = open_repository(path, paths=paths)
            try:
                info["schema_version"] = SCHEMA_VERSION
                info["runs"] = sum(int(s.query("SELECT count(*) FROM runs")[0][0])
                                   for s in repo.sources)
                info["notices"] = list(repo.notices)
            finally:
                repo.close()
    except WattprintError as exc:
        info["error"] = str(exc)
    except OSError as exc:  # diagnosing must not fail on an unreadable directory
        info["error"] = f"cannot read {path.parent}: {exc}"
    return info


def _cannot_create(directory: Path) -> str | None:
    """Why the store's directory could not be created or written, or None when it could."""
    import os

    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return (f"cannot create the store in {directory}: {existing} is not a directory; set "
                "`home` (WATTPRINT_HOME) to a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        return (f"cannot create the store in {directory}: {existing} is not writable; set "
                "`home` (WATTPRINT_HOME) to a directory you can write")
    return None


def render(report: Mapping[str, Any]) -> str:
    out = [f"wattprint {report['wattprint']} on Python {report['python']} ({report['platform']})",
           "", "Sensors in use:"]
    if not report["devices"]:
        out.append("  none: energy would read 0")
    for d in report["devices"]:
        out.append(f"  + {d['device']:<18} {d['component']:<6} {d['method']:<9} {d['detail']}")
        if d["coverage"] != "host":
            out.append(f"      covers: {d['coverage']}")
        if d["warning"]:
            out.append(f"      ! {d['warning']}")
    for note in report.get("notes", []):
        out.append(f"  note: {note}")
    out += ["", "Sensors not available:"]
    for s in report["skipped"] or []:
        out.append(f"  - {s['sensor']:<18} {s['reason']}")
        if s["fix"]:
            out.append(f"      fix: {s['fix']}")
    if not report["skipped"]:
        out.append("  (none)")
    if report.get("job"):
        job = report["job"]
        out += ["", f"Distributed job {job['job_id']} ({job['source']}): rank {job['rank']}, "
                    f"local rank {job['local_rank']} on {job['node']}"
                    + (" (node leader: measures machine-wide devices)" if job["node_leader"]
                       else " (machine-wide devices are measured by local rank 0)"),
                f"  job id from {job.get('job_id_from') or 'the launcher'}"]
    container = report.get("container")
    if container:
        out += ["", f"Control group: {container}"]
    loc, inten = report["location"], report["intensity"]
    where = loc.get("country") or "WORLD"
    if loc.get("subdivision"):
        where += f"-{loc['subdivision']}"
    if loc.get("cloud"):
        where += f" ({loc['cloud']} {loc['cloud_region']})"
    out += ["", f"Location: {where}, resolved by {loc['resolved_by']} ({loc.get('detail', '')})"]
    for note in loc.get("notes") or []:
        out.append(f"  tried: {note}")
    out += [
            f"Intensity: {inten['g_per_kwh']:.1f} gCO2e/kWh for {inten['zone']} | "
            f"{inten['source']}, {inten['year']} | {inten['kind']}, {inten['scope']}, "
            f"{inten['gases']}, {'live' if inten['live'] else 'bundled'}"]
    if inten.get("note"):
        out.append(f"  note: {inten['note']}")
    if report.get("provider", "bundled") != "bundled":
        fallback = ("no fallback: the bundled average cannot stand in for a marginal figure, "
                    "so an interval without its value is a gap"
                    if report.get("provider_kind") == "marginal"
                    else "the bundled value above as its labelled fallback")
        out.append(f"  live provider {report['provider']}: polled in the background during "
                   f"runs, with {fallback} (doctor makes no network call; `wattprint "
                   "intensity` does)")
    out += _render_instance(report.get("instance"))
    pue = report["pue"]
    out.append(f"PUE: {pue['pue']:g} ({pue['source']})")
    if pue["wue"]:
        out.append(f"WUE: {pue['wue']['wue_l_per_kwh']:g} L/kWh ({pue['wue']['source']}, "
                   f"{pue['wue']['year']})")
    out += _render_store(report["store"])
    server = report.get("server")
    if server:
        how = ("runs send their records to it (http sink)" if server["http_sink"]
               else "runs do not send to it (add http to sinks); `wattprint push` uploads stored runs")
        out.append(f"Team server: {server['url']}, key from {server['key_from']}; {how}")
    out += ["", "Settings (value <- source):"]
    for item in report["config"]:
        out.append(f"  {item['key']:<13} {item['value']!s:<24} <- {item['source']}")
    if report["warnings"] or report["problems"]:
        out.append("")
    for problem in report["problems"]:
        out.append(f"PROBLEM: {problem}")
    for warning in report["warnings"]:
        out.append(f"WARNING: {warning}")
    problems, warnings = len(report["problems"]), len(report["warnings"])
    out += ["", f"{problems} problem{'s' if problems != 1 else ''}, {warnings} "
                f"warning{'s' if warnings != 1 else ''}"
                + (" (exit status 1)" if problems else "")]
    return "\n".join(out)


def _render_instance(found: Mapping[str, Any] | None) -> list[str]:
    if not found:
        return []
    if not found["known"]:
        return [f"Cloud instance type: {found['name']} ({found['source']}): not in the bundled "
                "table, averages used (see the warning)"]
    out = [f"Cloud instance type: {found['label']} ({found['source']})"]
    if found["max_w_per_vcpu"] is not None:
        out.append(f"  CPU: {found['vcpus']} vCPUs x {found['min_w_per_vcpu']:g}-"
                   f"{found['max_w_per_vcpu']:g} W per vCPU for {found['cpu']} "
                   f"({found['coefficients_source']})")
    else:
        out.append(f"  CPU: {found['vcpus']} vCPUs of {found['cpu']}: no per-vCPU "
                   "coefficients, the cloud average is used")
    if found["embodied_kg"] is not None:
        out.append(f"  embodied: {found['embodied_kg']:g} kgCO2e, {found['vcpus']} of the host's "
                   f"{found['platform_vcpus']} vCPUs x {found['platform_embodied_kg']:g} kg "
                   f"without GPUs ({found['embodied_basis']}, {found['embodied_year']})")
    return out


def _render_store(store: Mapping[str, Any]) -> list[str]:
    out = ["", f"Store: {store['path']} ({'exists' if store.get('exists') else 'not created yet'}"
           + (f", schema v{store['schema_version']}, {store['runs']} runs"
              if "schema_version" in store else "") + ")"]
    if store.get("fstype"):
        out.append(f"  file system: {store['fstype']}"
                   + (" (network)" if store.get("network") else " (local)"))
    if store.get("note"):
        out.append(f"  note: {store['note']}")
    if len(store.get("files") or ()) > 1:
        out.append(f"  reads merge {len(store['files'])} files: "
                   + ", ".join(Path(f).name for f in store["files"]))
    for notice in store.get("notices") or ():
        out.append(f"  ! {notice}")
    if store.get("error"):
        out.append(f"  PROBLEM: {store['error']}")
    return out

