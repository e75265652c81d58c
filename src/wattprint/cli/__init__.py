"""The ``wattprint`` command: one module per command group, wired here.

Conventions every command keeps (the README's CLI section says the same to users):

- **stdout is data, stderr is for people.** Warnings, notices and progress go to stderr.
  ``run`` leaves stdout to the command it runs, so its own output is on stderr.
- **--json** on every command that prints data. Lists that match nothing are ``[]`` with exit
  0; a single thing asked for by id and not found is exit 1 with the reason on stderr.
- **Exit status**: 0 success; 1 something was reported wrong (not found, a ``doctor`` problem,
  an undelivered spool file); 2 bad usage (flags, combinations, settings), as argparse does;
  ``run`` exits as its command did. When the reader of our output goes away
  (``wattprint regions | head -1``) the command stops quietly with 141, as a program killed
  by SIGPIPE shows in a shell (``cat`` and ``grep`` do the same).
- **Settings**: commands that measure reject a bad setting (exit 2); commands that only read
  stored data warn about a bad ``WATTPRINT_*`` variable and go on.

Imports stay inside functions: ``wattprint --help`` loads no store, sensor or HTTP code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from ..errors import ConfigError, LocationError, StoreError
from .common import EXIT_CLOSED_PIPE, EXIT_FAILURE, EXIT_USAGE, UsageError, quiet_closed_streams
from .options import parse_when as _parse_when  # noqa: F401 - kept importable for tests

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """argparse's parser, except that a failed write of help, usage or version text raises.

    argparse swallows OSError when it prints, so ``wattprint --help | head -1`` would end with
    0 and half its output; letting BrokenPipeError through gives it the 141 of every command.
    """

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            (file or sys.stderr).write(message)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from . import admin, advise, dashboard, forecast, grid, importer, measure, remote, report, server, stored

    parser = _Parser(
        prog="wattprint",
        description="Measure the energy and emissions of computing.",
        epilog="Every command takes --help. Exit status: 0 ok, 1 something reported wrong, "
               "2 bad usage, 141 output closed early (`| head`); `run` exits as its command.",
    )
    parser.add_argument("--version", action="version", version=f"wattprint {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (measure.add_run, measure.add_monitor, admin.add_doctor, stored.add_runs,
                stored.add_show, stored.add_export, stored.add_stats, grid.add_intensity,
                grid.add_regions, stored.add_rescore, admin.add_schema, admin.add_spool,
                admin.add_setup_rapl, remote.add_login, remote.add_push, importer.add_import,
                server.add_server, dashboard.add_dashboard, advise.add_advise,
                forecast.add_forecast, report.add_report):
        add(sub)
    return parser


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("wattprint: error: give a command (`wattprint --help` lists them)",
              file=sys.stderr)
        return EXIT_USAGE
    where = f"wattprint {args.command}"
    try:
        code: int = args.handler(args)
        return code
    except UsageError as exc:
        print(f"{where}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ConfigError, LocationError) as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"{where}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            code = _dispatch(argv)
        finally:  # argparse's --help, --version and errors leave by SystemExit
            sys.stdout.flush()  # buffered output meets a closed pipe here, not at exit
        return code
    except (BrokenPipeError, ConnectionResetError):
        quiet_closed_streams()
        return EXIT_CLOSED_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
