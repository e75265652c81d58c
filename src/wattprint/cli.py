"""The ``wattprint`` command: run | monitor | doctor | runs | show | setup-rapl.

The CLI is the host program here, so unlike the library it installs signal handlers: in
``run`` it forwards termination signals to the child and ignores its own Ctrl-C (the terminal
already sends it to the child), then exits the way the child did.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Sequence

from .errors import ConfigError, LocationError, StoreError, WattprintError

EXIT_USAGE = 2

# Settings every measuring command accepts; dest names are config keys.
_SETTING_FLAGS = (
    ("--project", "project", str, "project name (default: 'default')"),
    ("--experiment", "experiment", str, "experiment name (default: 'default')"),
    ("--country", "country", str, "ISO 3166 country code or name, e.g. FR"),
    ("--subdivision", "subdivision", str, "region within the country, e.g. CA"),
    ("--zone", "zone", str, "grid zone id, e.g. US-CA or SE-SE3 (overrides country)"),
    ("--cloud", "cloud", str, "cloud provider: aws, gcp, azure, oci, ovhcloud, scaleway"),
    ("--cloud-region", "cloud_region", str, "cloud region, e.g. europe-west9"),
    ("--provider", "provider", str, "carbon intensity: bundled, electricitymaps, watttime, neso"),
    ("--interval", "interval_s", float, "sampling interval in seconds (0.1-3600, default 5)"),
    ("--scope", "scope", str, "'machine' (default) or 'process'"),
    ("--pue", "pue", float, "data-centre PUE (default 1.0)"),
    ("--sinks", "sinks", str, "comma-separated outputs: sqlite, csv, jsonl or any sink a package "
                              "registers (default sqlite)"),
    ("--cpu-tdp", "cpu_tdp_w", float, "CPU TDP in watts per socket, for the CPU model"),
)


def _add_settings(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("settings (override env and config files)")
    for flag, dest, kind, help_text in _SETTING_FLAGS:
        group.add_argument(flag, dest=dest, type=kind, default=None, help=help_text)
    group.add_argument("--json-summary", type=Path, default=None, metavar="PATH",
                       help="also write the run summary as JSON to PATH")
    group.add_argument("--quiet", action="store_true", help="no live status line or summary")


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {dest: getattr(args, dest) for _, dest, _, _ in _SETTING_FLAGS
            if getattr(args, dest, None) is not None}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wattprint",
        description="Measure the energy and emissions of computing.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"wattprint {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a command and measure it",
                         description="Run CMD, measure its energy and emissions, store the run.")
    _add_settings(run)
    run.add_argument("--no-status", action="store_true", help="no live status line")
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...")

    monitor = sub.add_parser("monitor", help="measure the whole machine until Ctrl-C")
    _add_settings(monitor)
    monitor.add_argument("--duration", type=float, default=None, metavar="S",
                         help="stop after S seconds instead of waiting for Ctrl-C")

    doctor = sub.add_parser("doctor", help="explain what would be measured and how")
    doctor.add_argument("--json", action="store_true", help="machine-readable output")
    doctor.add_argument("--country", dest="country", default=None)
    doctor.add_argument("--subdivision", dest="subdivision", default=None)

    runs = sub.add_parser("runs", help="list recent runs, newest first")
    runs.add_argument("--limit", type=int, default=20, help="runs per page (default 20)")
    _add_run_filters(runs)
    runs.add_argument("--cursor", default=None,
                      help="continue after a previous page (the cursor it printed)")
    runs.add_argument("--json", action="store_true")

    show = sub.add_parser("show", help="show one run")
    show.add_argument("run_id", help="run id or a unique prefix of it (a job id with --job)")
    show.add_argument("--job", action="store_true",
                      help="RUN_ID is a distributed job id: show the sum of all its ranks")
    show.add_argument("--json", action="store_true")

    export = sub.add_parser("export", help="print a stored run as wire-format JSON Lines",
                            description="Print RUN's wire objects, one JSON object a line: its "
                                        "run info, records, spans and summary (see `wattprint "
                                        "schema`).")
    export.add_argument("run_id", help="run id or a unique prefix of it")

    stats = sub.add_parser("stats", help="energy and emissions totals, grouped")
    stats.add_argument("--by", required=True,
                       choices=("project", "experiment", "day", "host", "component", "region"),
                       help="group by this (day: UTC date the run started)")
    _add_run_filters(stats)
    stats.add_argument("--json", action="store_true")

    intensity = sub.add_parser("intensity", help="the carbon intensity a run would use, and why")
    for flag, dest in (("--country", "country"), ("--subdivision", "subdivision"),
                       ("--zone", "zone"), ("--cloud", "cloud"),
                       ("--cloud-region", "cloud_region")):
        intensity.add_argument(flag, dest=dest, default=None)
    intensity.add_argument("--json", action="store_true")

    regions = sub.add_parser("regions", help="cloud regions with their carbon intensity")
    regions.add_argument("--cloud", default=None, help="only this provider's regions")
    regions.add_argument("--json", action="store_true")

    rescore = sub.add_parser("rescore", help="recompute a stored run's emissions from a "
                                             "provider's hourly history (kept beside the original)")
    rescore.add_argument("run_id")
    rescore.add_argument("--provider", default=None,
                         help="electricitymaps, watttime or neso (default: the `provider` setting)")
    rescore.add_argument("--json", action="store_true")

    sub.add_parser("schema", help="print the JSON Schema of the wire format",
                   description="Print the JSON Schema (draft 2020-12) that every object a run "
                               "emits (JSON Lines, store exports, HTTP) validates against.")

    spool = sub.add_parser(
        "spool", help="data a sink could not take yet: list it, or deliver it now",
        description="List the spool (what a failing sink could not take; delivered automatically "
                    "by the next run) or deliver it now with `wattprint spool deliver`.")
    spool.add_argument("action", nargs="?", choices=("list", "deliver"), default="list")
    spool.add_argument("--sink", action="append", dest="spool_sinks", metavar="NAME",
                       help="only this sink's files (repeatable)")
    spool.add_argument("--json", action="store_true")

    rapl = sub.add_parser("setup-rapl",
                          help="let non-root users read RAPL energy counters (udev rule)")
    rapl.add_argument("--apply", action="store_true", help="apply the steps now, with sudo")
    rapl.add_argument("--group", default="powercap", help="group given read access")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handlers = {
        "run": cmd_run, "monitor": cmd_monitor, "doctor": cmd_doctor, "runs": cmd_runs,
        "show": cmd_show, "setup-rapl": cmd_setup_rapl, "intensity": cmd_intensity,
        "regions": cmd_regions, "rescore": cmd_rescore, "schema": cmd_schema,
        "spool": cmd_spool, "export": cmd_export, "stats": cmd_stats,
    }
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return handlers[args.command](args)
    except (ConfigError, LocationError) as exc:
        print(f"wattprint: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"wattprint: {exc}", file=sys.stderr)
        return 1


# -- run ---------------------------------------------------------------------------------
def _config(args: argparse.Namespace) -> Any:
    from .config import load_config

    return load_config(_overrides(args))


def _write_json_summary(path: Path | None, summary: Any) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(summary.dumps() + "\n")


def _print_summary(summary: Any, config: Any, args: argparse.Namespace) -> None:
    if getattr(args, "quiet", False):
        return
    from .report import format_summary

    # "stored in" only when the store really has the run; otherwise the summary says where
    # the data went (the spool)
    stored = None
    if (summary.delivery or {}).get("sqlite") == "delivered":
        from .host import host_id
        from .store.location import placement

        stored = str(placement(config.store_path, host_id()).write_path)  # per-node on NFS
    print(format_summary(summary, store_path=stored), file=sys.stderr)


class _StatusLine:
    """A one-line live view on a TTY: elapsed, power, energy, emissions."""

    def __init__(self, tracker: Any, stream: Any = sys.stderr, period_s: float = 1.0) -> None:
        self._tracker = tracker
        self._stream = stream
        self._period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wattprint-status", daemon=True)

    def __enter__(self) -> _StatusLine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._stream.write("\r\x1b[2K")
        self._stream.flush()

    def _loop(self) -> None:
        from .report import format_duration, format_energy, format_mass

        while not self._stop.wait(self._period_s):
            snap = self._tracker.snapshot()
            self._stream.write(
                f"\r\x1b[2K[wattprint] {format_duration(snap.elapsed_s)}  {snap.power_w:.1f} W  "
                f"{format_energy(snap.energy_j)}  {format_mass(snap.emissions_g)} CO2e"
            )
            self._stream.flush()


def _wait_unreaped(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the child to exit but leave it a zombie, so its CPU time is still readable for
    the final process-scope sample. Returns a Popen-style code (negative: killed by signal)."""
    if hasattr(os, "waitid") and hasattr(os, "WNOWAIT"):
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return proc.wait()
        if info is not None:
            killed = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
            return -info.si_status if killed else info.si_status
    return proc.wait()


