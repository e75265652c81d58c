"""``wattprint run`` and ``wattprint monitor``: the commands that measure.

The CLI is the host program here, so unlike the library it installs signal handlers: in
``run`` it forwards termination signals to the child and ignores its own Ctrl-C (the terminal
already sends it to the child), then exits the way the child did.

Where output goes: ``run`` leaves stdout to the child, so its own lines (the live status line,
the summary, or with ``--json`` the summary as one JSON object) go to stderr. ``monitor`` has
stdout to itself: with ``--json`` it streams the run there as JSON Lines, the wire objects
``wattprint export`` prints (run info, one record per interval as it is cut, the summary
last), so ``wattprint monitor --json | jq`` follows it live.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import clean_start
from .common import (
    EXIT_CLOSED_PIPE,
    EXIT_FAILURE,
    EXIT_USAGE,
    UsageError,
    quiet_closed_streams,
    say,
    strict_settings,
)
from .options import (
    BUDGET,
    INTENSITY,
    LOCATION,
    MEASUREMENT,
    NAMING,
    add_settings,
    positive,
    setting_overrides,
)

if TYPE_CHECKING:
    from ..config import Config
    from ..records import RunSummary


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output")
    group.add_argument("--json-summary", type=Path, default=None, metavar="PATH",
                       help="also write the run summary as JSON to PATH (default: not written)")
    group.add_argument("--quiet", action="store_true",
                       help="no live status line and no summary on stderr")


def add_run(sub: Any) -> None:
    run = sub.add_parser(
        "run", help="run a command and measure it",
        description="Run CMD, measure its energy and emissions, store the run. Exits with CMD's "
                    "exit status (or dies of the same signal). stdout is CMD's alone; wattprint "
                    "writes to stderr.")
    add_settings(run, NAMING, LOCATION, INTENSITY, MEASUREMENT, BUDGET)
    _add_output_flags(run)
    run.add_argument("--no-status", action="store_true",
                     help="no live status line (it is drawn only when stderr is a terminal)")
    run.add_argument("--json", action="store_true",
                     help="print the summary on stderr as one JSON object (the keys of "
                          "--json-summary) instead of text; stdout stays CMD's")
    clean_start.add_flags(run)
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ...",
                     help="the command to run and measure, after `--`")
    run.set_defaults(handler=cmd_run)


def add_monitor(sub: Any) -> None:
    monitor = sub.add_parser(
        "monitor", help="measure the whole machine, or one process tree, until stopped",
        description="Measure until Ctrl-C, SIGTERM, --duration or (with --pid) the end of that "
                    "process. With --json, stdout carries the run as JSON Lines: the wire "
                    "objects of `wattprint export` (run info, one record per interval as it is "
                    "cut, the summary last; `type` tells them apart).")
    add_settings(monitor, NAMING, LOCATION, INTENSITY, MEASUREMENT, BUDGET)
    _add_output_flags(monitor)
    monitor.add_argument("--duration", type=positive(float, "seconds"), default=None,
                         metavar="S", help="stop after S seconds (default: until stopped)")
    monitor.add_argument("--pid", type=positive(int, "a process id"), default=None,
                         metavar="PID",
                         help="measure the share of the process tree rooted at PID (implies "
                              "--scope process) and stop when it exits (default: the whole "
                              "machine)")
    monitor.add_argument("--prometheus", default=None, metavar="HOST:PORT",
                         help="serve the run's metrics at http://HOST:PORT/metrics while it "
                              "runs (the prometheus sink; extra prometheus; port 0: any free)")
    monitor.add_argument("--json", action="store_true",
                         help="stream the run as JSON Lines on stdout (see above)")
    monitor.set_defaults(handler=cmd_monitor)


# -- shared ------------------------------------------------------------------------------
def _check_outputs(args: argparse.Namespace, command: str) -> None:
    if args.json and args.quiet and command == "run":
        raise UsageError("--json prints the summary and --quiet prints none: give one")
    path = args.json_summary
    if path is not None and path.is_dir():
        raise UsageError(f"--json-summary {path} is a directory; give a file path")


def _write_json_summary(path: Path | None, summary: RunSummary) -> bool:
    if path is None:
        return True
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(summary.dumps() + "\n")
    except OSError as exc:
        say(f"cannot write the summary to {path}: {exc}; the run is stored: "
            f"`wattprint show {summary.run_id[:8]} --json`")
        return False
    return True


def _print_summary(summary: RunSummary, config: Config, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.to_json(), sort_keys=True), file=sys.stderr)
        return
    from ..report import format_summary

    # "stored in" only when the store really has the run; otherwise the summary says where
    # the data went (the spool)
    stored = None
    if (summary.delivery or {}).get("sqlite") == "delivered":
        from ..host import host_id
        from ..store.location import placement

        stored = str(placement(config.store_path, host_id()).write_path)  # per-node on NFS
    print(format_summary(summary, store_path=stored), file=sys.stderr)


def _show_summary(summary: RunSummary, config: Config, *, quiet: bool, as_json: bool) -> bool:
    """The summary on stderr; False when a stream was found closed (the caller exits 141)."""
    try:
        if not quiet:
            _print_summary(summary, config, as_json=as_json)
        sys.stderr.flush()
    except (BrokenPipeError, ConnectionResetError):
        quiet_closed_streams()
        return False
    return True


class _StatusLine:
    """A one-line live view on a TTY: elapsed, power, energy, emissions; the prediction of the
    tracker's own work or, with ``child``, of a tracker inside the measured command."""

    def __init__(self, tracker: Any, stream: Any = sys.stderr, period_s: float = 1.0,
                 child: Callable[[], Any] | None = None) -> None:
        self._tracker = tracker
        self._stream = stream
        self._period_s = period_s
        self._child = child
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="wattprint-status", daemon=True)

    def __enter__(self) -> _StatusLine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._draw("\r\x1b[2K")

    def _draw(self, text: str) -> bool:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):  # the terminal went away: the run goes on without a view
            return False
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self._period_s):
            snap = self._tracker.snapshot()
            if snap.prediction is None and self._child is not None:
                from .._struct import replace

                snap = replace(snap, prediction=self._child())
            if not self._draw(f"\r\x1b[2K{status_text(snap)}"):
                return


