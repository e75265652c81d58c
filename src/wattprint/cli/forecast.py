"""``wattprint forecast``: the coming hours' carbon intensity, and the cleanest window in them.

The forecast comes from the configured live provider, or from UK NESO (no key) for a location in
Great Britain when the bundled tables are configured (see
:func:`wattprint.advice.forecast.forecast_provider`). Text output: a header saying whose figures
they are, a sparkline (Unicode blocks, or ASCII when stdout's encoding cannot show them) with the
cleanest ``--duration`` window marked under it, and one row per period (hourly means for
five-minute providers) in local time with the zone. ``--json`` prints the points and the window.

Exit status: 0; 1 when the provider fails or has no forecast (the message says what to do); 2
for settings that give no forecast provider, or an unknown zone or region.

:func:`duration_arg` and :func:`deadline_arg` parse ``3h``/``90m``/``1h30m`` (and a date-time
for a deadline); ``wattprint run --start-when-clean`` uses them too.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from .common import EXIT_FAILURE, print_json, say, strict_settings
from .options import LOCATION, add_json, add_settings, iso_datetime, positive, setting_help, setting_overrides

if TYPE_CHECKING:
    from ..advice.windows import StartWindow
    from ..intensity.providers import IntensityPoint

SPARK_WIDTH = 96  # columns; 48 h of NESO half hours fit one each
_UNITS_S = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def duration_arg(text: str) -> timedelta:
    """An argparse type: ``3h``, ``90m``, ``1h30m``, ``2d``, ``45s`` (a bare number is refused:
    hours or minutes would be a guess)."""
    import re

    cleaned = text.strip().lower().replace(" ", "")
    parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", cleaned)
    if not cleaned or not parts or "".join(n + u for n, u in parts) != cleaned:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: give a number with a unit, e.g. 3h, 90m, 1h30m, 2d")
    seconds = sum(float(n) * _UNITS_S[u] for n, u in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a duration above 0")
    return timedelta(seconds=seconds)


duration_arg.__name__ = "a duration"


def deadline_arg(text: str) -> timedelta | datetime:
    """A deadline: a duration from now (``12h``), or a date-time (``2026-01-02T06:00``, local
    time unless it carries an offset)."""
    try:
        return duration_arg(text)
    except argparse.ArgumentTypeError:
        pass
    when = iso_datetime(text, f"{text!r} is not a deadline: give a time from now such as 12h "
                              "or 1d, or a date-time such as 2026-01-02T06:00")
    return when if when.tzinfo is not None else when.astimezone()  # naive: local time


deadline_arg.__name__ = "a deadline"


def time_zone_arg(text: str) -> tzinfo:
    """An argparse type: an IANA time zone name."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an IANA time zone; give one such as Europe/London or "
            "America/New_York") from None


time_zone_arg.__name__ = "a time zone"


def add_forecast(sub: Any) -> None:
    forecast = sub.add_parser(
        "forecast", help="the coming hours' carbon intensity and the cleanest window",
        description="The carbon intensity forecast for the location, from the configured live "
                    "provider (electricitymaps or watttime; in Great Britain UK NESO, which needs "
                    "no key, when none is configured), as a table and a sparkline with the "
                    "cleanest --duration window marked. Times are local, with the zone.")
    add_settings(forecast, LOCATION)
    forecast.add_argument("--provider", default=None, metavar="NAME",
                          help=setting_help("provider"))
    forecast.add_argument("--hours", type=positive(int, "hours"), default=48, metavar="N",
                          help="how far ahead (default: 48; providers stop where their forecast "
                               "does: NESO 48 h, WattTime 72 h)")
    forecast.add_argument("--duration", type=duration_arg, default=timedelta(hours=1),
                          metavar="D", help="length of the window to find, e.g. 3h or 90m "
                                            "(default: 1h)")
    forecast.add_argument("--tz", type=time_zone_arg, default=None, metavar="ZONE",
                          help="show times in this IANA time zone, e.g. Europe/London "
                               "(default: this machine's local zone)")
    add_json(forecast, "print one JSON object: the points and the cleanest window (UTC times)")
    forecast.set_defaults(handler=cmd_forecast)


