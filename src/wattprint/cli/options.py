"""Flags that several commands share, each defined once.

Setting flags are built from :data:`wattprint.config.KEYS`: the help text is the key's own, and
the default shown is the one :class:`~wattprint.config.Config` really uses, so the two cannot
drift apart. A setting flag overrides its ``WATTPRINT_*`` variable and the config files.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable

from .common import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

# (flag, config key, value type, metavar), one group per concern.
Flag = tuple[str, str, Callable[[str], Any], str]
LOCATION: tuple[Flag, ...] = (
    ("--country", "country", str, "CODE"),
    ("--subdivision", "subdivision", str, "CODE"),
    ("--zone", "zone", str, "ZONE"),
    ("--cloud", "cloud", str, "NAME"),
    ("--cloud-region", "cloud_region", str, "REGION"),
)
INTENSITY: tuple[Flag, ...] = (
    ("--provider", "provider", str, "NAME"),
    ("--intensity-figure", "intensity_figure", str, "FIGURE"),
    ("--pue", "pue", float, "RATIO"),
)
MEASUREMENT: tuple[Flag, ...] = (
    ("--interval", "interval_s", float, "S"),
    ("--scope", "scope", str, "SCOPE"),
    ("--sinks", "sinks", str, "NAMES"),
    ("--cpu-tdp", "cpu_tdp_w", float, "W"),
    ("--cloud-instance-type", "cloud_instance_type", str, "TYPE"),
)
BUDGET: tuple[Flag, ...] = (
    ("--budget-g", "budget_g", float, "G"),
    ("--budget-kwh", "budget_kwh", float, "KWH"),
)
NAMING: tuple[Flag, ...] = (
    ("--project", "project", str, "NAME"),
    ("--experiment", "experiment", str, "NAME"),
)
_GROUP_TITLES = {
    LOCATION: "location (give one way: --zone, --cloud with --cloud-region, or --country)",
    INTENSITY: "carbon intensity",
    MEASUREMENT: "measurement",
    NAMING: "naming",
    BUDGET: "budget (warned once, never stopped: see the summary and the status line)",
}
# Said once per command, under the groups' flags.
SETTINGS_EPILOG = ("Setting flags override their WATTPRINT_* variable and the config files; "
                   "a default shown applies when none of them sets the value (`wattprint "
                   "doctor` lists each value and where it came from).")

# What an unset (None) default really means, where "none" would say too little.
_UNSET_MEANS = {
    "country": "detected from cloud metadata, else the OS time zone, else the WORLD average "
               "(flagged as a guess)",
    "subdivision": "none: the country's average",
    "zone": "none: from the country or cloud region",
    "cloud": "detected from instance metadata on a cloud VM",
    "cloud_region": "detected from instance metadata on a cloud VM",
    "cpu_tdp_w": "from the bundled CPU table, else a model of a typical CPU",
    "budget_g": "none",
    "budget_kwh": "none",
}
_SETTINGS_ATTR = "_setting_keys"


def _default_text(key: str, default: Any) -> str:
    if key in _UNSET_MEANS and default is None:
        return _UNSET_MEANS[key]
    if isinstance(default, tuple):
        return ",".join(default)
    if isinstance(default, float) and default.is_integer():
        return f"{default:g}"
    return str(default)


def setting_help(key: str) -> str:
    """A setting's help: what it is, what is allowed, and its real default."""
    from ..config import KEYS, Config

    spec = KEYS[key]
    text = f"{spec.help}; {spec.allowed}"
    if "default" not in spec.help:  # some keys say it better themselves (pue)
        text += f" (default: {_default_text(key, getattr(Config(), key))})"
    return text.replace("%", "%%")  # argparse formats help with %


def add_settings(parser: argparse.ArgumentParser, *groups: tuple[Flag, ...]) -> None:
    """Add each group of setting flags; :func:`setting_overrides` reads them back."""
    keys: list[str] = []
    for flags in groups:
        group = parser.add_argument_group(_GROUP_TITLES[flags])
        for flag, key, kind, metavar in flags:
            group.add_argument(flag, dest=key, type=kind, default=None, metavar=metavar,
                               help=setting_help(key))
            keys.append(key)
    parser.set_defaults(**{_SETTINGS_ATTR: tuple(keys)})
    if parser.epilog is None:
        parser.epilog = SETTINGS_EPILOG


