"""``runs``, ``show``, ``export``, ``stats`` and ``rescore``: the commands on stored runs.

They read every store file of the configured home through the read API (``rescore`` writes
this node's file). A list that matches nothing is an empty list (``[]`` with ``--json``) and
exit 0; a run or job that was asked for by id and is not there is exit 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import StoreError, WattprintError
from .common import EXIT_FAILURE, EXIT_USAGE, print_json, reading_settings, say, strict_settings
from .options import add_json, add_run_filters, add_run_or_job, positive, run_filter, run_id_text

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Config


def add_runs(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list recent runs, newest first",
                          description="List stored runs, newest first, a page at a time. "
                                      "Nothing stored or nothing matching is not an error: "
                                      "an empty list (`[]` with --json), exit 0.")
    runs.add_argument("--limit", type=positive(int, "runs"), default=20,
                      help="runs per page (default: 20)")
    add_run_filters(runs)
    runs.add_argument("--cursor", default=None,
                      help="continue after a previous page (the cursor it printed; keep the "
                           "same filters)")
    runs.add_argument("--server", action="store_true",
                      help="list the runs the team server holds (the saved `wattprint login`; "
                           "the key needs the read scope)")
    add_json(runs, "print the page as a JSON array (the next cursor, if any, goes to stderr)")
    runs.set_defaults(handler=cmd_runs)


def add_show(sub: Any) -> None:
    show = sub.add_parser("show", help="show one run, or the sum of a job's ranks",
                          description="Show one stored run. Its emissions are computed, not "
                                      "measured: energy (measured or estimated, per component) "
                                      "x PUE x the carbon intensity of the time. A rescore is "
                                      "shown beside the original, never in its place.")
    add_run_or_job(show, "show")
    add_json(show, "print the summary as one JSON object (with its rescores)")
    show.set_defaults(handler=cmd_show)


def add_export(sub: Any) -> None:
    export = sub.add_parser("export", help="print a stored run as wire-format JSON Lines",
                            description="Print RUN's wire objects, one JSON object a line: its "
                                        "run info, records, spans and summary (see `wattprint "
                                        "schema`).")
    export.add_argument("run_id", type=run_id_text, help="run id or a unique prefix of it")
    add_json(export, "accepted for uniformity: the output is always JSON Lines")
    export.set_defaults(handler=cmd_export)


def add_stats(sub: Any) -> None:
    stats = sub.add_parser("stats", help="energy and emissions totals, grouped",
                           description="Totals over the stored runs that match, one row per "
                                       "group. No runs: an empty list, exit 0.")
    stats.add_argument("--by", required=True,
                       choices=("project", "experiment", "day", "host", "component", "region"),
                       help="group by this (day: the UTC date a run started)")
    add_run_filters(stats)
    add_json(stats, "print the groups as a JSON array")
    stats.set_defaults(handler=cmd_stats)


def add_rescore(sub: Any) -> None:
    rescore = sub.add_parser(
        "rescore", help="recompute a stored run's emissions from a provider's hourly history",
        description="Recompute a stored run's emissions with a live provider's hourly history "
                    "for the hours it ran; the result is kept beside the original (see "
                    "`wattprint show`), which is never changed.")
    rescore.add_argument("run_id", type=run_id_text, help="run id or a unique prefix of it")
    rescore.add_argument("--provider", default=None, metavar="NAME",
                         help="electricitymaps, watttime or neso (default: the `provider` "
                              "setting, which must then be a live one)")
    add_json(rescore, "print the result as one JSON object")
    rescore.set_defaults(handler=cmd_rescore)


# -- opening the store ---------------------------------------------------------------------
def _print_notices(notices: Sequence[str]) -> None:
    for notice in notices:
        say(notice)


def _open_repository(config: Config) -> Any:
    """Every store file of the configured home, merged, for commands that read."""
    from ..store import open_repository

    repo = open_repository(config.store_path)
    _print_notices(repo.notices)
    return repo


def _open_store(config: Config) -> Any:
    """This node's store file, for commands that write (``rescore``)."""
    from ..host import HostPaths, host_id
    from ..store import Store
    from ..store.location import placement

    where = placement(config.store_path, host_id(), HostPaths())
    if not where.write_path.exists():
        raise StoreError(f"no runs yet: {where.write_path} does not exist; measure something "
                         "first, e.g. `wattprint run -- python train.py`")
    store = Store(where.write_path, journal_mode=where.journal_mode)
    _print_notices(store.notices)
    return store