class ChildPrediction:
    """The latest prediction of a tracker inside the command ``wattprint run`` measures (a
    training script that calls ``tracker.expect()``), read from the local store at most every
    ``period_s``: that tracker writes it there with its records. Never raises: a store that
    cannot be read shows no prediction."""

    def __init__(self, config: Config, pid: int, since_s: float, *, period_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._pid = pid
        self._since_s = since_s
        self._period_s = period_s
        self._clock = clock
        self._next_s = float("-inf")
        self._found: Any = None

    def __call__(self) -> Any:
        now = self._clock()
        if now < self._next_s:
            return self._found
        self._next_s = now + self._period_s
        try:
            from ..host import host_id
            from ..store import open_repository

            repo = open_repository(self._config.store_path)
            try:
                self._found = repo.process_prediction(
                    tracker_pid=self._pid, host_id=host_id(), since_s=self._since_s)
            finally:
                repo.close()
        except Exception:  # noqa: BLE001 - the status line must never end the run
            pass
        return self._found


def status_text(snap: Any, *, now_s: float | None = None,
                tz_offset_s: float | None = None) -> str:
    """The live status line: elapsed, power, energy, emissions; then, once the run knows its
    total work, the prediction (``~2.100 kWh, 630.00 g by 14:32 (90%: 1.900-2.400 kWh)``);
    then a crossed budget, said as the tracker logged it."""
    from ..report import format_duration, format_energy, format_mass

    text = (f"[wattprint] {format_duration(snap.elapsed_s)}  {snap.power_w:.1f} W  "
            f"{format_energy(snap.energy_j)}  {format_mass(snap.emissions_g)} CO2e")
    if snap.prediction is not None:
        from ..advice.predict import status_text as predicted

        text += f"  {predicted(snap.prediction, now_s=now_s, tz_offset_s=tz_offset_s)}"
    if snap.budget is not None:
        text += f"  ! {snap.budget}"
    return text


# -- run ---------------------------------------------------------------------------------
def _wait_unreaped(proc: subprocess.Popen[bytes]) -> int:
    """Wait for the child to exit but leave it a zombie, so its CPU time is still readable for
    the final process-scope sample. Returns a Popen-style code (negative: killed by signal)."""
    if hasattr(os, "waitid") and hasattr(os, "WNOWAIT"):
        try:
            info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            return proc.wait()
        if info is not None:
            killed = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
            return -info.si_status if killed else info.si_status
    return proc.wait()


def _in_terminal_foreground() -> bool:
    """True when Ctrl-C from a terminal reaches our whole process group (child included)."""
    for stream in (sys.stdin, sys.stderr):
        try:
            if stream.isatty() and os.tcgetpgrp(stream.fileno()) == os.getpgrp():
                return True
        except (OSError, ValueError, AttributeError):
            continue
    return False


def cmd_run(args: argparse.Namespace) -> int:
    from ..tracker import Tracker

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        print("wattprint run: give a command after `--`, e.g. wattprint run -- python train.py",
              file=sys.stderr)
        return EXIT_USAGE
    _check_outputs(args, "run")
    clean_start.check_flags(args)
    config = strict_settings(setting_overrides(args))
    tags: dict[str, str] = {}
    if args.start_when_clean:  # waits for the cleanest forecast window; nothing runs before
        stop_code, tags = clean_start.plan_and_wait(args, config)
        if stop_code is not None:
            return stop_code
    tracker = Tracker(config=config, command=" ".join(cmd), tags=tags).prepare()
    proc: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: Any) -> None:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signum)

    forwarded = [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2]
    previous = {sig: signal.signal(sig, forward) for sig in forwarded}
    # Ctrl-C at a terminal already reaches the child (same process group): let it decide,
    # and do not die before it. A SIGINT sent to us alone is passed on.
    previous[signal.SIGINT] = signal.signal(
        signal.SIGINT, signal.SIG_IGN if _in_terminal_foreground() else forward
    )
    try:
        try:
            proc = subprocess.Popen(cmd)
        except OSError as exc:
            tracker.stop(status="failed")  # nothing ran; release what probing opened
            print(f"wattprint run: cannot start {cmd[0]!r}: {exc}", file=sys.stderr)
            return 127 if isinstance(exc, FileNotFoundError) else 126
        tracker.start(pid=proc.pid)
        if not (args.quiet or args.no_status) and sys.stderr.isatty():
            started_s = tracker.info.started_s if tracker.info is not None else time.time()
            with _StatusLine(tracker, child=ChildPrediction(config, proc.pid, started_s - 1)):
                code = _wait_unreaped(proc)
        else:
            code = _wait_unreaped(proc)
        exit_code = code if code >= 0 else 128 - code
        summary = tracker.stop(exit_code=exit_code, status="finished" if code == 0 else "failed")
        proc.wait()  # reap
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    _write_json_summary(args.json_summary, summary)
    # a closed stderr does not change the child's status
    _show_summary(summary, config, quiet=args.quiet, as_json=args.json)
    recalled = clean_start.recall(tags)
    if recalled and not (args.quiet or args.json):
        with contextlib.suppress(OSError, ValueError):
            say(recalled)
    if code < 0:  # die the way the child died, so callers see the same signal
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    return exit_code


