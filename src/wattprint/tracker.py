"""Tracker: the wiring of the pipeline for one run.

    sensors -> meter <- sampler     (one thread: reads each sensor at its cadence)
                 |
                 +-> recorder       (cuts a record every ``interval_s``, settles spans)
                        |
                        +-> exporter  (its own thread: sinks, retry, spool)

The tracker's thread sleeps on one lock (``_wake.acquire(timeout=...)``) until the next sensor
read or record cut is due, or until :meth:`Tracker.stop` or a pile of unsettled spans wakes it.
Spans and ``step()`` only note clock readings on the caller's thread; nothing here reads
hardware on the host program's thread except ``flush()``, ``stop()`` (the last record) and a
span's figures read before they were settled, and no sink is written there (``flush()`` and
``stop()`` wait a bounded time for the exporter's thread). Nothing raises into the host
program after construction: sensor, intensity and sink failures are logged once and recorded as
warnings or gaps.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref

from ._log import get_logger
from ._struct import dataclass, replace
from .config import Config, load_config
from .host import HostPaths, host_id, hostname
from .meter import Meter
from .recorder import Recorder, Span
from .records import RunAccumulator, RunInfo, RunSummary, summarize
from .sensors import ProbeContext, SensorOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping, Sequence, TypeVar

    from .advice.budget import Budget, BudgetAlert
    from .advice.predict import Predictor
    from .cluster import Job
    from .exporter import Exporter
    from .intensity import Intensity, IntensitySource, Location
    from .records import Prediction, Record
    from .sampler import Sampler
    from .scope import Scope, Shares
    from .sensors import DeviceInfo, Sensor, Skipped
    from .sinks import Sink

__all__ = ["Span", "Tracker", "track"]

log = get_logger("wattprint")

if TYPE_CHECKING:
    F = TypeVar("F", bound=Callable[..., Any])

_live: weakref.WeakSet[Tracker] = weakref.WeakSet()
_hooks_installed = False


def _install_process_hooks() -> None:
    """One atexit hook and one fork hook for all trackers (weakly held)."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_stop_all_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_forget_in_child)


def _stop_all_at_exit() -> None:
    for tracker in list(_live):
        tracker._stop_at_exit()


def _forget_in_child() -> None:
    # The sampling thread does not exist in a forked child and the sinks' files and database
    # belong to the parent: the child's copy goes quiet instead of writing twice.
    for tracker in list(_live):
        tracker._become_inert_after_fork()


