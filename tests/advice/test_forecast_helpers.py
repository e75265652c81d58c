"""The forecast drawing helpers: sparkline heights, gaps left blank, the ASCII ramp, the window
marker, the time axis across a DST change, hourly rows of five-minute values, and which
encodings can show blocks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from wattprint.advice.forecast import (
    axis_line,
    columns,
    fetch_forecast,
    hourly_rows,
    marker_line,
    sparkline,
    unicode_ok,
)
from wattprint.errors import ProviderError
from wattprint.intensity import Location
from wattprint.intensity.providers import IntensityPoint

T0 = datetime(2026, 1, 1, 10, 0, tzinfo=timezone.utc)


def points(values: list[float | None], minutes: int = 30,
           start: datetime = T0) -> list[IntensityPoint]:
    step = timedelta(minutes=minutes)
    return [IntensityPoint(start=start + i * step, end=start + (i + 1) * step,
                           g_per_kwh=float(v), kind="average", zone="GB", source="neso",
                           forecast=True) for i, v in enumerate(values) if v is not None]


def test_sparkline_spans_lowest_to_highest_and_leaves_gaps_blank() -> None:
    assert sparkline([0, 100, 50, None, 100]) == "▁█▅ █"
    assert sparkline([0, 100, 50, None, 100], unicode=False) == "_#= #"
    assert sparkline([200, 200, 200]) == "▄▄▄"  # flat: one middle height, not a ramp
    assert sparkline([None, None]) == "  "


def test_columns_average_the_forecast_and_mark_gaps() -> None:
    slices = columns(points([100, 300, None, 200]), 96)
    assert [v for _, _, v in slices] == [100.0, 300.0, None, 200.0]  # the gap is a column
    wide = columns(points([100, 300] * 48, minutes=5), 24)  # 96 points into 24 columns
    assert len(wide) == 24 and all(v == 200.0 for _, _, v in wide)


def test_marker_line_under_the_window() -> None:
    slices = columns(points([1, 2, 3, 4, 5, 6]), 96)
    assert marker_line(slices, T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == "  ▔▔"
    assert marker_line(slices, T0, T0 + timedelta(minutes=30), unicode=False) == "^"


def test_axis_labels_local_hours_and_weekdays_across_a_dst_change() -> None:
    start = datetime(2026, 3, 28, 22, 0, tzinfo=timezone.utc)  # London: 22:00 GMT, Saturday
    slices = columns(points([100.0] * 24, start=start), 96)
    axis = axis_line(slices, ZoneInfo("Europe/London"))
    # midnight GMT at column 4 (00:00 UTC), 06h BST at 05:00 UTC = column 14
    assert axis == "    Sun" + " " * 7 + "06h"


def test_hourly_rows_of_five_minute_values_and_partial_hours() -> None:
    rows = hourly_rows(points([120] * 6 + [240] * 12 + [60] * 3, minutes=5,
                              start=T0 + timedelta(minutes=30)))
    assert rows == [(T0 + timedelta(minutes=30), T0 + timedelta(hours=1), 120.0),
                    (T0 + timedelta(hours=1), T0 + timedelta(hours=2), 240.0),
                    (T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=15), 60.0)]
    half_hours = points([100, 200])
    assert hourly_rows(half_hours) == [(p.start, p.end, p.g_per_kwh) for p in half_hours]


@pytest.mark.parametrize(("encoding", "shown"), [
    ("utf-8", True), ("UTF-16", True), ("ascii", False), ("latin-1", False), ("cp1252", False),
    (None, False), ("no-such-codec", False)])
def test_which_encodings_show_blocks(encoding: str | None, shown: bool) -> None:
    assert unicode_ok(encoding) is shown


class _Failing:
    name = "neso"

    def __init__(self, result: list[IntensityPoint] | Exception) -> None:
        self.result = result

    def forecast(self, where: Location, hours: int) -> list[IntensityPoint]:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_fetch_forecast_sorts_and_says_what_to_do() -> None:
    where = Location("GB", None)
    mixed = points([3, 1, 2])
    assert fetch_forecast(_Failing(mixed[::-1]), where, 2) == mixed  # type: ignore[arg-type]
    with pytest.raises(ProviderError, match=r"^no forecast: neso returned no forecast points "
                                            r"for the next 2 h; try again later"):
        fetch_forecast(_Failing([]), where, 2)  # type: ignore[arg-type]
    with pytest.raises(ProviderError, match=r"^no forecast: boom; try again later"):
        fetch_forecast(_Failing(ProviderError("boom")), where, 2)  # type: ignore[arg-type]