# -- monitor -----------------------------------------------------------------------------
class JsonLinesOut:
    """A sink that streams a run to a text stream as wire JSON Lines, flushed per batch.

    It never raises (the exporter would retry and spool what is meant for a terminal): when the
    reader goes away it stops writing and calls ``on_closed`` once, so the command can stop as
    a program killed by SIGPIPE would, after storing the run. Heartbeats are left out: they
    tell the store a run is alive, and a reader of the stream sees records arrive.
    """

    name = "stdout"

    def __init__(self, stream: Any, on_closed: Callable[[], None]) -> None:
        self._stream = stream
        self._on_closed = on_closed
        self.closed = False

    def export(self, batch: Sequence[Any]) -> None:
        from ..wire import to_wire

        if self.closed:
            return
        lines = [to_wire(item) for item in batch]
        text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines
                       if line["type"] != "heartbeat")
        try:
            self._stream.write(text)
            self._stream.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError):
            self.closed = True
            self._on_closed()

    def close(self) -> None:
        pass


def _configured_sinks(config: Config) -> list[Any]:
    from ..sinks.registry import make_sink

    sinks = []
    for name in config.sinks:
        try:
            sinks.append(make_sink(name, config))
        except Exception as exc:  # noqa: BLE001 - any factory failure is reported the same way
            raise UsageError(f"sink {name} could not be created: {exc}") from None
    return sinks