class _LogOnce:
    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, key: str, message: str, *args: Any) -> bool:
        if key in self._seen:
            return False
        self._seen.add(key)
        log.warning(message, *args)
        return True


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a live status line shows."""

    elapsed_s: float
    power_w: float
    energy_j: float
    emissions_g: float
    prediction: Prediction | None = None  # once ``expect()`` was told the total work
    budget: str | None = None  # the latest budget alert, in words


class Tracker:
    """Measure the energy and emissions of a block of code, a function or a whole program.

    Settings are keyword arguments (``project=``, ``country=``, ``interval_s=``, ``scope=`` ...,
    see :mod:`wattprint.config`) layered over environment and config files. The other keyword
    arguments inject parts (sensors, intensity source, sinks, clocks, host paths) for tests and
    embedding. ``on_budget`` is called (on the tracker's thread) with a
    :class:`~wattprint.advice.budget.BudgetAlert` when a budget (``budget_g``, ``budget_kwh``)
    is crossed by the prediction or the measured total: once per budget, never raising into the
    program; to stop cleanly, set a flag your loop reads.
    """

    def __init__(
        self,
        *,
        config: Config | None = None,
        sensors: Sequence[Sensor] | None = None,
        intensity: IntensitySource | None = None,
        sinks: Sequence[Sink | str] | None = None,
        paths: HostPaths | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        pid: int | None = None,
        modules: Mapping[str, object] | None = None,
        run_id: str | None = None,
        command: str | None = None,
        tags: Mapping[str, str] | None = None,
        on_budget: Callable[[BudgetAlert], None] | None = None,
        **settings: Any,
    ) -> None:
        from .intensity.locate import locate

        base = config if config is not None else load_config()
        # ``sinks=["sqlite", "mlflow"]`` names sinks, as the ``sinks`` setting does (checked
        # there: an unknown name is a ConfigError now, not a sink that fails at every batch);
        # Sink objects are injected as they are; a list may mix both.
        sink_names = [s for s in sinks if isinstance(s, str)] if sinks is not None else []
        if sink_names:
            settings = {**settings, "sinks": sink_names}
        self.config = base.with_overrides(settings) if settings else base
        log.set_level(self.config.log_level)
        self._paths = paths or HostPaths()
        self.location: Location = locate(self.config, self._paths)
        self.pue, self.pue_source, self._wue = _resolve_pue(self.config, self.location)
        self._provider = _make_provider(self.config) if intensity is None else None
        self._given_sensors = list(sensors) if sensors is not None else None
        self._given_intensity = intensity
        self._given_sinks = [s for s in sinks or () if not isinstance(s, str)]
        self._named_sinks = sinks is None or bool(sink_names)
        self._clock = clock
        self._wall = wall_clock
        self._pid = pid
        self._modules = dict(modules or {})
        from .cluster import detect_job

        # A distributed job's ranks share its job id; each tracker still gets its own run id,
        # since one rank may track several runs (training, then evaluation).
        self.job = detect_job(self.config.environ, job_id=self.config.job_id,
                              hostname=hostname(), paths=self._paths)
        self.run_id = run_id or os.urandom(16).hex()
        self._command = command
        self._tags = dict(tags or {})

        self._lock = threading.RLock()
        # Held except to wake the thread early (stop, or a cut asked for by a flood of spans); the
        # thread waits on it with a timeout. One lock acquire per wake-up is the cheapest
        # interruptible wait CPython has (Event.wait allocates a lock per call).
        self._wake = threading.Lock()
        self._wake.acquire()
        self._cut_asked = False
        self._thread: threading.Thread | None = None
        self._state = "new"  # new -> prepared -> running -> stopped; any -> inert on failure
        self._owner_pid = os.getpid()
        self._log_once = _LogOnce()
        self._warnings: list[str] = []
        self._acc = RunAccumulator()
        self._last_power_w = 0.0
        self._recorder = Recorder(self.run_id, pue=self.pue, clock=clock, wall_clock=wall_clock,
                                  warn=self._warn)
        self._recorder.settle_now = self._cut
        self._recorder.crowded = self._ask_cut
        self._sampler: Sampler | None = None
        self._exporter: Exporter | None = None
        self._sinks: list[Sink] = []
        self._sensors: list[Sensor] = []
        self._devices: list[DeviceInfo] = []
        self._skipped: list[Skipped] = []
        self._meter: Meter | None = None
        self._scope: Scope | None = None
        self._intensity: IntensitySource | None = None
        self._intensity_detail: dict[str, Any] = {}
        self._static_intensity: Intensity | None = None
        self._started_mono = 0.0
        self._stopping = False
        self.info: RunInfo | None = None
        self.summary: RunSummary | None = None
        # How much (see wattprint.advice): a predictor once expect() is told the total work,
        # budgets when set; both run on the tracker's thread at each record.
        self._on_budget = on_budget
        self._predictor: Predictor | None = None
        self._budget: Budget | None = None
        self._budget_note: str | None = None
        if self.config.budget_g is not None or self.config.budget_kwh is not None:
            from .advice.budget import Budget

            self._budget = Budget(budget_g=self.config.budget_g,
                                  budget_kwh=self.config.budget_kwh)

    # -- lifecycle ------------------------------------------------------------------------
    def prepare(self) -> Tracker:
        """Probe sensors and resolve the intensity source now. Optional: :meth:`start` does it
        when needed; ``wattprint run`` calls it before spawning so no energy is missed."""
        with self._lock:
            if self._state == "new":
                try:
                    self._probe()
                except Exception as exc:  # never let set-up break the host program
                    log.error("wattprint could not set up tracking: %r; the program runs "
                              "untracked", exc)
                    self._state = "inert"
                else:
                    self._state = "prepared"
        return self

    def start(self, *, pid: int | None = None) -> Tracker:
        """Start measuring (probing first if :meth:`prepare` was not called). ``pid`` retargets
        process scope (``wattprint run`` passes its child's pid)."""
        with self._lock:
            self.prepare()
            if self._state != "prepared":
                return self
            if pid is not None:
                self._pid = pid
            try:
                self._begin()
            except Exception as exc:  # never let set-up break the host program
                log.error("wattprint could not start tracking: %r; the program runs untracked", exc)
                self._state = "inert"
                return self
            self._state = "running"
            _live.add(self)
            _install_process_hooks()
        self._thread = threading.Thread(
            target=self._run, name=f"wattprint-sampler-{self.run_id[:8]}", daemon=True
        )
        self._thread.start()
        return self

    def _probe(self) -> None:
        from .intensity.locate import DEFAULT_WARNING

        config = self.config
        if self._given_sensors is not None:
            self._sensors = self._given_sensors
        else:
            from .sensors import detect

            detection = detect(probe_context(config, self._paths, self.job, self._modules,
                                             location=self.location))
            self._sensors, self._skipped = detection.sensors, detection.skipped
        self._devices = [d for s in self._sensors for d in s.devices()]
        if not self._sensors and self.job is not None and not self.job.is_node_leader:
            # By design (cluster.py): the node's leader measures the machine-wide devices and
            # each GPU its owner; a rank that owns no GPU measures nothing, and that is no fault.
            log.info("rank %s measures no device: the node's leader (local rank 0) measures "
                     "the machine and each GPU's owner that GPU", self.job.rank)
        elif not self._sensors:
            self._warn("no energy sensor could be opened: energy will read 0; run "
                       "`wattprint doctor` to see why")
        for device in self._devices:
            if device.warning:
                self._warn(f"{device.device}: {device.warning}")
        if self.job is not None:  # a derived job id's limits, GPUs without a clear owner
            from .cluster import job_warnings

            gpus = len({d.device for d in self._devices if d.component == "gpu"})
            for warning in job_warnings(self.job, config.environ, gpu_ids=config.gpu_ids,
                                        gpus_measured=gpus):
                self._warn(warning)

        self._sinks = [*self._given_sinks, *(self._config_sinks() if self._named_sinks else ())]
        for module in ("exporter", "sampler", "scope", "spool"):  # loaded now, used by _begin
            __import__(f"{__package__}.{module}")

        self._intensity = self._given_intensity or _intensity_source(
            self._provider, self.config, self.location)
        if self.location.is_default:
            self._warn(f"{DEFAULT_WARNING} ({self.location.detail})")
        now = self._wall()
        first = self._lookup_intensity(now, now)
        # A source whose value cannot change over a run (the bundled annual tables) is asked
        # once, not on every tick.
        if first is not None and getattr(self._intensity, "static", False):
            self._static_intensity = first
        if first is not None:
            self._intensity_detail = {
                "basis": first.basis, "scope": first.scope, "gases": first.gases,
                "note": first.note,
            }
            if first.note:
                self._warn(f"carbon intensity: {first.note}")

    def _begin(self) -> None:
        # Everything slow (imports, sinks) happened in prepare(): `wattprint run` has already
        # spawned its command when this runs, and the baseline must be taken at once.
        from .exporter import Exporter
        from .sampler import Sampler
        from .scope import make_scope
        from .spool import Spool

        config = self.config
        target_pid = self._pid if self._pid is not None else os.getpid()
        self._scope = make_scope(config.scope, pid=target_pid, devices=self._devices,
                                 paths=self._paths, job=self.job, sensors=self._sensors)
        self._meter = Meter(self._sensors, clock=self._clock, wall_clock=self._wall)
        self._recorder.meter = self._meter
        self._sampler = Sampler(
            self._meter, interval_s=config.interval_s, fast_s=config.sample_s,
            max_power_w={d.device: d.max_power_w for d in self._devices if d.max_power_w})
        self._started_mono = self._clock()
        self._sampler.start(self._started_mono)
        self._scope.start()

        self.info = RunInfo(
            run_id=self.run_id, project=config.project, experiment=config.experiment,
            started_s=self._wall(), scope=config.scope, interval_s=config.interval_s, pue=self.pue,
            location=self.location.to_dict(), host=self._host_info(target_pid),
            devices=tuple(_device_dict(d) for d in self._devices),
            skipped=tuple({"sensor": s.sensor, "reason": s.reason, "fix": s.fix}
                          for s in self._skipped),
            warnings=tuple(self._warnings), wattprint_version=_version(), tags=self._tags,
            job=self.job.to_dict() if self.job else None,
        )
        self._exporter = Exporter(
            self._sinks, run_id=self.run_id, spool=Spool(config.store_path.parent / "spool"),
            flush_s=config.store_flush_s, heartbeat_s=config.heartbeat_s,
            clock=self._clock, wall_clock=self._wall)
        self._exporter.start(self.info)

    def _config_sinks(self) -> list[Sink]:
        from .sinks.registry import make_sink

        sinks = []
        for name in self.config.sinks:
            try:
                sinks.append(make_sink(name, self.config))
            except Exception as exc:
                self._warn(f"sink {name} could not be created: {exc}")
        return sinks

    def _host_info(self, pid: int) -> dict[str, Any]:
        uname = os.uname() if hasattr(os, "uname") else None
        cpu = next((d.detail for d in self._devices if d.component == "cpu"), "")
        return {
            "host_id": host_id(self._paths),
            "hostname": hostname(),
            "os": f"{uname.sysname} {uname.release}" if uname else sys.platform,
            "machine": uname.machine if uname else "",
            "python": sys.version.split()[0],
            "pid": pid,
            "tracker_pid": os.getpid(),
            "command": _utf8_text(self._command if self._command is not None
                                  else " ".join(sys.argv)),
            "cpu": cpu,
        }

    def _run(self) -> None:
        sampler = self._sampler
        assert sampler is not None
        interval = self.config.interval_s
        clock = self._clock
        next_cut = clock() + interval
        while True:
            wait = min(next_cut, sampler.next_due_s) - clock()
            self._wake.acquire(timeout=max(wait, 0.0))
            if self._stopping:
                return
            now = clock()
            if now >= next_cut or self._cut_asked:
                self._cut_asked = False
                self._cut()
                next_cut = now + interval
            elif now >= sampler.next_due_s:
                with self._lock:
                    if self._state == "running":
                        try:
                            sampler.poll(now)
                        except Exception as exc:  # a sampler bug must not end the run quietly
                            self._note_failure("sample", "reading sensors failed: %r", exc)

    def _wake_thread(self) -> None:
        try:
            self._wake.release()
        except RuntimeError:  # already released: the thread is waking anyway
            pass

    def _ask_cut(self) -> None:
        """Many spans are waiting to be settled: cut a record now, on the tracker's thread."""
        if not self._cut_asked:
            self._cut_asked = True
            self._wake_thread()

    def stop(self, *, exit_code: int | None = None, status: str = "finished") -> RunSummary:
        """Final sample, close spans and sinks, and return the run's summary. Idempotent."""
        with self._lock:
            if self.summary is not None:
                return self.summary
            if self._state != "running":
                # prepared but never started (``wattprint run`` whose command failed to
                # launch): release what probing opened, such as a live provider's thread
                self._close_parts()
                self.summary = self._empty_summary(status="failed" if self._state == "inert"
                                                   else "not started")
                return self.summary
            first_stop = not self._stopping
            self._stopping = True
        if first_stop:
            self._wake_thread()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10.0)
        with self._lock:
            if self.summary is not None:  # another thread stopped us meanwhile
                return self.summary
            self._recorder.close_open_spans()
            self._cut()
            assert self.info is not None
            summary = self._acc.summary(
                self.info, spans=self._recorder.spans(), status=status,
                exit_code=exit_code, duration_s=max(0.0, self._clock() - self._started_mono),
                intensity_detail=self._intensity_detail,
            )
            try:
                beyond = self._beyond_operational(summary)
            except Exception as exc:  # extras must never cost the run its summary
                self._note_failure("beyond", "embodied/water/market figures failed (%r)", exc)
                beyond = {"pue_source": self.pue_source}
            prediction = self.prediction
            if prediction is not None:
                beyond["prediction"] = prediction.to_dict()
            if self._budget is not None:
                beyond["budget"] = self._budget.to_dict()
            summary = replace(summary, warnings=tuple(self._warnings), **beyond)
            delivery: dict[str, str] = {}
            if self._exporter is not None:
                delivery = self._exporter.close(summary, timeout_s=_FINAL_FLUSH_S)
                for warning in self._exporter.warnings:
                    self._warn(warning)
            self.summary = replace(summary, warnings=tuple(self._warnings), delivery=delivery)
            self._state = "stopped"
            _live.discard(self)
            self._close_parts()
            return self.summary

    def _close_parts(self) -> None:
        if os.getpid() != self._owner_pid:  # a forked child's copies belong to the parent
            return
        for part in [*self._sensors, self._intensity]:
            close = getattr(part, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception as exc:
                log.debug("closing %r failed: %r", part, exc)

    def _beyond_operational(self, summary: RunSummary) -> dict[str, Any]:
        """Embodied emissions, water and the market-based figure, each beside emissions_g."""
        from . import footprint
        from .intensity.tables import embodied_defaults

        total_j = summary.energy_j.get("total", 0.0)
        out: dict[str, Any] = {"pue_source": self.pue_source}
        if self.config.embodied:
            gpus = len({d.device for d in self._devices if d.component == "gpu"})
            virtual = any(dict(d.attributes).get("scaling") in ("per-vcpu", "per-thread")
                          for d in self._devices)
            from .sensors.instances import instance_choice

            # A known cloud instance type: its share of its host instead of a whole server.
            instance = instance_choice(
                probe_context(self.config, self._paths, None, location=self.location).options)
            # One server per node per job: the node's leader carries it (see footprint).
            found = footprint.embodied(duration_s=summary.duration_s, gpus=gpus,
                                       cpu_share=self._acc.mean_cpu_share,
                                       is_virtual=virtual, table=embodied_defaults(),
                                       carries_server=self.job is None or self.job.is_node_leader,
                                       instance=instance)
            if found is not None:
                out["embodied_g"], out["embodied"] = found["embodied_g"], found
        if self._wue is not None:
            found = footprint.water(energy_j=total_j, **self._wue)
            if found is not None:
                out["water_l"], out["water"] = found["water_l"], found
        market = footprint.market_based(
            energy_j=total_j, pue=self.pue, location_emissions_g=summary.emissions_g,
            renewable_share=self.config.renewable_share,
            residual_g_per_kwh=self.config.residual_g_per_kwh)
        if market is not None:
            out["market_based"] = market
        return out

    def flush(self) -> None:
        """Cut a record now (settling every closed span) and export everything queued."""
        with self._lock:
            if self._state != "running":
                return
            self._cut()
            exporter = self._exporter
        if exporter is not None and threading.current_thread() is not self._thread:
            exporter.flush(timeout_s=_FINAL_FLUSH_S)

    def _stop_at_exit(self) -> None:
        if os.getpid() == self._owner_pid and self._state == "running":
            try:
                self.stop(status="finished")
            except Exception as exc:
                log.error("wattprint: stopping at exit failed: %r", exc)

    def _become_inert_after_fork(self) -> None:
        self._lock = threading.RLock()
        self._thread = None
        if self._state == "running":
            self._state = "inert"
            self._exporter = None

    # -- context manager and decorator ----------------------------------------------------
    def __enter__(self) -> Tracker:
        return self.start()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.stop(status="failed" if exc_type is not None else "finished")

    # -- spans and work ---------------------------------------------------------------------
    def span(self, name: str) -> Span:
        """A named part of the run: ``with tracker.span("epoch-3") as s: ...; s.energy_j``.

        Opening and closing one costs a few clock readings on this thread; its energy comes from
        the sampler's timeline. Spans of the same name under the same parent are aggregated."""
        return self._recorder.span(name)

    def step(self, n: float = 1, unit: str = "samples") -> None:
        """Count ``n`` units of work (``samples``, ``tokens``, ``images``...): the summary, the
        records and every span open on this thread report energy and emissions per unit."""
        self._recorder.step(n, unit)

    def expect(self, total: float, unit: str = "samples", *, level: float = 0.9) -> None:
        """Say how much work the run will do (``total`` units of ``unit``, counted with
        :meth:`step` in the same unit): from then on each record updates a prediction of the
        run's total duration, energy and emissions with a ``level`` band (see
        :mod:`wattprint.advice.predict`), shown live, in the summary, stored and sent. Call it
        again when the total changes. Raises ``ValueError`` for a total that is not a positive
        number (a framework's "not set", such as -1, is not a total)."""
        from .advice.predict import Predictor

        with self._lock:
            totals = self._acc.totals
            self._predictor = Predictor(
                total=total, unit=str(unit), level=level, done=self._acc.work.get(unit, 0.0),
                elapsed_s=totals.duration_s, energy_j=totals.energy_j,
                emissions_g=totals.emissions_g)

    @property
    def prediction(self) -> Prediction | None:
        """The latest prediction (None before :meth:`expect` and the first records)."""
        predictor = self._predictor
        return predictor.last if predictor is not None else None

    # -- the cut ------------------------------------------------------------------------------
    def _cut(self) -> None:
        with self._lock:
            if self._state != "running" or self._meter is None:
                return
            interval = None
            try:
                interval = self._meter.cut()
                if self._sampler is not None:
                    self._sampler.after_cut(self._clock())
                shares = self._shares()
                intensity = self._lookup_intensity(interval.start_s, interval.end_s)
                record, spans = self._recorder.cut(interval, shares, intensity)
            except Exception as exc:
                self._note_failure("tick", "measuring an interval failed: %r", exc)
                # Never silently: a gap record for an interval the meter handed over, else a
                # note on the next record, which then spans this tick (see Recorder.failed_tick).
                try:
                    lost = self._recorder.failed_tick(interval, repr(exc), self._wall())
                except Exception:
                    return
                if lost is None:
                    return
                record, spans = lost, []
            self._acc.add(record)
            if record.duration_s > 0:
                self._last_power_w = record.energy_j / record.duration_s
            for gap in record.gaps:
                self._log_once(f"gap:{gap}", "wattprint: %s", gap)
            if self._exporter is not None:
                self._exporter.submit(record)
                for span in spans:
                    self._exporter.submit(span)
            if self._predictor is not None or self._budget is not None:
                self._how_much(record)

    def _how_much(self, record: Record) -> None:
        """The prediction after ``record`` and the budgets (tracker's thread; never raises)."""
        prediction = None
        if self._predictor is not None:
            try:
                prediction = self._predictor.add(record)
            except Exception as exc:
                self._note_failure("predict", "the run's prediction failed (%r) and stopped", exc)
                self._predictor = None
            else:
                if prediction is not None and prediction.seq == record.seq \
                        and self._exporter is not None:
                    self._exporter.submit(prediction)
        budget = self._budget
        if budget is None:
            return
        totals = self._acc.totals
        try:
            alerts = budget.check(energy_j=totals.energy_j, emissions_g=totals.emissions_g,
                                  prediction=prediction, at_s=record.start_s + record.duration_s)
        except Exception as exc:
            self._note_failure("budget", "checking the budget failed (%r)", exc)
            return
        for alert in alerts:
            log.warning("wattprint: %s", alert.message)
            self._warn(alert.message)
            self._budget_note = alert.message
            if self._on_budget is not None:
                try:
                    self._on_budget(alert)
                except Exception as exc:  # the user's callback must not end the measurement
                    self._note_failure("on_budget", "the on_budget callback raised %r", exc)

    def _shares(self) -> Shares:
        if self._scope is None or self._scope.name == "machine":
            return _whole()
        try:
            return self._scope.shares()
        except Exception as exc:
            from .scope import Shares

            message = "process share unavailable (%r); counting the whole machine"
            self._note_failure("scope", message, exc)
            # Whole, and this interval's record says so (a gap), never a silent machine total.
            return Shares(problems=(message % (exc,),))

    def _lookup_intensity(self, start_s: float, end_s: float) -> Intensity | None:
        assert self._intensity is not None
        if self._static_intensity is not None:
            return self._static_intensity
        from datetime import datetime, timezone

        try:
            return self._intensity.lookup(
                self.location,
                datetime.fromtimestamp(start_s, timezone.utc),
                datetime.fromtimestamp(end_s, timezone.utc),
            )
        except Exception as exc:
            self._note_failure("intensity", "carbon intensity unavailable (%r); emissions of "
                               "this interval are recorded as 0", exc)
            return None

    # -- failure handling -----------------------------------------------------------------
    def _warn(self, message: str) -> None:
        if message not in self._warnings:
            self._warnings.append(message)

    def _note_failure(self, key: str, message: str, exc: Exception) -> None:
        if self._log_once(key, "wattprint: " + message, exc):
            self._warn(message % (exc,))

    # -- live view ------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self._lock:
            elapsed = self._clock() - self._started_mono if self._started_mono else 0.0
            totals = self._acc.totals
            return Snapshot(elapsed, self._last_power_w, totals.energy_j, totals.emissions_g,
                            self.prediction, self._budget_note)

    @property
    def devices(self) -> list[DeviceInfo]:
        return list(self._devices)

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)

    def _empty_summary(self, *, status: str) -> RunSummary:
        info = self.info or RunInfo(
            run_id=self.run_id, project=self.config.project, experiment=self.config.experiment,
            started_s=self._wall(), scope=self.config.scope, interval_s=self.config.interval_s,
            pue=self.pue, location=self.location.to_dict(), host={}, devices=(),
            skipped=(), warnings=tuple(self._warnings),
        )
        return summarize(info, [], status=status)


_WHOLE: list[Shares] = []  # scope.WHOLE, once loaded (scope loads at prepare())


def _whole() -> Shares:
    if not _WHOLE:
        from .scope import WHOLE

        _WHOLE.append(WHOLE)
    return _WHOLE[0]


# Longest the final export may hold up the program's exit; what is not delivered by then is
# spooled (see wattprint.exporter).
_FINAL_FLUSH_S = 3.0


def _resolve_pue(
    config: Config, location: Location
) -> tuple[float, str, dict[str, Any] | None]:
    """(PUE, where it came from, WUE arguments or None): the setting, else the cloud provider's
    published figure for a known cloud, else 1.0 (no facility overhead: a laptop or office)."""
    wue = None
    if location.cloud:
        from .intensity.tables import cloud_pue

        try:
            row = cloud_pue(location.cloud, location.cloud_region)
        except Exception as exc:  # missing data must not stop the run
            log.warning("wattprint: no PUE data for %s: %r", location.cloud, exc)
        else:
            if row.wue_l_per_kwh is not None:
                wue = {"wue_l_per_kwh": row.wue_l_per_kwh, "source": row.wue_source,
                       "year": row.wue_year}
            if config.pue is None:
                return row.pue, f"{row.source} ({row.year})", wue
    if config.pue is not None:
        return config.pue, f"setting from {config.source_of('pue')}", wue
    return 1.0, "default 1.0: no data-centre overhead assumed; set `pue` for a data centre", wue


def _make_provider(config: Config) -> Any:
    """The live provider the settings ask for (None for the bundled tables). Built at
    construction so a missing key fails there, with the key's name; nothing touches the network
    yet."""
    if config.provider == "bundled":
        return None
    from .intensity.providers import make_provider
    from .intensity.providers._http import HttpOptions

    credentials = {
        "electricitymaps": {"api_key": config.electricitymaps_api_key,
                            "emission_factor_type": config.electricitymaps_emission_factor},
        "watttime": {"username": config.watttime_username,
                     "password": config.watttime_password, "region": config.watttime_region},
        "neso": {"postcode": config.postcode},
    }[config.provider]
    http = HttpOptions(cache_dir=config.store_path.parent / "cache" / "intensity")
    return make_provider(config.provider, http=http,
                         **{k: v for k, v in credentials.items() if v is not None})


def _intensity_source(provider: Any, config: Config, location: Location) -> IntensitySource:
    """The bundled tables, or a live provider polled off the critical path with the bundled
    tables as its fallback."""
    from .intensity.bundled import BundledSource

    if provider is None:
        return BundledSource(figure=config.intensity_figure)
    from .intensity.live import LiveSource

    source = LiveSource(provider, BundledSource(figure=config.intensity_figure),
                        refresh_s=config.intensity_refresh_s)
    source.prime(location)
    source.wait_ready(1.0)  # a first live value if it comes quickly; never blocks longer
    return source


def probe_context(config: Config, paths: HostPaths, job: Job | None,
                  modules: Mapping[str, object] | None = None, *,
                  location: Location | None = None) -> ProbeContext:
    """What sensor probes need from the settings and, in a distributed job, this rank's role;
    the cloud instance type is the setting's, else the one the location's metadata named."""
    gpu_ids = config.gpu_ids
    if gpu_ids is None and job is not None:
        from .cluster import owned_gpus

        gpu_ids = owned_gpus(job, config.environ)
    instance_type, instance_from = config.cloud_instance_type, "config (cloud_instance_type)"
    if not instance_type and location is not None and location.instance_type:
        instance_type, instance_from = location.instance_type, f"{location.cloud} instance metadata"
    options = SensorOptions(
        cpu_tdp_w=config.cpu_tdp_w, ram_w_per_gib=config.ram_w_per_gib,
        rapl_psys=config.rapl_psys, gpu_ids=gpu_ids,
        machine_wide=job is None or job.is_node_leader,
        cloud_instance_type=instance_type,
        cloud=(location.cloud if location is not None and location.cloud else config.cloud),
        cloud_instance_type_from=instance_from if instance_type else None,
    )
    return ProbeContext(paths=paths, options=options, env=dict(config.environ),
                        modules=dict(modules or {}))


def _device_dict(device: DeviceInfo) -> dict[str, Any]:
    return {
        "device": device.device, "component": device.component, "method": device.method,
        "detail": device.detail, "coverage": device.coverage,
        "attributes": dict(device.attributes), "warning": device.warning,
        "max_power_w": device.max_power_w,
    }


def _version() -> str:
    from . import __version__

    return __version__


def track(func: F | None = None, **settings: Any) -> Any:
    """Decorator: ``@wattprint.track`` or ``@wattprint.track(project="x")``.

    Each call of the decorated function is one run; the last summary is kept on the wrapper as
    ``wrapper.last_summary``.
    """

    import functools
    import inspect

    def decorate(fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                tracker = Tracker(**settings)
                try:
                    with tracker:
                        return await fn(*args, **kwargs)
                finally:
                    async_wrapper.last_summary = tracker.summary  # type: ignore[attr-defined]

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tracker = Tracker(**settings)
            try:
                with tracker:
                    return fn(*args, **kwargs)
            finally:
                wrapper.last_summary = tracker.summary  # type: ignore[attr-defined]

        return wrapper  # type: ignore[return-value]

    return decorate(func) if func is not None else decorate


def _utf8_text(text: str) -> str:
    """``text`` as valid UTF-8: argv bytes that are not UTF-8 reach Python as lone surrogates
    (PEP 383), which UTF-8 cannot encode, so the team server would refuse the run; they become
    ``\\xNN`` escapes, and the command still says which bytes it had."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:  # a surrogate that was never a byte
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