def _in_terminal_foreground() -> bool:
    """True when Ctrl-C from a terminal reaches our whole process group (child included)."""
    for stream in (sys.stdin, sys.stderr):
        try:
            if stream.isatty() and os.tcgetpgrp(stream.fileno()) == os.getpgrp():
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def cmd_run(args: argparse.Namespace) -> int:
    from .tracker import Tracker

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print("wattprint run: give a command after `--`, e.g. wattprint run -- python train.py",
              file=sys.stderr)
        return EXIT_USAGE
    config = _config(args)
    tracker = Tracker(config=config, command=" ".join(cmd)).prepare()
    proc: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: Any) -> None:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signum)

    forwarded = [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2]
    previous = {sig: signal.signal(sig, forward) for sig in forwarded}
    # Ctrl-C at a terminal already reaches the child (same process group): let it decide,
    # and do not die before it. A SIGINT sent to us alone is passed on.
    previous[signal.SIGINT] = signal.signal(
        signal.SIGINT, signal.SIG_IGN if _in_terminal_foreground() else forward
    )
    try:
        try:
            proc = subprocess.Popen(cmd)
        except OSError as exc:
            tracker.stop(status="failed")  # nothing ran; release what probing opened
            print(f"wattprint run: cannot start {cmd[0]!r}: {exc}", file=sys.stderr)
            return 127 if isinstance(exc, FileNotFoundError) else 126
        tracker.start(pid=proc.pid)
        if not (args.quiet or args.no_status) and sys.stderr.isatty():
            with _StatusLine(tracker):
                code = _wait_unreaped(proc)
        else:
            code = _wait_unreaped(proc)
        exit_code = code if code >= 0 else 128 - code
        summary = tracker.stop(exit_code=exit_code, status="finished" if code == 0 else "failed")
        proc.wait()  # reap
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _write_json_summary(args.json_summary, summary)
    _print_summary(summary, config, args)
    if code < 0:  # die the way the child died, so callers see the same signal
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return exit_code