def _elsewhere(config: Config, prefix: str, own: Path) -> None:
    """On a network file system each node writes its own store file: a run recorded by another
    node is read from that node's file, but only that node may write to it."""
    repo = _open_repository(config)
    try:
        run_id = repo.resolve_id(prefix)
        row = repo.info(run_id)
    except StoreError:
        return
    finally:
        repo.close()
    host = (row.host or {}).get("hostname") or "another node"
    raise StoreError(
        f"run {run_id[:8]} was recorded on {host}, in another node's store file; on a network "
        f"file system each node writes only its own file ({own}): run `wattprint rescore "
        f"{run_id[:8]}` on {host}")


def _nothing_yet(config: Config) -> str:
    return (f"no runs yet in {config.store_path.parent}: measure something with "
            "`wattprint run -- python train.py`")


# -- commands --------------------------------------------------------------------------------
def cmd_runs(args: argparse.Namespace) -> int:
    from ..report import format_duration, format_energy, format_mass

    selection = run_filter(args)
    config = reading_settings()
    if args.server:
        return _server_runs(args, config, selection)
    repo = _open_repository(config)
    try:
        page = repo.runs(selection, limit=args.limit, cursor=args.cursor)
    finally:
        repo.close()
    more = (f"more: wattprint runs --cursor {page.next_cursor} (with the same filters)"
            if page.next_cursor else None)
    if args.json:
        print_json([r.to_dict() for r in page.items])
        if more:
            print(more, file=sys.stderr)
        return 0
    if not page.items:
        if not repo.paths:
            print(_nothing_yet(config))
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


def _server_runs(args: argparse.Namespace, config: Config, selection: Any) -> int:
    from ..report import format_duration, format_energy, format_mass
    from .remote import server_runs_page

    try:
        url, page = server_runs_page(config, selection, limit=args.limit, cursor=args.cursor)
    except WattprintError as exc:
        say(str(exc))
        return EXIT_FAILURE
    runs, cursor = page["runs"], page["next_cursor"]
    more = (f"more: wattprint runs --server --cursor {cursor} (with the same filters)"
            if cursor else None)
    if args.json:
        print_json(runs)
        if more:
            print(more, file=sys.stderr)
        return 0
    if not runs:
        print(f"no runs on {url} match" if args.cursor is None else "no more runs")
        return 0
    print(f"{'run':<9} {'started':<19} {'project/experiment':<28} {'duration':>9} "
          f"{'energy':>12} {'CO2e':>10}  status")
    for r in runs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["started_s"])) \
            if r["started_s"] is not None else "-"
        name = f"{r['project']}/{r['experiment'] or '-'}"
        duration, energy, grams = r["duration_s"], r["energy_j"], r["emissions_g"]
        print(f"{r['run_id'][:8]:<9} {started:<19} {name[:28]:<28} "
              f"{format_duration(duration) if duration is not None else '-':>9} "
              f"{format_energy(energy) if energy is not None else '-':>12} "
              f"{format_mass(grams) if grams is not None else '-':>10}  {r['status']}")
    if more:
        print(more)
    return 0