def cmd_forecast(args: argparse.Namespace) -> int:
    from ..advice.forecast import fetch_forecast, forecast_provider
    from ..advice.windows import best_start_window
    from ..errors import ProviderError
    from ..host import HostPaths
    from ..intensity.locate import locate

    overrides = setting_overrides(args)
    if args.provider:
        overrides["provider"] = args.provider
    config = strict_settings(overrides)
    where = locate(config, HostPaths())
    provider, why = forecast_provider(config, where)
    try:
        points = fetch_forecast(provider, where, args.hours)
        now = provider.now() if hasattr(provider, "now") else datetime.now(timezone.utc)
    except ProviderError as exc:
        say(f"forecast: {exc}")
        return EXIT_FAILURE
    finally:
        provider.close()
    # The window must end by the horizon asked for, or where the forecast stops if sooner (the
    # header says how much of the horizon it covers).
    horizon = min(now + timedelta(hours=args.hours), max(p.end for p in points))
    window = best_start_window(points, args.duration, horizon, now=now, min_saving_pct=0.0)
    labels = getattr(provider, "labels", None)
    if args.json:
        print_json(_as_json(points, window, provider.name, why, labels, where, args.hours))
        return 0
    _print_text(points, window, provider.name, why, labels, args.hours, args.tz)
    return 0


def _unit(labels: Any) -> str:
    return "gCO2/kWh" if labels is not None and labels.gases == "CO2" else "gCO2e/kWh"


def _as_json(points: list[IntensityPoint], window: StartWindow, name: str, why: str,
             labels: Any, where: Any, hours: int) -> dict[str, Any]:
    return {
        "provider": name, "provider_why": why, "hours": hours,
        "kind": window.kind, "zone": window.zone,
        "basis": getattr(labels, "basis", None), "scope": getattr(labels, "scope", None),
        "gases": getattr(labels, "gases", None), "location": where.to_dict(),
        "points": [{"start": _iso(p.start), "end": _iso(p.end), "g_per_kwh": p.g_per_kwh}
                   for p in points],
        "cleanest": window.to_json(),
    }


def _print_text(points: list[IntensityPoint], window: StartWindow, name: str, why: str,
                labels: Any, hours: int, zone: tzinfo | None) -> None:
    from ..advice.forecast import (
        axis_line,
        columns,
        hourly_rows,
        marker_line,
        sparkline,
        unicode_ok,
    )
    from ..advice.windows import local_text

    unit = _unit(labels)
    uni = unicode_ok(getattr(sys.stdout, "encoding", None))
    described = ", ".join(x for x in (window.kind, getattr(labels, "scope", None),
                                      getattr(labels, "gases", None)) if x)
    first, last = points[0].start, max(p.end for p in points)
    print(f"Carbon intensity forecast for {window.zone} ({described}) from {why}")
    covered_h = (last - max(first, window.now)).total_seconds() / 3600
    short = f"; the provider's forecast covers {covered_h:.1f} h of the {hours} asked" \
        if covered_h < hours - 0.01 else ""
    which = "local time" if zone is None else str(zone)
    print(f"{local_text(first, zone)} to {local_text(last, zone)}, {which}{short}")
    slices = columns(points, SPARK_WIDTH)
    values = [v for _, _, v in slices]
    known = [v for v in values if v is not None]
    print(f"  {sparkline(values, unicode=uni)}  {min(known):.0f}-{max(known):.0f} {unit}")
    fits = window.fits and window.coverage >= 1
    marks = marker_line(slices, window.start, window.end, unicode=uni) if fits else ""
    print(f"  {marks}{' cleanest' if marks.strip() else ''}")
    print(f"  {axis_line(slices, zone)}")
    if fits:
        print(_window_line(window, unit, zone))
    else:  # no window to mark: a shorter --duration or a longer --hours would give one
        span_h = (window.deadline - window.now).total_seconds() / 3600
        print(f"no {window.duration_s / 3600:g} h window fits in the {span_h:.1f} h of forecast "
              "from now: give a shorter --duration or more --hours")
    for note in window.notes:
        print(f"  note: {note}")
    print(f"{'start':<21} {'end':<21} {unit:>10}")
    for a, b, value in hourly_rows(points):
        mark = "  <- cleanest" if fits and a < window.end and b > window.start else ""
        print(f"{local_text(a, zone):<21} {local_text(b, zone):<21} {value:>10.0f}{mark}")


def _window_line(window: StartWindow, unit: str, zone: tzinfo | None) -> str:
    from ..advice.windows import local_text

    hours = window.duration_s / 3600
    span = f"{local_text(window.start, zone)} to {local_text(window.end, zone)}"
    mean = (f"mean {window.mean_g_per_kwh:.0f} {unit}" if window.mean_g_per_kwh is not None
            else "no mean")
    if window.now_g_per_kwh is not None and window.saving_pct is not None:
        versus = (f", {window.saving_pct:.0f}% below starting now "
                  f"({window.now_g_per_kwh:.0f} {unit})" if not window.start_now else
                  " (starting now is the cleanest)")
    else:
        versus = ""
    partial = (f", the forecast covers {100 * window.coverage:.0f}% of it"
               if window.coverage < 1 else "")
    return f"cleanest {hours:g} h window: {span}, {mean}{versus}{partial}"


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