# -- monitor -----------------------------------------------------------------------------
def cmd_monitor(args: argparse.Namespace) -> int:
    from .tracker import Tracker

    config = _config(args).with_overrides({"scope": "machine"})
    tracker = Tracker(config=config, command="wattprint monitor")
    stop = threading.Event()

    def request_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tracker.start()
        if not args.quiet:
            print("wattprint: monitoring this machine; Ctrl-C to stop", file=sys.stderr)
        if not args.quiet and sys.stderr.isatty():
            with _StatusLine(tracker):
                stop.wait(args.duration)
        else:
            stop.wait(args.duration)
        summary = tracker.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _write_json_summary(args.json_summary, summary)
    _print_summary(summary, config, args)
    return 0


# -- doctor ------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    from .doctor import diagnose, render

    report = diagnose(overrides={k: v for k, v in (("country", args.country),
                                                    ("subdivision", args.subdivision)) if v})
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        print(render(report))
    return 0


# -- runs / show / export / stats ----------------------------------------------------------
def _parse_when(text: str, *, now_s: float | None = None) -> float:
    """Unix seconds for ``--since``/``--until``: an age (``90m``, ``12h``, ``7d``, ``2w``) or an
    ISO 8601 date or date-time (local time unless it says otherwise, as ``runs`` prints)."""
    import re
    from datetime import datetime

    age = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if age:
        unit_s = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[age.group(2)]
        return (time.time() if now_s is None else now_s) - float(age.group(1)) * unit_s
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: give an age such as 12h or 7d, or a date such as "
            "2026-01-31 or 2026-01-31T08:00") from None
    return when.timestamp()  # naive: local time