def _all_runs(repo: Any, selection: Any) -> list[Any]:
    rows: list[Any] = []
    cursor = None
    while True:
        page = repo.runs(selection, limit=500, cursor=cursor)
        rows += page.items
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def _rescore_lines(summary: Any, rescores: Sequence[dict[str, Any]]) -> list[str]:
    """The original emissions beside each rescore: both are energy x PUE x an intensity; they
    differ only in the intensity (the run's own, or the provider's hourly history)."""
    if not rescores:
        return []
    from ..report import format_intensity, format_mass

    intensity = summary.intensity or {}
    how = intensity.get("source") or "the run's intensity"
    kind = intensity.get("kind")
    lines = ["  emissions of this run, original and rescored (energy x PUE x intensity):",
             f"    original   {format_mass(summary.emissions_g)} CO2e at "
             f"{format_intensity(intensity.get('g_per_kwh'), kind)} ({how}, {kind})"]
    for r in rescores:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_s"]))
        lines.append(f"    rescored   {format_mass(r['emissions_g'])} CO2e at "
                     f"{format_intensity(r['intensity_g_per_kwh'], r['kind'])} "
                     f"({r['provider']}, {r['kind']}; "
                     f"rescored {when})")
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    from ..report import format_summary
    from ..store.repository import RunFilter

    config = reading_settings()
    repo = _open_repository(config)
    try:
        if args.job:
            from ..records import combine

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
        print_json({**summary.to_json(), "rescores": rescores})
        return 0
    print(format_summary(summary))
    for line in _rescore_lines(summary, rescores):
        print(line)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..wire import to_wire

    config = reading_settings()
    repo = _open_repository(config)
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
        prediction = repo.prediction(run_id)
        if prediction is not None:
            emit(prediction)
        # A run still going (or interrupted) gets the summary rebuilt from its records, with
        # that status.
        emit(repo.summary(run_id))
    finally:
        repo.close()
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from ..report import format_duration, format_energy, format_mass

    selection = run_filter(args)
    config = reading_settings()
    repo = _open_repository(config)
    try:
        groups = repo.aggregate(args.by, selection)
    finally:
        repo.close()
    if args.json:
        print_json([g.to_dict() for g in groups])
        return 0
    if not groups:
        print("no runs match" if repo.paths else _nothing_yet(config))
        return 0
    print(f"{args.by:<28} {'runs':>6} {'duration':>10} {'energy':>12} {'CO2e':>10}  kind")
    for g in groups:
        print(f"{g.key[:28]:<28} {g.runs:>6} {format_duration(g.duration_s):>10} "
              f"{format_energy(g.energy_j):>12} {format_mass(g.emissions_g):>10}  {g.kind or '-'}")
    mixed = [g for g in groups if g.kind == "mixed"]
    for g in mixed:
        parts = ", ".join(f"{format_mass(grams)} {kind}" for kind, grams in
                          g.emissions_by_kind.items())
        print(f"  {g.key}: {parts} (average and marginal grams answer different questions; "
              "read them apart)")
    return 0


def cmd_rescore(args: argparse.Namespace) -> int:
    from ..rescore import rescore_run
    from ..tracker import _make_provider

    config = strict_settings({"provider": args.provider} if args.provider else {})
    if config.provider == "bundled":
        print("wattprint rescore: choose a live provider with --provider (electricitymaps, "
              "watttime or neso) or the `provider` setting", file=sys.stderr)
        return EXIT_USAGE
    store = _open_store(config)
    try:
        run_id = store.resolve_id(args.run_id)
    except StoreError:
        _elsewhere(config, args.run_id, store.path)
        raise
    provider = _make_provider(config)
    try:
        result = rescore_run(store, run_id, provider)
    except WattprintError as exc:
        print(f"wattprint rescore: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    finally:
        provider.close()
    if args.json:
        print_json(result.to_json())
        return 0
    print(f"run {run_id[:8]} rescored with {result.provider} ({result.kind}); both figures are "
          "energy x PUE x an intensity:")
    print(f"  original  {result.original_emissions_g:.4g} g CO2e (the run's own intensity)")
    from ..report import format_intensity

    print(f"  rescored  {result.emissions_g:.4g} g CO2e at "
          f"{format_intensity(result.intensity_g_per_kwh, result.kind)} "
          f"({result.covered_records}/{result.total_records} intervals covered by "
          "the provider's history; the rest keep their original intensity)")
    return 0
