"""Forecasts for the "when" advice: which provider, fetching with clear errors, and drawing.

- :func:`forecast_provider` chooses the provider a forecast comes from: the configured live
  provider (``provider`` setting); with the bundled tables configured, UK NESO for a location in
  Great Britain (its API needs no key), said as such; elsewhere a :class:`ConfigError` naming the
  settings to give, since annual tables have no hours to choose between.
- :func:`fetch_forecast` asks it, turning "no points" into an error, and every provider error
  into one that says what to do.
- :func:`sparkline` draws a series as Unicode blocks, or ASCII where the output's encoding
  cannot show them, and :func:`marker_line` marks a window under it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from ..errors import ConfigError, ProviderError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..config import Config
    from ..intensity import Location
    from ..intensity.providers import IntensityPoint, Provider

__all__ = ["BLOCKS", "ASCII_RAMP", "axis_line", "columns", "fetch_forecast",
           "forecast_provider", "hourly_rows", "marker_line", "sparkline", "unicode_ok"]

BLOCKS = "▁▂▃▄▅▆▇█"
ASCII_RAMP = "_.-:=+*#"
GAP = " "  # a column the forecast does not cover: blank, never a guessed height
WHAT_TO_DO = ("try again later; a run started meanwhile uses the value `wattprint intensity` "
              "shows")


def forecast_provider(config: Config, where: Location, *,
                      what: str = "forecast") -> tuple[Provider, str]:
    """The provider to ask for a ``what`` ("forecast", "history") and a phrase saying why that
    one (for the output)."""
    from ..intensity.providers import make_provider
    from ..intensity.providers._http import HttpOptions

    if config.provider != "bundled":
        from ..tracker import _make_provider

        provider: Provider = _make_provider(config)
        return provider, f"{config.provider} (provider from {config.source_of('provider')})"
    if where.country == "GB" and where.subdivision != "NIR":
        http = HttpOptions(cache_dir=config.store_path.parent / "cache" / "intensity")
        settings = {"postcode": config.postcode} if config.postcode else {}
        neso = make_provider("neso", http=http, **settings)
        return neso, "neso (no key needed; the `provider` setting is bundled: annual figures)"
    place = where.zone or where.country or "this location"
    raise ConfigError(
        f"no {what} provider for {place}: the bundled tables hold annual averages only. Set "
        f"`provider` to electricitymaps (with `electricitymaps_api_key`; {what} needs a paid or "
        "trial plan) or watttime (with `watttime_username`/`watttime_password`), e.g. "
        "WATTPRINT_PROVIDER=electricitymaps; in Great Britain, neso needs no key",
        key="provider")


def fetch_forecast(provider: Provider, where: Location, hours: int) -> list[IntensityPoint]:
    """The provider's forecast for the next ``hours``, in time order; raises ProviderError
    (with what to do) when it fails or has nothing."""
    try:
        points = provider.forecast(where, hours)
    except ProviderError as exc:
        raise ProviderError(f"no forecast: {exc}; {WHAT_TO_DO}") from None
    if not points:
        raise ProviderError(f"no forecast: {provider.name} returned no forecast points for "
                            f"the next {hours} h; {WHAT_TO_DO}")
    return sorted(points, key=lambda p: p.start)


def unicode_ok(encoding: str | None) -> bool:
    """True when text in ``encoding`` can show the block characters."""
    try:
        BLOCKS.encode(encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def columns(points: Sequence[IntensityPoint], width: int) -> list[tuple[datetime, datetime,
                                                                         float | None]]:
    """At most ``width`` equal slices of the forecast's span, each with its time-weighted mean
    (None where no point covers it)."""
    from ..intensity.providers import average_over

    first, last = points[0].start, max(p.end for p in points)
    shortest = min(p.end - p.start for p in points)
    periods = round((last - first) / shortest)  # gaps count: they show as blanks
    count = max(1, min(width, periods))
    step = (last - first) / count
    slices = []
    for i in range(count):
        a, b = first + i * step, first + (i + 1) * step
        slices.append((a, b, average_over(points, a, b)))
    return slices


def sparkline(values: Sequence[float | None], *, unicode: bool = True) -> str:
    """One character per value, lowest to highest; a gap (None) is a blank."""
    ramp = BLOCKS if unicode else ASCII_RAMP
    known = [v for v in values if v is not None]
    if not known:
        return GAP * len(values)
    low, high = min(known), max(known)
    spread = high - low
    out = []
    for v in values:
        if v is None:
            out.append(GAP)
        elif spread <= 0:
            out.append(ramp[len(ramp) // 2 - 1])  # flat: one middle height throughout
        else:
            out.append(ramp[min(len(ramp) - 1, int((v - low) / spread * len(ramp)))])
    return "".join(out)


def marker_line(slices: Sequence[tuple[datetime, datetime, float | None]], start: datetime,
                end: datetime, *, unicode: bool = True) -> str:
    """``^`` (or ``▔``) under the columns that overlap [start, end)."""
    mark = "▔" if unicode else "^"
    return "".join(mark if a < end and b > start else " " for a, b, _ in slices).rstrip()


def axis_line(slices: Sequence[tuple[datetime, datetime, float | None]],
              zone: tzinfo | None = None) -> str:
    """Labels under the sparkline at each local 00, 06, 12 and 18 o'clock that falls in a
    column: the hour (``06h``), or the weekday at midnight (``Fri``); none overlap."""
    line = [" "] * len(slices)
    free_from = 0
    for i, (a, b, _) in enumerate(slices):
        local = a.astimezone(zone) if zone is not None else a.astimezone()
        mark = local.replace(minute=0, second=0, microsecond=0)
        if mark < local:
            mark += timedelta(hours=1)
        if mark.astimezone(a.tzinfo) >= b or mark.hour % 6 or i < free_from:
            continue
        label = mark.strftime("%a") if mark.hour == 0 else f"{mark.hour:02d}h"
        if i + len(label) > len(line):
            break
        line[i:i + len(label)] = label
        free_from = i + len(label) + 1
    return "".join(line).rstrip()


def hourly_rows(points: Sequence[IntensityPoint]) -> list[tuple[datetime, datetime, float]]:
    """Rows for a table: the provider's own periods when they are 30 min or longer, else the
    hourly time-weighted means (five-minute values would be 12 rows an hour)."""
    from ..intensity.providers import average_over

    shortest = min(p.end - p.start for p in points)
    if shortest >= timedelta(minutes=30):
        return [(p.start, p.end, p.g_per_kwh) for p in points]
    rows = []
    cursor = points[0].start.replace(minute=0, second=0, microsecond=0)
    last = max(p.end for p in points)
    while cursor < last:
        stop = cursor + timedelta(hours=1)
        # the first and last hours may be partly forecast: the row says which part
        a, b = max(cursor, points[0].start), min(stop, last)
        value = average_over(points, a, b)
        if value is not None:
            rows.append((a, b, value))
        cursor = stop
    return rows