def _add_run_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", default=None)
    parser.add_argument("--experiment", default=None)
    parser.add_argument("--job", default=None, help="only the runs (ranks) of this job id")
    parser.add_argument("--status", default=None,
                        choices=("running", "interrupted", "finished", "failed"))
    parser.add_argument("--host", default=None, help="host name or host id")
    parser.add_argument("--since", type=_parse_when, default=None, metavar="WHEN",
                        help="runs started at or after WHEN (7d, 12h, 2026-01-31, ...)")
    parser.add_argument("--until", type=_parse_when, default=None, metavar="WHEN",
                        help="runs started before WHEN")


def _run_filter(args: argparse.Namespace) -> Any:
    from .store.repository import RunFilter

    return RunFilter(project=args.project, experiment=args.experiment, status=args.status,
                     host=args.host, job_id=args.job, since_s=args.since, until_s=args.until)


def _open_store() -> Any:
    """This node's store file, for commands that write (``rescore``)."""
    from .config import load_config
    from .host import HostPaths, host_id
    from .store import Store
    from .store.location import placement

    where = placement(load_config().store_path, host_id(), HostPaths())
    if not where.write_path.exists():
        raise StoreError(f"no runs yet: {where.write_path} does not exist; measure something "
                         "first, e.g. `wattprint run -- python train.py`")
    store = Store(where.write_path, journal_mode=where.journal_mode)
    _print_notices(store.notices)
    return store


def _open_repository() -> Any:
    """Every store file of the configured home, merged, for commands that read."""
    from .config import load_config
    from .store import open_repository

    repo = open_repository(load_config().store_path)
    _print_notices(repo.notices)
    return repo


def _print_notices(notices: Sequence[str]) -> None:
    for notice in notices:
        print(f"wattprint: {notice}", file=sys.stderr)


def _nothing_yet() -> str:
    from .config import load_config

    return (f"no runs yet in {load_config().store_path.parent}: measure something with "
            "`wattprint run -- python train.py`")


def cmd_runs(args: argparse.Namespace) -> int:
    from .report import format_duration, format_energy, format_mass

    repo = _open_repository()
    try:
        page = repo.runs(_run_filter(args), limit=max(1, args.limit), cursor=args.cursor)
    finally:
        repo.close()
    more = (f"more: wattprint runs --cursor {page.next_cursor} (with the same filters)"
            if page.next_cursor else None)
    if args.json:
        print(json.dumps([r.to_dict() for r in page.items], indent=2))
        if more:
            print(more, file=sys.stderr)
        return 0
    if not page.items:
        if not repo.paths:
            print(_nothing_yet())
        else:
            print("no runs match" if args.cursor is None else "no more runs")
        return 0
    print(f"{'run':<9} {'started':<19} {'project/experiment':<28} {'duration':>9} "
          f"{'energy':>12} {'CO2e':>10}  status")
    for r in page.items:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started_s))
        name = f"{r.project}/{r.experiment}"
        print(f"{r.run_id[:8]:<9} {started:<19} {name[:28]:<28} "
              f"{format_duration(r.duration_s) if r.duration_s is not None else '-':>9} "
              f"{format_energy(r.energy_j) if r.energy_j is not None else '-':>12} "
              f"{format_mass(r.emissions_g) if r.emissions_g is not None else '-':>10}  {r.status}")
    if more:
        print(more)
    return 0


