"""``wattprint import codecarbon emissions.csv``: another tool's history into the local store.

stdout lists the runs imported (or, with --json, every row's outcome); stderr counts them and
names each skipped row with its line number. Exit 0 when every row was imported or already
was, 1 when a row was skipped or the file is not CodeCarbon's, 2 for bad usage.
"""

from __future__ import annotations

import argparse
from typing import Any

from .common import EXIT_FAILURE, print_json, reading_settings, say

__all__ = ["add_import", "cmd_import"]


def add_import(sub: Any) -> None:
    from .options import add_json

    parser = sub.add_parser(
        "import", help="bring another tool's history into the local store (CodeCarbon)",
        description="Import the runs of CodeCarbon's emissions.csv into the local store, one "
                    "run per row, marked as imported (tags imported_from, imported.method); "
                    "`wattprint push --all` then sends them to a team server. Importing the "
                    "same file again adds only rows not imported before.")
    parser.add_argument("tool", choices=("codecarbon",), help="the tool that wrote the file")
    parser.add_argument("path", metavar="FILE", help="CodeCarbon's emissions.csv")
    parser.add_argument("--project", default=None, metavar="NAME",
                        help="put every run in this project (default: the row's project_name)")
    parser.add_argument("--timezone", default=None, metavar="ZONE",
                        help="time zone the file's timestamps were written in, e.g. "
                             "Europe/Paris or UTC (CodeCarbon writes local time without an "
                             "offset; default: this machine's zone)")
    add_json(parser, "print every row's outcome as one JSON object")
    parser.set_defaults(handler=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from ..integrations.codecarbon import CodeCarbonFileError, import_emissions_csv
    from ..report import format_energy, format_mass
    from .common import UsageError

    tz = None
    if args.timezone:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            tz = ZoneInfo(args.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"--timezone {args.timezone!r} is not a time zone; give an IANA "
                             "name such as Europe/Paris, America/New_York or UTC") from None
    config = reading_settings()
    try:
        result = import_emissions_csv(Path(args.path), config.store_path,
                                      project=args.project, tz=tz)
    except CodeCarbonFileError as exc:
        say(str(exc))
        return EXIT_FAILURE
    for problem in result.problems:
        say(f"{args.path}, line {problem.line}: skipped: {problem.message}")
    if args.json:
        print_json(result.to_dict())
    else:
        for run in result.imported:
            started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.info.started_s))
            print(f"{run.run_id[:8]}  line {run.line:<5} {started}  {run.info.project}  "
                  f"{format_energy(run.summary.energy_j['total'])}  "
                  f"{format_mass(run.summary.emissions_g)}")
    say(f"imported {len(result.imported)} run(s) from {args.path} into "
        f"{config.store_path.parent}; {len(result.already)} already imported; "
        f"{len(result.problems)} row(s) skipped"
        + (f"; {len(result.own)} row(s) written by wattprint itself (those runs are in the "
           "store of the machine that measured them)" if result.own else "")
        + ("" if not result.imported else "; send them to a team server with "
           "`wattprint push --all`"))
    return EXIT_FAILURE if result.problems else 0