def setting_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags, as config overrides. A location given on the command line
    replaces the whole location of lower layers (a ``--country`` must not lose to a ``zone`` in
    a config file, which would otherwise win by being more specific); two ways of saying where
    at once are rejected."""
    given = {key: getattr(args, key) for key in getattr(args, _SETTINGS_ATTR, ())
             if getattr(args, key, None) is not None}
    return {**given, **_location_overrides(given)}


def _location_overrides(given: dict[str, Any]) -> dict[str, Any]:
    ways = {
        "--zone": ("zone",),
        "--cloud/--cloud-region": ("cloud", "cloud_region"),
        "--country": ("country",),
    }
    used = [name for name, keys in ways.items() if any(k in given for k in keys)]
    if len(used) > 1:
        raise UsageError(f"{' and '.join(used)} both say where the machine is; give one "
                         "(--zone, or --cloud with --cloud-region, or --country with an "
                         "optional --subdivision)")
    if "subdivision" in given and used and used[0] != "--country":
        raise UsageError(f"--subdivision goes with --country, not with {used[0]}")
    if not used and "subdivision" not in given:
        return {}
    # "" clears a lower layer's value (it parses to None, with source "argument")
    keep = set(given) | ({"country"} if not used else set())  # --subdivision alone: same country
    if used == ["--cloud/--cloud-region"]:
        keep |= {"cloud", "cloud_region"}  # one of them may come from the config
    return {key: "" for key in ("zone", "cloud", "cloud_region", "country", "subdivision")
            if key not in keep}


def add_json(parser: argparse.ArgumentParser, what: str = "print JSON instead of text") -> None:
    parser.add_argument("--json", action="store_true", help=what)


def positive(kind: Callable[[str], Any], what: str) -> Callable[[str], Any]:
    """An argparse type: ``kind`` of the text, above zero."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r}: give a number of {what} above 0")
        return value

    parse.__name__ = what  # argparse names the type in its own messages
    return parse


def only_with(flag: str, values: dict[str, Any]) -> None:
    """Refuse the options in ``values`` (option -> its parsed value, None when not given) that
    were given although ``flag`` was not: they go with it."""
    given = [option for option, value in values.items() if value is not None]
    if given:
        raise UsageError(f"{' and '.join(given)} go with {flag}")


def add_run_or_job(parser: argparse.ArgumentParser, verb: str) -> None:
    """RUN_ID (a run id or a unique prefix) and --job, which makes it a distributed job's id:
    the command does ``verb`` to the sum of the job's ranks."""
    parser.add_argument("run_id", type=run_id_text,
                        help="run id or a unique prefix of it (a job id with --job)")
    parser.add_argument("--job", action="store_true",
                        help=f"RUN_ID is a distributed job id: {verb} the sum of all its ranks")


def run_id_text(text: str) -> str:
    """An argparse type for a run id or prefix: an empty one would match every run."""
    if not text.strip():
        raise argparse.ArgumentTypeError("give a run id or a unique prefix of it (see "
                                         "`wattprint runs`)")
    return text.strip()


def parse_when(text: str, *, now_s: float | None = None) -> float:
    """Unix seconds for ``--since``/``--until``: an age (``90m``, ``12h``, ``7d``, ``2w``) or an
    ISO 8601 date or date-time (local time unless it says otherwise, as ``runs`` prints)."""
    import re

    age = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if age:
        unit_s = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[age.group(2)]
        return (time.time() if now_s is None else now_s) - float(age.group(1)) * unit_s
    return iso_datetime(text, f"{text!r} is not a time: give an age such as 12h or 7d, or a "
                              "date such as 2026-01-31 or 2026-01-31T08:00").timestamp()


def iso_datetime(text: str, refusal: str) -> datetime:
    """An ISO 8601 date or date-time (a trailing Z is UTC; naive when it has no offset), or
    argparse's error saying ``refusal``."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(refusal) from None


def add_run_filters(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("which runs (all of them by default)")
    group.add_argument("--project", default=None, metavar="NAME", help="only this project's runs")
    group.add_argument("--experiment", default=None, metavar="NAME",
                       help="only this experiment's runs")
    group.add_argument("--job", default=None, metavar="ID",
                       help="only the runs (ranks) of this distributed job id")
    group.add_argument("--status", default=None,
                       choices=("running", "interrupted", "finished", "failed"),
                       help="only runs in this state")
    group.add_argument("--host", default=None, metavar="HOST",
                       help="only runs on this host (its name or host id)")
    group.add_argument("--since", type=parse_when, default=None, metavar="WHEN",
                       help="runs started at or after WHEN: an age (90m, 12h, 7d, 2w) or a local "
                            "date or time (2026-01-31, 2026-01-31T08:00)")
    group.add_argument("--until", type=parse_when, default=None, metavar="WHEN",
                       help="runs started before WHEN (same forms as --since)")


def run_filter(args: argparse.Namespace) -> Any:
    from ..store.repository import RunFilter

    if args.since is not None and args.until is not None and args.since >= args.until:
        raise UsageError("--since is not before --until: no run can match; swap them?")
    return RunFilter(project=args.project, experiment=args.experiment, status=args.status,
                     host=args.host, job_id=args.job, since_s=args.since, until_s=args.until)
