"""``wattprint advise RUN_ID --when [--window 24h]``: had the run started at the best time.

The section pair for :mod:`wattprint.cli.advise` (``when_section`` gives the JSON-able dict,
``print_when`` the text). The history comes from ``--provider``, the ``provider`` setting, or
UK NESO (no key) for a run in Great Britain, as ``wattprint forecast`` chooses, through the
provider's disk cache (:func:`wattprint.intensity.live.hourly_history`, the same call
``wattprint rescore`` makes). The run's energy profile is moved by
:func:`wattprint.advice.hindsight.best_past_start`.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from typing import Any

from .forecast import duration_arg

DEFAULT_WINDOW = timedelta(hours=24)


def add_when_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("when (needs RUN_ID and a provider's history)")
    group.add_argument("--when", action="store_true",
                       help="what RUN_ID would have emitted had it started at the best time "
                            "within --window of its actual start, from a live provider's hourly "
                            "history (the configured provider, --provider, or UK NESO in Great "
                            "Britain), against the same history at its actual time")
    group.add_argument("--window", type=duration_arg, default=None, metavar="D",
                       help="with --when: how far before or after the actual start to look, "
                            "e.g. 12h or 2d (default: 24h)")
    group.add_argument("--provider", default=None, metavar="NAME",
                       help="with --when: electricitymaps, watttime or neso (default: the "
                            "`provider` setting; neso for a run in Great Britain when that is "
                            "bundled)")


def check_when_flags(args: argparse.Namespace) -> None:
    from .common import UsageError
    from .options import only_with

    if not args.when:
        only_with("--when", {"--window": args.window, "--provider": args.provider})
        return
    if args.run_id is None:  # an amount of energy has no profile to move
        raise UsageError("--when needs a RUN_ID: it moves a stored run's own energy profile in "
                         "time (see `wattprint runs`)")


def run_when(args: argparse.Namespace) -> int:
    from ..errors import ProviderError
    from .advise import _load_run
    from .common import EXIT_FAILURE, print_json, say

    summary, infos, records = _load_run(args.run_id)
    try:
        when = when_section(args, records, dict(infos[0].location), summary.run_id)
    except ProviderError as exc:
        say(f"advise --when: {exc}")
        return EXIT_FAILURE
    if args.json:
        print_json({"run_id": summary.run_id, "when": when})
        return 0
    print_when(when)
    return 0


def when_section(args: argparse.Namespace, records: list[Any], location: dict[str, Any],
                 run_id: str) -> dict[str, Any]:
    """The section, or raises ProviderError/ConfigError saying what went wrong."""
    from ..advice.forecast import forecast_provider
    from ..advice.hindsight import best_past_start
    from ..errors import ProviderError
    from ..intensity import Location
    from ..intensity.live import hourly_history
    from .common import strict_settings

    window = args.window or DEFAULT_WINDOW
    config = strict_settings({"provider": args.provider} if args.provider else {})
    where = Location.from_dict(location)
    if not records:
        raise ProviderError(f"run {run_id[:8]} has no records to move in time")
    provider, _ = forecast_provider(config, where, what="history")
    first = min(r.start_s for r in records)
    last = max(r.start_s + r.duration_s for r in records)
    start = datetime.fromtimestamp(first, timezone.utc) - window
    end = datetime.fromtimestamp(last, timezone.utc) + window
    now = provider.now() if hasattr(provider, "now") else datetime.now(timezone.utc)
    try:
        points = hourly_history(provider, where, start, min(end, now))
    except ProviderError as exc:
        raise ProviderError(f"no history: {exc}; try again later, or another --provider") \
            from None
    finally:
        provider.close()
    found = best_past_start(records, points, window=window, provider=provider.name,
                            run_id=run_id)
    return {**found.to_dict(), "gases": getattr(getattr(provider, "labels", None), "gases",
                                                None)}


def print_when(when: dict[str, Any]) -> None:
    from ..advice.windows import local_text
    from ..report import format_energy, format_mass

    unit = "gCO2/kWh" if when.get("gases") == "CO2" else "gCO2e/kWh"
    window_h = when["window_s"] / 3600
    actual = _at(when["actual_start"])
    print(f"When could it have run? The run's {format_energy(when['energy_j'])} (after PUE, "
          f"its own profile over {when['duration_s'] / 3600:.1f} h) moved up to {window_h:g} h "
          f"before or after its start, priced with {when['provider']}'s hourly history "
          f"({when['kind']}, {when['zone']}).")
    if when["actual_g"] is not None:
        print(f"  as it ran   {local_text(actual)}: {format_mass(when['actual_g'])} CO2e at "
              f"{when['actual_g_per_kwh']:.0f} {unit}")
    if when["best_g"] is None:
        print("  no start within the window is wholly covered by the history: nothing to "
              "compare")
    elif when["shift_s"] == 0:
        print("  it ran at the best time in the window (no start saves anything)")
    else:
        shift_h = when["shift_s"] / 3600
        direction = "earlier" if shift_h < 0 else "later"
        saving = (f", {format_mass(when['saving_g'])} less ({when['saving_pct']:.0f}%)"
                  if when["saving_g"] is not None else "")
        print(f"  best start  {local_text(_at(when['best_start']))} ({abs(shift_h):.1f} h "
              f"{direction}): {format_mass(when['best_g'])} CO2e at "
              f"{when['best_g_per_kwh']:.0f} {unit}{saving}")
    print(f"  recorded    {format_mass(when['recorded_g'])} CO2e with the run's own intensity "
          "(not the history's: compare the two lines above with each other)")
    print(f"  starts tried every {when['step_s'] / 60:g} min: {when['shifts_priced']} of "
          f"{when['shifts_tried']} wholly covered by the history")
    for note in when["notes"]:
        print(f"  note: {note}")


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
