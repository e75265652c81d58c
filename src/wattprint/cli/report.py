"""``report``: a paper-ready statement of one stored run (Markdown, HTML, LaTeX or JSON).

The report goes to stdout, or with ``--output FILE`` to that file, written whole or not at all
(a temporary file beside it, renamed into place), so a failed write never leaves half a report
or harms a file already there. Exit 1 for an unknown run or an unwritable file, 2 for bad flags.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import EXIT_FAILURE, UsageError, reading_settings, say
from .options import add_run_or_job

# advice.report.FORMATS (a test keeps them equal): not imported, so --help loads no records
FORMATS = ("md", "html", "latex", "json")


def add_report(sub: Any) -> None:
    report = sub.add_parser(
        "report", help="a paper-ready report of one run (md, html, latex, json)",
        description="Write a paper-ready statement of one stored run: hardware, duration, "
                    "energy by component with how each was measured, location and intensity "
                    "with basis and year, PUE, operational and embodied emissions (beside, "
                    "never added), equivalents with their sources, methodology and uncertainty, "
                    "a citation sentence and the command that reproduces it.")
    add_run_or_job(report, "report")
    report.add_argument("--format", dest="fmt", choices=FORMATS, default=None,
                        help="md (GitHub Markdown, the default), html (one self-contained file "
                             "with charts), latex (a standalone document for pdflatex) or json "
                             "(every number with its unit and source)")
    report.add_argument("--json", action="store_true", help="the same as --format json")
    report.add_argument("--output", "-o", metavar="FILE", default=None,
                        help="write the report to FILE instead of stdout")
    report.add_argument("--fragment", action="store_true",
                        help="with --format latex: only a table to paste into a paper")
    report.add_argument("--equivalents", default=None, metavar="KEYS",
                        help="which everyday equivalents: 'all', or keys separated by commas "
                             "(default: the two most familiar, car km and streaming hours)")
    report.set_defaults(handler=cmd_report)


def _format(args: argparse.Namespace) -> str:
    if args.json and args.fmt not in (None, "json"):
        raise UsageError(f"--json and --format {args.fmt} disagree: give one of them")
    fmt = "json" if args.json else (args.fmt or "md")
    if args.fragment and fmt != "latex":
        raise UsageError("--fragment is a LaTeX table: use it with --format latex")
    return str(fmt)


def _equivalents(text: str | None) -> list[str] | None:
    if text is None:
        return None
    from ..intensity.tables import equivalents

    known = sorted(equivalents())
    if text.strip() == "all":
        from ..report import EQUIVALENT_WORDING, SHOWN_EQUIVALENTS

        first = [*SHOWN_EQUIVALENTS, *EQUIVALENT_WORDING]
        return [k for k in first if k in known] + [k for k in known if k not in first]
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in known]
    if unknown or not keys:
        raise UsageError(f"unknown equivalent {', '.join(unknown) or repr(text)}: use 'all' or "
                         f"some of {', '.join(known)}")
    return keys


def cmd_report(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..advice.report import build_report, render
    from ..store import open_repository

    fmt = _format(args)
    keys = _equivalents(args.equivalents)
    config = reading_settings()
    repo = open_repository(config.store_path)
    for notice in repo.notices:
        say(notice)
    try:
        report = build_report(repo, args.run_id, store=str(config.store_path),
                              version=__version__, fmt=fmt, equivalents=keys, job=args.job)
    finally:
        repo.close()
    if args.fragment:
        report["reproduce"]["command"] += " --fragment"
    output = render(report, fmt, fragment=args.fragment)
    if args.output is None:
        sys.stdout.write(output)
        return 0
    try:
        _write_whole(args.output, output)
    except OSError as exc:
        print(f"wattprint report: cannot write {args.output} ({exc.strerror or exc}): choose a "
              "writable path, or leave out --output to print the report", file=sys.stderr)
        return EXIT_FAILURE
    what = f"job {args.run_id}" if args.job else f"run {report['run']['run_id'][:8]}"
    say(f"wrote the {fmt} report of {what} to {args.output}")
    return 0


def _write_whole(path_text: str, text: str) -> None:
    """``text`` into the file, all of it or none: a failed write leaves any old file intact."""
    import os
    import tempfile
    from pathlib import Path

    path = Path(path_text)
    if path.is_dir():
        raise IsADirectoryError(21, "is a directory")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        mask = os.umask(0)  # the permissions a plain open() would give the file
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
