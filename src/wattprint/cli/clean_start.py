"""``wattprint run --start-when-clean``: wait for the cleanest forecast window, then run.

Before the run: the expected duration (``--duration``, or the median of the last finished runs
of the same project and experiment in the local store, naming them), the forecast from the same
provider ``wattprint forecast`` uses, and :func:`~wattprint.advice.windows.best_start_window`
for a window that ends by ``--deadline``. The decision is said on stderr, then a countdown: one
redrawn line on a terminal, a plain line every ten minutes otherwise. Every hour of the wait
the forecast is asked for again and the start moves if a fresher forecast finds a cleaner one
(said; a failed refresh keeps the plan). Ctrl-C while waiting starts nothing and exits 130 (as
a shell reports SIGINT).

When no forecast can be had (no provider for the place, provider down, no window wholly
forecast, a deadline too close) the command starts now and says why: the run was asked for, and
waiting on no information would be a guess.

The decision is kept with the run as tags (``start_when_clean.*``: the planned start, expected
mean, the intensity had it started now, the saving, the provider and the reason), stored with
the run info (``wattprint export`` shows them), and recalled under the summary.

Waiting uses :data:`CLOCK` and :data:`SLEEP`, module attributes that tests replace, so no test
sleeps.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from .common import UsageError, say
from .forecast import deadline_arg, duration_arg
from .options import only_with

if TYPE_CHECKING:
    from ..advice.windows import StartWindow
    from ..config import Config

CLOCK: Callable[[], float] = time.time
SLEEP: Callable[[float], None] = time.sleep
PAST_RUNS = 5  # the median of this many finished runs gives the expected duration
PLAIN_EVERY_S = 600.0  # a plain progress line this often when stderr is not a terminal
TTY_EVERY_S = 1.0
REPLAN_EVERY_S = 3600.0  # a fresh forecast this often while waiting
MAX_FORECAST_H = 72  # the longest forecast any provider gives (WattTime)
EXIT_INTERRUPTED = 130
TAG = "start_when_clean"


def add_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("start when the grid is cleanest")
    group.add_argument("--start-when-clean", action="store_true",
                       help="wait for the start with the lowest mean forecast carbon intensity "
                            "for the run's duration, ending by --deadline (needs a forecast "
                            "provider, see `wattprint forecast`; without one it starts now, "
                            "saying why)")
    group.add_argument("--deadline", type=deadline_arg, default=None, metavar="WHEN",
                       help="when the run must have ended: a time from now (12h, 1d) or a "
                            "date-time (2026-01-02T06:00, local unless it has an offset)")
    group.add_argument("--duration", type=duration_arg, default=None, metavar="D",
                       help="how long the run takes (3h, 90m; default: the median of the last "
                            f"{PAST_RUNS} finished runs of the same project and experiment)")


def check_flags(args: argparse.Namespace) -> None:
    if not args.start_when_clean:
        only_with("--start-when-clean", {"--deadline": args.deadline,
                                         "--duration": args.duration})
        return
    if args.deadline is None:
        raise UsageError("--start-when-clean needs --deadline, e.g. --deadline 12h: when the "
                         "run must have ended")


def plan_and_wait(args: argparse.Namespace, config: Config) -> tuple[int | None, dict[str, str]]:
    """Choose the start and wait for it. Returns (an exit code to stop with, or None to run
    now) and the tags that keep the decision with the run."""
    now_s = CLOCK()
    now = datetime.fromtimestamp(now_s, timezone.utc)
    deadline = args.deadline if isinstance(args.deadline, datetime) else now + args.deadline
    duration, duration_from, energy_j = _expected_duration(args, config)
    tags = {f"{TAG}.deadline": _iso(deadline), f"{TAG}.duration_s": f"{duration.total_seconds():g}",
            f"{TAG}.duration_from": duration_from}
    planner = _Planner(config, duration, deadline)
    try:
        window = planner.plan(now)
        if window is None:
            say(f"start when clean: {planner.why_not}; starting now")
            tags.update({TAG: "now", f"{TAG}.reason": f"{planner.why_not}; starting now"})
            return None, tags
        tags.update(_window_tags(window, planner.name))
        say(f"start when clean: expected duration {_span(duration.total_seconds())} "
            f"({duration_from}); {planner.name} forecast")
        say(f"start when clean: {_decision(window)}")
        if energy_j and not window.start_now:  # the past runs say how much energy to expect
            grams = window.saving_g(energy_j)
            if grams is not None:
                tags[f"{TAG}.saving_g"] = f"{grams:.3g}"
                say(f"start when clean: about {_mass(grams)} CO2e less for the "
                    f"{energy_j / 3.6e6:.3g} kWh those runs used (median, before PUE)")
        if window.start_now:
            return None, tags
        try:
            final = _count_down(window, quiet=args.quiet,
                                replan=lambda: planner.plan(_now()))
        except KeyboardInterrupt:
            _end_line()
            say("start when clean: interrupted while waiting; the command was not started")
            return EXIT_INTERRUPTED, tags
    finally:
        planner.close()
    if final is not window:
        tags.update(_replanned_tags(window, final))
    tags[f"{TAG}.started"] = _iso(_now())
    return None, tags


def recall(tags: dict[str, str]) -> str | None:
    """The line under the summary that recalls the decision (None without one)."""
    if TAG not in tags:
        return None
    if tags[TAG] == "now" and f"{TAG}.mean_g_per_kwh" not in tags:
        return f"start when clean: started at once ({tags.get(f'{TAG}.reason', '')})"
    mean = tags.get(f"{TAG}.mean_g_per_kwh")
    versus = tags.get(f"{TAG}.now_g_per_kwh")
    text = (f"start when clean: started {_local(tags.get(f'{TAG}.start'))} for a forecast mean "
            f"of {float(mean):.0f} g/kWh" if mean else "start when clean: started")
    if versus and tags[TAG] == "waited":
        text += f" ({float(versus):.0f} g/kWh had it started at once"
        pct = tags.get(f"{TAG}.saving_pct")
        text += f": an expected {float(pct):.0f}% less)" if pct else ")"
    return text + "; kept in the run's tags (`wattprint export`)"


# -- the parts -------------------------------------------------------------------------------
def _expected_duration(args: argparse.Namespace,
                       config: Config) -> tuple[timedelta, str, float | None]:
    """The duration, where it came from, and the median energy (J) of the past runs it came
    from (None with --duration: nothing says how much energy this run will use)."""
    if args.duration is not None:
        return args.duration, "--duration", None
    from ..store import open_repository
    from ..store.repository import RunFilter

    repo = open_repository(config.store_path)
    try:
        page = repo.runs(RunFilter(project=config.project, experiment=config.experiment,
                                   status="finished"), limit=PAST_RUNS)
    finally:
        repo.close()
    runs = [r for r in page.items if r.duration_s]
    durations_s = [float(r.duration_s or 0.0) for r in runs]
    if not runs:
        raise UsageError(
            f"--start-when-clean needs the run's duration: give --duration (e.g. 3h); there are "
            f"no finished runs of {config.project}/{config.experiment} in the store to learn it "
            "from")
    median_s = statistics.median(durations_s)
    energies_j = [float(r.energy_j) for r in runs if r.energy_j is not None]
    ids = ", ".join(r.run_id[:8] for r in runs)
    return (timedelta(seconds=median_s),
            f"the median of the last {len(runs)} finished runs of "
            f"{config.project}/{config.experiment}: {ids}",
            statistics.median(energies_j) if energies_j else None)


class _Planner:
    """The forecast provider for the whole wait. Forecasts are re-issued through the day (NESO
    every half hour, the others hourly), so a wait of hours asks again every
    :data:`REPLAN_EVERY_S` rather than follow a stale one; ``why_not`` says why the last
    ``plan`` has no window."""

    def __init__(self, config: Config, duration: timedelta, deadline: datetime) -> None:
        from ..advice.forecast import forecast_provider
        from ..errors import LocationError, WattprintError
        from ..host import HostPaths
        from ..intensity.locate import locate

        self.duration, self.deadline = duration, deadline
        self.provider: Any = None
        self.name = ""
        self.why_not = ""
        try:
            self.where = locate(config, HostPaths())
            self.provider, _ = forecast_provider(config, self.where)
        except (WattprintError, LocationError) as exc:
            self.why_not = f"no forecast ({exc})"
            return
        self.name = self.provider.name

    def plan(self, now: datetime) -> StartWindow | None:
        from ..advice.forecast import fetch_forecast
        from ..advice.windows import best_start_window
        from ..errors import ProviderError

        if self.provider is None:
            return None
        # hours up to the deadline on the provider's own clock, which its forecast counts from
        asked = self.provider.now() if hasattr(self.provider, "now") else now
        left_h = (self.deadline - asked).total_seconds() / 3600
        hours = max(1, min(MAX_FORECAST_H, math.ceil(left_h)))
        try:
            points = fetch_forecast(self.provider, self.where, hours)
        except ProviderError as exc:
            self.why_not = str(exc).split("; try again later")[0]
            return None
        window = best_start_window(points, self.duration, self.deadline, now=now)
        if not window.fits or window.coverage < 1:
            self.why_not = window.reason.removesuffix(": starting now").removesuffix(
                "; starting now")
            return None
        return window

    def close(self) -> None:
        if self.provider is not None:
            self.provider.close()


def _window_tags(window: StartWindow, provider: str) -> dict[str, str]:
    tags = {TAG: "now" if window.start_now else "waited", f"{TAG}.start": _iso(window.start),
            f"{TAG}.provider": provider, f"{TAG}.reason": window.reason,
            f"{TAG}.kind": window.kind or ""}
    for key, value in (("mean_g_per_kwh", window.mean_g_per_kwh),
                       ("now_g_per_kwh", window.now_g_per_kwh),
                       ("saving_pct", window.saving_pct)):
        if value is not None:
            tags[f"{TAG}.{key}"] = f"{value:.1f}"
    return tags


def _decision(window: StartWindow) -> str:
    from ..advice.windows import local_text

    if window.start_now:  # most reasons already end by saying so
        return window.reason if "starting now" in window.reason else f"{window.reason}; " \
            "starting now"
    saving = (f", {window.saving_pct:.0f}% below starting now ({window.now_g_per_kwh:.0f})"
              if window.saving_pct is not None and window.now_g_per_kwh is not None else "")
    # a marginal (WattTime) figure answers another question than an average one: say which
    kind = " marginal" if window.kind == "marginal" else ""
    return (f"waiting {_span(window.wait_s)} to start at {local_text(window.start)} (to "
            f"{local_text(window.end)}): forecast{kind} mean {window.mean_g_per_kwh:.0f} g/kWh"
            f"{saving}")


def _count_down(window: StartWindow, *, quiet: bool,
                replan: Callable[[], StartWindow | None]) -> StartWindow:
    """Wait for ``window``'s start, asking ``replan`` every REPLAN_EVERY_S; returns the window
    finally waited for (a fresh forecast may move it)."""
    from ..advice.windows import local_text
    from ..report import format_duration

    tty = _stderr_is_tty() and not quiet
    period = TTY_EVERY_S if tty else PLAIN_EVERY_S
    next_plan_s = CLOCK() + REPLAN_EVERY_S
    kept_old = False
    while True:
        now_s = CLOCK()
        if now_s >= next_plan_s and window.start.timestamp() - now_s > 0:
            next_plan_s = now_s + REPLAN_EVERY_S
            fresh = replan()
            if fresh is None and not kept_old:  # said once; the plan in hand stays
                kept_old = True
                _end_line()
                say("start when clean: the forecast could not be refreshed; keeping the plan")
            elif fresh is not None and abs((fresh.start - window.start).total_seconds()) >= 60:
                _end_line()
                say(f"start when clean: the forecast changed: {_decision(fresh)}")
                window = fresh
        left = window.start.timestamp() - now_s
        if left <= 0:
            break
        saving = f", -{window.saving_pct:.0f}% gCO2/kWh" if window.saving_pct is not None else ""
        text = (f"starting in {format_duration(math.ceil(left))} at {local_text(window.start)}"
                f"{saving}; Ctrl-C to cancel")
        if tty:
            _draw(f"\r\x1b[2K[wattprint] {text}")
        elif not quiet:
            say(f"start when clean: {text}")
        SLEEP(min(left, period))
    if tty:
        _end_line()
    return window


def _replanned_tags(first: StartWindow, final: StartWindow) -> dict[str, str]:
    """The window finally waited for. The intensity had it started at once stays the first
    forecast's (no later forecast knows that hour better), and the saving is against it."""
    tags = {f"{TAG}.first_start": _iso(first.start), f"{TAG}.start": _iso(final.start),
            f"{TAG}.reason": f"replanned on a fresher forecast: {final.reason}"}
    if final.mean_g_per_kwh is not None:
        tags[f"{TAG}.mean_g_per_kwh"] = f"{final.mean_g_per_kwh:.1f}"
        if first.now_g_per_kwh:
            pct = 100 * (first.now_g_per_kwh - final.mean_g_per_kwh) / first.now_g_per_kwh
            tags[f"{TAG}.saving_pct"] = f"{pct:.1f}"
    if final.start_now:
        tags[TAG] = "now"
    return tags


def _now() -> datetime:
    return datetime.fromtimestamp(CLOCK(), timezone.utc)


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _draw(text: str) -> None:
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # a closed terminal does not stop the wait


def _end_line() -> None:
    if _stderr_is_tty():
        _draw("\r\x1b[2K")


def _mass(grams: float) -> str:
    from ..report import format_mass

    return format_mass(grams)


def _span(seconds: float) -> str:
    minutes = int(math.ceil(max(0.0, seconds) / 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m"


def _local(iso: str | None) -> str:
    from ..advice.windows import local_text

    if not iso:
        return "?"
    return local_text(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def decision_json(tags: dict[str, str]) -> dict[str, Any]:
    """The ``start_when_clean.*`` tags without their prefix (for tests and tools)."""
    return {k.removeprefix(f"{TAG}.") if k != TAG else "decision": v for k, v in tags.items()
            if k == TAG or k.startswith(f"{TAG}.")}
