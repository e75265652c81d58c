"""``doctor``, ``schema``, ``spool`` and ``setup-rapl``: looking after the installation."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .common import EXIT_FAILURE, UsageError, print_json, reading_settings, strict_settings
from .options import INTENSITY, LOCATION, MEASUREMENT, add_json, add_settings, setting_overrides

DOCTOR_EXIT_STATUS = """\
exit status:
  0  nothing wrong (WARNING lines may remain: see below)
  1  a PROBLEM: a run would refuse to start (a bad setting, an unknown location, a live
     provider that cannot work), would measure nothing (no sensor), or has nowhere to store
     its data (the store cannot be created or read); with --strict, any WARNING too
  2  bad flags

A WARNING is a fallback that makes figures less exact, and that every run labels: energy
estimated by a model instead of measured, the WORLD average for an unknown location, the
bundled tables standing in for a live provider. A note is information only.

Setting flags override their WATTPRINT_* variable and the config files; a default shown
applies when none of them sets the value.
"""


def add_doctor(sub: Any) -> None:
    doctor = sub.add_parser(
        "doctor", help="explain what would be measured and how; exit 1 on a problem",
        # the raw formatter keeps the epilog's table, so the description brings its own breaks
        description="Explain what a run started here would measure and how: every sensor tried\n"
                    "(and the fix for those missing), the location and intensity, the store, and\n"
                    "each setting with where it came from. Takes the same location, intensity\n"
                    "and measurement flags as `wattprint run`.",
        epilog=DOCTOR_EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_settings(doctor, LOCATION, INTENSITY, MEASUREMENT)
    doctor.add_argument("--strict", action="store_true",
                        help="exit 1 on warnings too, not only on problems")
    add_json(doctor, "print the report as one JSON object (`problems`, `warnings`, `notes` "
                     "and the findings)")
    doctor.set_defaults(handler=cmd_doctor)


def add_schema(sub: Any) -> None:
    schema = sub.add_parser("schema", help="print the JSON Schema of the wire format",
                            description="Print the JSON Schema (draft 2020-12) that every "
                                        "object a run emits (JSON Lines, store exports, HTTP) "
                                        "validates against.")
    add_json(schema, "accepted for uniformity: the output is always JSON")
    schema.set_defaults(handler=cmd_schema)


def add_spool(sub: Any) -> None:
    spool = sub.add_parser(
        "spool", help="data a sink could not take yet: list it, or deliver it now",
        description="List the spool (what a failing sink could not take; delivered automatically "
                    "by the next run) or deliver it now with `wattprint spool deliver`. An empty "
                    "spool lists as an empty list (`[]` with --json), exit 0; `deliver` exits 1 "
                    "when a file could not be delivered.")
    spool.add_argument("action", nargs="?", choices=("list", "deliver"), default="list",
                       help="list the spooled files (default) or deliver them now")
    spool.add_argument("--sink", action="append", dest="spool_sinks", metavar="NAME",
                       help="only this sink's files (repeatable; default: every sink's)")
    add_json(spool, "print JSON: the files for `list`, the outcome for `deliver`")
    spool.set_defaults(handler=cmd_spool)


def add_setup_rapl(sub: Any) -> None:
    rapl = sub.add_parser("setup-rapl",
                          help="let non-root users read RAPL energy counters (udev rule)",
                          description="Print the steps that let a group read the RAPL energy "
                                      "counters (a udev rule, and the same now), or apply them "
                                      "with --apply.")
    rapl.add_argument("--apply", action="store_true",
                      help="apply the steps now, with sudo (may ask for a password)")
    rapl.add_argument("--group", default="powercap",
                      help="group given read access (default: powercap)")
    add_json(rapl, "print the plan as one JSON object (not with --apply)")
    rapl.set_defaults(handler=cmd_setup_rapl)


# -- commands --------------------------------------------------------------------------------
def cmd_doctor(args: argparse.Namespace) -> int:
    from ..config import Config
    from ..doctor import diagnose, exit_status, render

    overrides = setting_overrides(args)
    # A bad flag is a usage error (exit 2) as for `run`, not a finding about this machine.
    flags = Config().with_overrides(overrides)
    if any(overrides.get(key) for _, key, _, _ in LOCATION):
        from ..host import HostPaths
        from ..intensity.locate import locate

        locate(flags, HostPaths())  # explicit places resolve offline; unknown ones raise
    report = diagnose(overrides)
    if args.json:
        print_json(report)
    else:
        print(render(report))
    return exit_status(report, strict=args.strict)


def cmd_schema(args: argparse.Namespace) -> int:
    from ..wire import schema

    print_json(schema())
    return 0


def cmd_spool(args: argparse.Namespace) -> int:
    from ..spool import Spool, spool_dir

    if args.action == "deliver":
        return _deliver(args, strict_settings())  # the sinks' settings must be right
    spool = Spool(spool_dir(reading_settings()))
    files = spool.pending(args.spool_sinks)
    if args.json:
        print_json([f.to_dict() for f in files])
        return 0
    if not files:
        print(f"The spool is empty ({spool.root}).")
        return 0
    from ..report import format_duration

    now = time.time()
    print(f"{'SINK':<10} {'RUN':<12} {'ITEMS':>7} {'BYTES':>9} {'AGE':>8}  {'STATE':<10} PATH")
    for f in files:
        age = format_duration(max(0.0, now - f.modified_s))
        print(f"{f.sink:<10} {f.run_id[:12]:<12} {f.items:>7} {f.size_bytes:>9} {age:>8}  "
              f"{f.state:<10} {f.path}")
    print("Deliver them now with `wattprint spool deliver` (the next run also does).")
    return 0


def _deliver(args: argparse.Namespace, config: Any) -> int:
    from ..sinks import make_sink
    from ..spool import Spool, spool_dir

    spool = Spool(spool_dir(config))
    report = spool.deliver(lambda name: make_sink(name, config), names=args.spool_sinks)
    left = [f for f in spool.pending(args.spool_sinks) if f.state != "claimed"]
    status = 0 if report.ok else EXIT_FAILURE
    if args.json:
        print_json({**report.to_dict(), "left": [f.to_dict() for f in left]})
        return status
    print(f"Delivered {len(report.delivered)} file(s), {report.items} item(s).")
    for path, why in report.failed:
        print(f"  not delivered: {path}: {why}")
    for path, why in report.unreadable:
        print(f"  unreadable: {path}: {why}")
    if left:
        print(f"{len(left)} file(s) remain in {spool.root}; run `wattprint spool deliver` "
              "again once the sink works (or move an unreadable file away).")
    return status


def cmd_setup_rapl(args: argparse.Namespace) -> int:
    from ..errors import WattprintError
    from ..host import HostPaths
    from ..sensors.rapl_setup import apply, plan, render

    if args.apply and args.json:
        raise UsageError("--apply runs sudo, which may ask for a password at the terminal; "
                         "use --json without --apply to get the plan")
    steps = plan(HostPaths(), group=args.group, env=reading_settings().environ)
    if args.json:
        print_json({"group": steps.group, "user": steps.user, "rule_path": str(steps.rule_path),
                    "rule": steps.rule, "counter_files": [str(p) for p in steps.counter_files],
                    "steps": [{"why": s.why, "argv": list(s.argv), "stdin": s.stdin}
                              for s in steps.steps]})
        return 0
    print(render(steps))
    if not args.apply:
        print("\nRe-run with --apply to do this now (uses sudo).")
        return 0
    try:
        for line in apply(steps):
            print(f"done: {line}")
    except WattprintError as exc:
        print(f"wattprint setup-rapl: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return 0