def _with_prometheus(config: Config, address: str) -> Config:
    """``config`` with the prometheus sink added, serving at ``address``, and records sent to
    the sinks as they are cut (unless store_flush_s was set)."""
    from ..errors import ConfigError

    overrides: dict[str, Any] = {"prometheus_address": address,
                                 "sinks": [*config.sinks, "prometheus"]}
    if config.source_of("store_flush_s") == "default":
        # a scrape should see each record, not batches of 10 s
        overrides["store_flush_s"] = min(config.store_flush_s, config.interval_s)
    try:
        return config.with_overrides(overrides)
    except ConfigError as exc:
        raise UsageError(f"--prometheus: {exc}") from None


def _say_metrics_url(sinks: list[Any], quiet: bool) -> None:
    for sink in sinks:
        if getattr(sink, "name", None) == "prometheus" and not quiet:
            say(f"serving metrics at {sink.url}")


def _started_s(process: Any) -> float:
    """When ``process`` started (Unix s); 0 when that cannot be read (every run qualifies)."""
    try:
        return float(process.create_time())
    except Exception:  # noqa: BLE001 - psutil's errors vary by platform
        return 0.0


def _watched_process(pid: int | None, args: argparse.Namespace, config: Config) -> Any:
    """The process ``--pid`` names (None for machine scope); rejects scopes that contradict."""
    if pid is None:
        if config.scope == "process":
            raise UsageError(
                f"scope is 'process' (from {config.source_of('scope')}) but monitor has no "
                "process to follow: give --pid PID, or --scope machine; to measure a command "
                "from its start use `wattprint run -- CMD`")
        return None
    if args.scope is not None and config.scope == "machine":
        raise UsageError("--pid measures one process tree and --scope machine the whole "
                         "machine: give one")
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            raise psutil.NoSuchProcess(pid)
    except psutil.NoSuchProcess:
        raise UsageError(f"--pid {pid}: no such process (it may have ended)") from None
    return process


def _still_running(process: Any) -> bool:
    import psutil

    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _wait(stop: threading.Event, duration_s: float | None, process: Any) -> None:
    """Until stop is set, ``duration_s`` has passed or ``process`` has ended."""
    deadline = None if duration_s is None else time.monotonic() + duration_s
    while True:
        timeout = 0.2 if process is not None else None  # how soon the end of PID is seen
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            timeout = left if timeout is None else min(timeout, left)
        if stop.wait(timeout):
            return
        if process is not None and not _still_running(process):
            return


def cmd_monitor(args: argparse.Namespace) -> int:
    from ..tracker import Tracker

    _check_outputs(args, "monitor")
    config = strict_settings(setting_overrides(args))
    process = _watched_process(args.pid, args, config)
    if process is not None:
        config = config.with_overrides({"scope": "process"})
    stop = threading.Event()
    stream: JsonLinesOut | None = None
    sinks = None
    if args.prometheus is not None:
        config = _with_prometheus(config, args.prometheus)
    if args.json:
        # every record out as it is cut, not in flush_s batches
        config = config.with_overrides({"store_flush_s": 0})
        stream = JsonLinesOut(sys.stdout, stop.set)
        sinks = [*_configured_sinks(config), stream]
    elif args.prometheus is not None:
        sinks = _configured_sinks(config)  # a port in use is the user's error, said at once
    if args.prometheus is not None and sinks is not None:
        _say_metrics_url(sinks, args.quiet)
    what = f"process {args.pid} and its children" if process is not None else "this machine"
    tracker = Tracker(config=config, sinks=sinks,
                      command=f"wattprint monitor{f' --pid {args.pid}' if args.pid else ''}")

    def request_stop(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tracker.start(pid=args.pid)
        if not args.quiet:
            say(f"monitoring {what}; Ctrl-C to stop")
        if not args.quiet and sys.stderr.isatty():
            # a watched program that tracks its own work: its prediction in the status line
            child = (ChildPrediction(config, args.pid, _started_s(process) - 1)
                     if process is not None else None)
            with _StatusLine(tracker, child=child):
                _wait(stop, args.duration, process)
        else:
            _wait(stop, args.duration, process)
        summary = tracker.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    written = _write_json_summary(args.json_summary, summary)
    if stream is not None and stream.closed:
        quiet_closed_streams()
        return EXIT_CLOSED_PIPE
    # with --json, stdout had the data; stderr still gets the text for people
    if not _show_summary(summary, config, quiet=args.quiet, as_json=False):
        return EXIT_CLOSED_PIPE
    return 0 if written else EXIT_FAILURE