def _all_runs(repo: Any, run_filter: Any) -> list[Any]:
    rows: list[Any] = []
    cursor = None
    while True:
        page = repo.runs(run_filter, limit=500, cursor=cursor)
        rows += page.items
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def cmd_show(args: argparse.Namespace) -> int:
    from .report import format_summary
    from .store.repository import RunFilter

    repo = _open_repository()
    try:
        if args.job:
            from .records import combine

            ranks = _all_runs(repo, RunFilter(job_id=args.run_id))
            if not ranks:
                raise StoreError(f"no runs of job {args.run_id!r} in the store; see "
                                 "`wattprint runs --job ID`")
            summary = combine([repo.summary(r.run_id) for r in ranks], run_id=args.run_id)
        else:
            summary = repo.summary(repo.resolve_id(args.run_id))
        rescores = [] if args.job else repo.rescores(summary.run_id)
    finally:
        repo.close()
    if args.json:
        print(json.dumps({**summary.to_json(), "rescores": rescores}, indent=2, sort_keys=True))
    else:
        print(format_summary(summary))
        for r in rescores:
            print(f"  rescored   {r['provider']} ({r['kind']}): {r['emissions_g']:.4g} g CO2e at "
                  f"{r['intensity_g_per_kwh']:.0f} gCO2e/kWh (measured run: "
                  f"{summary.emissions_g:.4g} g)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .wire import to_wire

    repo = _open_repository()
    try:
        run_id = repo.resolve_id(args.run_id)

        def emit(item: Any) -> None:
            sys.stdout.write(json.dumps(to_wire(item), sort_keys=True) + "\n")

        emit(repo.info(run_id))
        since = None
        while True:  # paged, so a week-long run streams in constant memory
            records = repo.records(run_id, since_seq=since, limit=1000)
            for record in records:
                emit(record)
            if len(records) < 1000:
                break
            since = records[-1].seq
        for span in repo.spans(run_id):
            emit(span)
        # A run still going (or interrupted) gets the summary rebuilt from its records, with
        # that status.
        emit(repo.summary(run_id))
    finally:
        repo.close()
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from .report import format_duration, format_energy, format_mass

    repo = _open_repository()
    try:
        groups = repo.aggregate(args.by, _run_filter(args))
    finally:
        repo.close()
    if args.json:
        print(json.dumps([g.to_dict() for g in groups], indent=2))
        return 0
    if not groups:
        print("no runs match" if repo.paths else _nothing_yet())
        return 0
    print(f"{args.by:<28} {'runs':>6} {'duration':>10} {'energy':>12} {'CO2e':>10}")
    for g in groups:
        print(f"{g.key[:28]:<28} {g.runs:>6} {format_duration(g.duration_s):>10} "
              f"{format_energy(g.energy_j):>12} {format_mass(g.emissions_g):>10}")
    return 0


# -- intensity / regions / rescore ------------------------------------------------------
def cmd_intensity(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from .config import load_config
    from .intensity.bundled import BundledSource
    from .intensity.locate import locate
    from .sensors import HostPaths

    keys = ("country", "subdivision", "zone", "cloud", "cloud_region")
    config = load_config({k: getattr(args, k) for k in keys if getattr(args, k)})
    location = locate(config, HostPaths())
    now = datetime.now(timezone.utc)
    found = BundledSource().lookup(location, now, now)
    data = {"g_per_kwh": found.g_per_kwh, "zone": found.zone, "source": found.source,
            "year": found.year, "kind": found.kind, "live": found.live, "basis": found.basis,
            "scope": found.scope, "gases": found.gases, "note": found.note,
            "location": location.to_dict()}
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0
    where = location.zone or location.country or "WORLD"
    print(f"{found.g_per_kwh:.1f} gCO2e/kWh for {found.zone} ({found.kind}, {found.scope}, "
          f"{found.gases}, {found.basis} basis)")
    print(f"  source    {found.source}, {found.year}")
    print(f"  location  {where}, resolved by {location.resolved_by}"
          f"{f' ({location.detail})' if location.detail else ''}")
    if location.cloud:
        print(f"  cloud     {location.cloud} {location.cloud_region}")
    if found.note:
        print(f"  note      {found.note}")
    if location.is_default:
        from .intensity.locate import DEFAULT_WARNING

        print(f"  WARNING   {DEFAULT_WARNING}")
    return 0


def cmd_regions(args: argparse.Namespace) -> int:
    from .intensity.tables import cloud_regions, normalize_cloud, zones

    table = zones()
    rows = []
    for (cloud, region), row in sorted(cloud_regions(
            normalize_cloud(args.cloud) if args.cloud else None).items()):
        zone = table[row.zone]
        rows.append({"cloud": cloud, "region": region, "name": row.name,
                     "country": row.country, "subdivision": row.subdivision or None,
                     "zone": row.zone, "g_per_kwh": zone.g_per_kwh, "year": zone.year,
                     "scope": zone.scope, "gases": zone.gases, "source": zone.source})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'cloud':<9} {'region':<22} {'zone':<8} {'gCO2e/kWh':>9}  {'year':<5} name")
    for r in rows:
        print(f"{r['cloud']:<9} {r['region']:<22} {r['zone']:<8} {r['g_per_kwh']:>9.0f}  "
              f"{r['year']:<5} {r['name']}")
    return 0


def cmd_rescore(args: argparse.Namespace) -> int:
    from .config import load_config
    from .rescore import rescore_run
    from .tracker import _make_provider

    config = load_config({"provider": args.provider} if args.provider else {})
    if config.provider == "bundled":
        print("wattprint rescore: choose a live provider with --provider (electricitymaps, "
              "watttime or neso) or the `provider` setting", file=sys.stderr)
        return EXIT_USAGE
    store = _open_store()
    run_id = store.resolve_id(args.run_id)
    provider = _make_provider(config)
    try:
        result = rescore_run(store, run_id, provider)
    except WattprintError as exc:
        print(f"wattprint rescore: {exc}", file=sys.stderr)
        return 1
    finally:
        provider.close()
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
        return 0
    print(f"run {run_id[:8]} rescored with {result.provider} ({result.kind}):")
    print(f"  measured  {result.original_emissions_g:.4g} g CO2e")
    print(f"  rescored  {result.emissions_g:.4g} g CO2e at {result.intensity_g_per_kwh:.0f} "
          f"gCO2e/kWh ({result.covered_records}/{result.total_records} intervals covered by "
          "the provider's history; the rest keep their original intensity)")
    return 0


# -- schema ------------------------------------------------------------------------------
def cmd_schema(args: argparse.Namespace) -> int:
    from .wire import schema

    print(json.dumps(schema(), indent=2, ensure_ascii=False))
    return 0


# -- setup-rapl --------------------------------------------------------------------------
def cmd_spool(args: argparse.Namespace) -> int:
    from .config import load_config
    from .spool import Spool, spool_dir

    config = load_config()
    spool = Spool(spool_dir(config))
    if args.action == "deliver":
        from .sinks import make_sink

        report = spool.deliver(lambda name: make_sink(name, config), names=args.spool_sinks)
        left = [f for f in spool.pending(args.spool_sinks) if f.state != "claimed"]
        if args.json:
            print(json.dumps({**report.to_dict(), "left": [f.to_dict() for f in left]}, indent=2))
            return 0 if report.ok else 1
        print(f"Delivered {len(report.delivered)} file(s), {report.items} item(s).")
        for path, why in report.failed:
            print(f"  not delivered: {path}: {why}")
        for path, why in report.unreadable:
            print(f"  unreadable: {path}: {why}")
        if left:
            print(f"{len(left)} file(s) remain in {spool.root}; run `wattprint spool deliver` "
                  "again once the sink works (or move an unreadable file away).")
        return 0 if report.ok else 1
    files = spool.pending(args.spool_sinks)
    if args.json:
        print(json.dumps([f.to_dict() for f in files], indent=2))
        return 0
    if not files:
        print(f"The spool is empty ({spool.root}).")
        return 0
    from .report import format_duration

    now = time.time()
    print(f"{'SINK':<10} {'RUN':<12} {'ITEMS':>7} {'BYTES':>9} {'AGE':>8}  {'STATE':<10} PATH")
    for f in files:
        age = format_duration(max(0.0, now - f.modified_s))
        print(f"{f.sink:<10} {f.run_id[:12]:<12} {f.items:>7} {f.size_bytes:>9} {age:>8}  "
              f"{f.state:<10} {f.path}")
    print("Deliver them now with `wattprint spool deliver` (the next run also does).")
    return 0


def cmd_setup_rapl(args: argparse.Namespace) -> int:
    from .config import load_config
    from .sensors import HostPaths
    from .sensors.rapl_setup import apply, plan, render

    steps = plan(HostPaths(), group=args.group, env=load_config().environ)
    print(render(steps))
    if not args.apply:
        print("\nRe-run with --apply to do this now (uses sudo).")
        return 0
    try:
        for line in apply(steps):
            print(f"done: {line}")
    except WattprintError as exc:
        print(f"wattprint setup-rapl: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
