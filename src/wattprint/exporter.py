"""The exporter stage: decides *where* items go, off the host program's thread.

Shaped like the OpenTelemetry SDK's batch processor: the producer (the tracker's thread, with
each record it cuts and the spans that record settled) calls :meth:`Exporter.submit`, which
only appends to a bounded in-memory queue; ONE worker thread
("wattprint-exporter-<run8>") moves the queue into each sink's own backlog and exports a batch
every ``flush_s`` seconds, sooner when the queue passes ``max_batch`` items, on
:meth:`Exporter.flush` and at :meth:`Exporter.close`.

Why each sink has a backlog: a sink that raises ("disk full", "database is locked") keeps its
items and is retried with exponential backoff (``backoff_s``: first delay, cap) while the others
carry on, so nothing is dropped and order is kept once it recovers. A batch starts with the
run's RunInfo until the sink has accepted one, and a later SpanRecord with the same span_id
(or a later heartbeat, or prediction of the run) replaces the earlier one within a batch.

Where data goes when it cannot be delivered (:mod:`wattprint.spool`):

- a failing sink's backlog past ``max_queue`` items is spooled by the worker, so memory stays
  bounded however long the sink is down;
- a full queue (the worker is stuck in a hung sink) is spooled by the submitting thread, which
  never blocks on a sink;
- at :meth:`Exporter.close`, whatever a sink has not accepted when ``timeout_s`` runs out is
  spooled from the closing thread, so a hung sink cannot hang the program's exit.
- a batch a sink refuses for good (:class:`~wattprint.errors.ExportRejected`, e.g. a server's
  400) is spooled at once and the sink goes on with the next batch: retried first forever, it
  would hold back everything after it.

While the worker is healthy it also delivers files left in the spool for its own sinks' names
by earlier runs (a bounded number per run), so the spool drains itself on the next run.

Known limit: one worker runs every sink in turn, so a sink that *hangs* (rather than raises)
delays the others until it returns; ``close`` still returns on time and spools what is left.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from ._log import get_logger
from ._struct import dataclass, field
from .errors import ExportRejected
from .records import Heartbeat, Prediction, RunInfo, RunSummary, SpanRecord

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Sequence

    from .sinks import Sink
    from .spool import Spool
    from .wire import Item

__all__ = ["Exporter"]

log = get_logger("wattprint.exporter")

DELIVERED = "delivered"


@dataclass(eq=False)
class _Lane:
    """One sink and everything it has not accepted yet."""

    sink: Sink
    name: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    backlog: list[Item] = field(default_factory=list)
    info_sent: bool = False
    failures: int = 0  # consecutive failed exports
    failed_total: int = 0
    next_try_s: float = 0.0  # clock time of the next retry while failing
    error: str = ""
    spooled: list[Path] = field(default_factory=list)  # this run's spool files not delivered
    lost: list[str] = field(default_factory=list)  # why items could not be kept anywhere
    abandoned: bool = False  # close() took its backlog over; the worker must not touch it
    spool_ok: bool = True  # background delivery of old spool files still worth trying

    @property
    def pending(self) -> bool:
        return bool(self.backlog) or not self.info_sent


@dataclass(frozen=True)
class _Where:
    """Where items handed to the spool went, in words; ``lost`` when they went nowhere."""

    text: str
    lost: bool = False

    def __str__(self) -> str:
        return self.text


def _coalesce(items: Sequence[Item]) -> list[Item]:
    """The batch to send for ``items``: a later span aggregate, heartbeat or prediction replaces
    the earlier one, keeping the later position; stray RunInfos are dropped (the lane sends its
    own)."""
    last: dict[object, int] = {}
    for index, item in enumerate(items):
        if isinstance(item, SpanRecord):
            last[("span", item.run_id, item.span_id)] = index
        elif isinstance(item, Heartbeat):
            last["heartbeat"] = index
        elif isinstance(item, Prediction):
            last[("prediction", item.run_id)] = index
    out: list[Item] = []
    for index, item in enumerate(items):
        if isinstance(item, RunInfo):
            continue
        if isinstance(item, SpanRecord) and last[("span", item.run_id, item.span_id)] != index:
            continue
        if isinstance(item, Heartbeat) and last["heartbeat"] != index:
            continue
        if isinstance(item, Prediction) and last[("prediction", item.run_id)] != index:
            continue
        out.append(item)
    return out


class Exporter:
    """Runs ``sinks`` for one run on a worker thread. See the module docstring.

    ``clock`` (monotonic s) schedules exports, heartbeats and retries; ``wall_clock`` (Unix s)
    stamps heartbeats. The ``close`` timeout is real time: it bounds the program's exit.
    """

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        run_id: str,
        spool: Spool | None = None,
        flush_s: float = 10.0,
        heartbeat_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        max_queue: int = 10_000,
        max_batch: int = 2048,
        backoff_s: tuple[float, float] = (0.5, 60.0),
        deliver_spooled_files: int = 100,
    ) -> None:
        self.run_id = run_id
        self._spool = spool
        self._flush_s = max(0.0, flush_s)
        self._heartbeat_s = heartbeat_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._max_queue = max(1, max_queue)
        self._max_batch = max(1, min(max_batch, self._max_queue))
        self._backoff_s = backoff_s
        self._spool_budget = deliver_spooled_files
        self._lanes = []
        seen: dict[str, int] = {}
        for sink in sinks:
            name = str(getattr(sink, "name", type(sink).__name__))
            seen[name] = seen.get(name, 0) + 1
            # Two sinks of one name would share a spool folder and a delivery entry.
            self._lanes.append(_Lane(sink, name if seen[name] == 1 else f"{name}-{seen[name]}"))

        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._queue: list[Item] = []
        self._poked = False
        self._flush_asked = 0  # flush() calls so far
        self._flush_done = 0  # flush() calls the worker has answered
        self._flush_ok = True
        self._closing = False
        self._close_deadline = 0.0  # time.monotonic()
        self._closed = False
        self._delivery: dict[str, str] | None = None
        self._info: RunInfo | None = None
        self._thread: threading.Thread | None = None
        self._next_export_s = 0.0
        self._next_heartbeat_s = 0.0
        self._warnings: dict[str, str] = {}
        self._spilled = 0
        self._cleaned_spool = False

    # -- the producer's side (any thread; never blocks on a sink, never raises) ------------
    def start(self, info: RunInfo) -> None:
        """Start the worker; every sink's first batch will begin with ``info``."""
        with self._lock:
            if self._thread is not None:
                return
            self._info = info
            now = self._clock()
            self._next_export_s = now  # send the RunInfo now: the store shows the run running
            self._next_heartbeat_s = now  # with the RunInfo: the run has a heartbeat period at once
            self._thread = threading.Thread(
                target=self._run, name=f"wattprint-exporter-{self.run_id[:8]}", daemon=True)
            self._thread.start()

    def submit(self, item: Item) -> None:
        """Queue ``item`` for every sink. O(1); a full queue spills to the spool."""
        try:
            with self._lock:
                if self._closing:
                    log.debug("item submitted after close was dropped: %r", type(item).__name__)
                    return
                self._queue.append(item)
                size = len(self._queue)
                overflow = None
                if size >= self._max_queue:
                    overflow, self._queue = self._queue, []
                elif (size >= self._max_batch or self._flush_s == 0
                      or (size == 1 and self._clock() >= self._next_export_s)):
                    # A full batch, or the first item once an export is overdue (the worker
                    # may be asleep toward a far heartbeat): wake it. Otherwise it wakes on
                    # its own every flush_s, and one wake-up per record is not paid.
                    self._poked = True
                    self._wake.notify()
            if overflow is not None:
                self._spill_queue(overflow)
        except Exception as exc:  # never hurt the caller (the sampler thread)
            log.warning("wattprint exporter: could not queue an item: %r", exc)

    def flush(self, timeout_s: float = 5.0) -> bool:
        """Export everything submitted so far now and wait for it.

        A failing sink is tried only once its backoff has passed. True when every sink accepted
        everything; False when one has not (it keeps its items and is retried later) or
        ``timeout_s`` passed first (a sink is slow or hung).
        """
        with self._wake:
            if self._thread is None or self._closing:
                return not self._queue
            self._flush_asked += 1
            ticket = self._flush_asked
            self._poked = True
            self._wake.notify_all()
            answered = self._wake.wait_for(lambda: self._flush_done >= ticket, timeout=timeout_s)
            return answered and self._flush_ok

    def close(self, summary: RunSummary | None = None, timeout_s: float = 5.0) -> dict[str, str]:
        """Queue ``summary``, flush within ``timeout_s``, spool what is left, close the sinks.

        Returns where each sink's data went: ``"delivered"``, ``"spooled: <path>"`` or
        ``"lost: <why>"``. Calling it again returns the same map.
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._wake:
            if self._delivery is not None or self._closing:
                return dict(self._delivery or {})
            if summary is not None:
                self._queue.append(summary)
            self._closing = True
            self._close_deadline = deadline
            self._poked = True
            self._wake.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                self._warn("hung", "a sink did not return before the exporter's close timeout "
                                   f"({timeout_s:g} s); its data was spooled")
        self._take_over()
        delivery = self._delivery_map()
        with self._lock:
            self._delivery = delivery
            self._closed = True
        return dict(delivery)

    @property
    def warnings(self) -> list[str]:
        """What the run's summary must say: sinks that failed or recovered, data spooled."""
        with self._lock:
            return list(self._warnings.values())

    @property
    def sink_names(self) -> list[str]:
        return [lane.name for lane in self._lanes]

    # -- the worker ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                wait_s = self._due_in_s()
                if wait_s is None or wait_s > 0:
                    self._wake.wait(wait_s)
                self._poked = False
                items, self._queue = self._queue, []
                ticket = self._flush_asked
                closing = self._closing
            try:
                if closing:
                    self._final_round(items)
                    return
                self._cycle(items, force=ticket > self._flush_done)
            except Exception as exc:  # a bug here must not kill exporting for the whole run
                log.exception("wattprint exporter: unexpected error, continuing: %r", exc)
            finally:
                if not closing and ticket > self._flush_done:
                    with self._wake:
                        self._flush_ok = not any(lane.pending for lane in self._lanes)
                        self._flush_done = ticket
                        self._wake.notify_all()

    def _due_in_s(self) -> float | None:
        """Seconds until the worker has something to do (0: now; None: only when woken)."""
        if self._poked or self._closing or self._flush_asked > self._flush_done:
            return 0.0
        now = self._clock()
        dues = [self._next_heartbeat_s] if self._heartbeat_s > 0 else []
        # Woken every flush_s whether or not items wait, so a submit never has to wake it: one
        # wake-up per record would double the tracker's idle cost at a 1 s interval.
        dues.append(self._next_export_s)
        for lane in self._lanes:
            if lane.pending and not lane.abandoned:
                dues.append(lane.next_try_s if lane.failures else self._next_export_s)
        if self._spool_work_left():
            dues.append(now)
        return max(0.0, min(dues) - now) if dues else None

    def _cycle(self, items: list[Item], *, force: bool) -> None:
        now = self._clock()
        self._distribute(items)
        due = force or now >= self._next_export_s
        if self._heartbeat_s > 0 and now >= self._next_heartbeat_s:
            beat = Heartbeat(run_id=self.run_id, at_s=self._wall_clock(), every_s=self._heartbeat_s)
            self._distribute([beat])
            self._next_heartbeat_s = now + self._heartbeat_s
            due = True  # a heartbeat that waits for flush_s could arrive stale
        if due:
            self._next_export_s = now + self._flush_s
        for lane in self._lanes:
            if not lane.pending or lane.abandoned:
                continue
            # A failing sink waits out its backoff even on flush(): a program that flushes
            # every step must not hammer a locked database.
            if now >= lane.next_try_s if lane.failures else due:
                self._export_lane(lane, now)
            self._spill_lane_if_full(lane)
        if not force:
            self._deliver_spooled_once()

    def _final_round(self, items: list[Item]) -> None:
        """At close: one attempt for every sink now, then retries on the backoff schedule for
        as long as the next one still fits before the close deadline (real time: it bounds the
        program's exit). A sink that has failed for long is not retried at all, so a dead
        database does not add seconds to every exit; one that just failed gets its quick retries.
        """
        self._distribute(items)
        margin_s = min(0.5, 0.2 * max(0.0, self._close_deadline - time.monotonic()))
        stop_at = self._close_deadline - margin_s
        retry_at: dict[_Lane, float] = {}
        for lane in self._lanes:
            if lane.pending:
                self._export_lane(lane, self._clock())
                if lane.pending:
                    retry_at[lane] = time.monotonic() + self._retry_delay_s(lane.failures)
        while True:
            due = {lane: at for lane, at in retry_at.items()
                   if at <= stop_at and lane.pending and not lane.abandoned}
            if not due:
                break
            with self._wake:
                self._wake.wait(max(0.0, min(due.values()) - time.monotonic()))
            for lane, at in due.items():
                if time.monotonic() < at:
                    continue
                self._export_lane(lane, self._clock())
                retry_at[lane] = time.monotonic() + self._retry_delay_s(lane.failures)
        # Failing sinks are closed too (they are not hung, or we would not be here); close()
        # spools their backlog afterwards, which needs no sink.
        for lane in self._lanes:
            self._close_sink(lane)
        with self._wake:
            self._flush_ok = not any(lane.pending for lane in self._lanes)
            self._flush_done = self._flush_asked  # a flush() racing close() returns now
            self._wake.notify_all()

    def _distribute(self, items: Sequence[Item]) -> None:
        if not items:
            return
        for lane in self._lanes:
            with lane.lock:
                if not lane.abandoned:
                    lane.backlog.extend(items)

    def _export_lane(self, lane: _Lane, now: float) -> None:
        """Send ``lane``'s backlog in batches until it is empty or the sink fails."""
        info = self._info
        if info is None:
            return
        while True:
            with lane.lock:
                if lane.abandoned or not lane.pending:
                    return
                taken = lane.backlog[: self._max_batch]
            batch = _coalesce(taken)
            if not lane.info_sent:
                batch.insert(0, info)
            try:
                lane.sink.export(batch)
            except ExportRejected as exc:
                self._set_aside(lane, taken, exc)
                continue
            except Exception as exc:
                self._lane_failed(lane, exc, now)
                return
            with lane.lock:
                if lane.abandoned:
                    return  # close() spooled these meanwhile; a redelivery is harmless
                del lane.backlog[: len(taken)]
                lane.info_sent = True
            if lane.failures:
                self._warn(f"sink:{lane.name}",
                           f"sink {lane.name} failed {lane.failed_total} time(s) (last: {lane.error})"
                           " and recovered; its data was kept and delivered")
                lane.failures = 0

    def _set_aside(self, lane: _Lane, taken: list[Item], exc: ExportRejected) -> None:
        """The sink refused this batch for good (a server's 400): retrying it first forever
        would block every later item, so it goes to the spool (kept, visible, re-sendable with
        `wattprint spool deliver`) and the lane carries on with the next batch."""
        with lane.lock:
            if lane.abandoned:
                return
            del lane.backlog[: len(taken)]
            lane.info_sent = True  # the spool file starts with the RunInfo
        where = self._spool_items(lane, taken, why=f"sink {lane.name} rejected them ({exc})")
        with lane.lock:
            lane.spool_ok = False  # resending the file at once would be rejected again
        log.error("wattprint: sink %s rejected a batch of %d items: %s; %s",
                  lane.name, len(taken), exc, where)
        self._warn(f"rejected:{lane.name}", f"sink {lane.name} rejected a batch ({exc}); {where}")

    def _lane_failed(self, lane: _Lane, exc: Exception, now: float) -> None:
        lane.failures += 1
        lane.failed_total += 1
        lane.error = f"{type(exc).__name__}: {exc}"
        lane.next_try_s = now + self._retry_delay_s(lane.failures)
        if lane.failures == 1:
            log.warning("wattprint: sink %s failed (%s); keeping its data and retrying",
                        lane.name, lane.error)
        self._warn(f"sink:{lane.name}", f"sink {lane.name} failed ({lane.error}); its data was "
                                          "kept and retried with backoff")

    def _retry_delay_s(self, failures: int) -> float:
        first_s, cap_s = self._backoff_s
        return float(min(cap_s, first_s * 2 ** min(failures - 1, 30)))

    def _close_sink(self, lane: _Lane) -> None:
        try:
            lane.sink.close()
        except Exception as exc:
            log.warning("wattprint: closing sink %s failed: %r", lane.name, exc)
        # A sink that never raises (a metrics push: its totals are kept, and a spooled batch
        # would be pushed alone, as if it were the whole run) says what went wrong here, so it
        # reaches the summary's warnings instead of a log nobody configured.
        problem = getattr(lane.sink, "problem", None)
        if problem:
            self._warn(f"sink:{lane.name}", f"sink {lane.name}: {problem}")

    # -- spooling --------------------------------------------------------------------------
    def _spill_lane_if_full(self, lane: _Lane) -> None:
        with lane.lock:
            if lane.abandoned or len(lane.backlog) < self._max_queue:
                return
            items, lane.backlog = lane.backlog, []
        where = self._spool_items(lane, items, why=f"sink {lane.name} kept failing ({lane.error})")
        self._warn(f"spilled:{lane.name}",
                   f"sink {lane.name} kept failing ({lane.error}); {where}")

    def _spill_queue(self, items: list[Item]) -> None:
        """The queue is full: the worker is stuck. Spool it for every sink, on this thread."""
        self._spilled += len(items)
        outcomes = [self._spool_items(lane, items, why="the export queue was full")
                    for lane in self._lanes]
        lost = [o.text for o in outcomes if o.lost]
        where = lost[0] if lost else f"{self._spilled} items were spooled to {self._spool_root()}"
        self._warn("overflow", f"the export queue was full ({self._max_queue} items waiting; a sink "
                               f"is slow or hung): {where}")

    def _spool_root(self) -> str:
        return str(self._spool.root) if self._spool is not None else "nowhere"

    def _spool_items(self, lane: _Lane, items: Sequence[Item], *, why: str) -> _Where:
        """Write ``items`` to ``lane``'s spool folder; returns a phrase saying where they went."""
        info = self._info
        kept = [i for i in _coalesce(items) if not isinstance(i, Heartbeat)]
        if not kept and (lane.info_sent or info is None):
            return _Where("nothing needed spooling")
        if self._spool is None or info is None:
            reason = "no spool directory is configured" if info is not None else "never started"
            with lane.lock:
                lane.lost.append(f"{len(kept)} items ({why}; {reason})")
            return _Where(f"{len(kept)} items were lost: {reason}", lost=True)
        try:
            path = self._spool.write(lane.name, info, kept)
        except Exception as exc:
            with lane.lock:
                lane.lost.append(f"{len(kept)} items ({why}; the spool could not be written: "
                                 f"{exc})")
            log.error("wattprint: %d items for sink %s were lost: %s; spool failed: %r",
                      len(kept), lane.name, why, exc)
            return _Where(f"{len(kept)} items were lost: the spool could not be written ({exc})",
                          lost=True)
        with lane.lock:
            lane.spooled.append(path)
            lane.spool_ok = True  # a later recovery may deliver it in the background
        return _Where(f"{len(kept)} items were spooled to {path}; `wattprint spool deliver` sends "
                      "them once the sink works")

    def _take_over(self) -> None:
        """After close's wait: spool whatever each sink has not accepted (any thread)."""
        with self._lock:
            # Left in the queue: submitted after the worker's last look, or the worker is hung.
            queued, self._queue = self._queue, []
        for lane in self._lanes:
            with lane.lock:
                if lane.abandoned:
                    continue
                lane.abandoned = True
                items, lane.backlog = lane.backlog + queued, []
                if not items and lane.info_sent:
                    continue
            why = f"sink {lane.name} had not accepted them by the close timeout"
            if lane.error:
                why += f" (last error: {lane.error})"
            where = self._spool_items(lane, items, why=why)
            self._warn(f"close:{lane.name}", f"sink {lane.name} did not take all of this run's data "
                                             f"({lane.error or 'no answer in time'}); {where}")

    def _spool_work_left(self) -> bool:
        return (self._spool is not None and self._spool_budget > 0
                and any(lane.spool_ok and lane.info_sent and not lane.failures
                        for lane in self._lanes))

    def _deliver_spooled_once(self) -> None:
        """Deliver one spool file of a healthy sink (earlier runs' leftovers), if any."""
        from .spool import DeliveryReport, deliver_claim

        spool = self._spool
        if spool is None or self._spool_budget <= 0:
            return
        if not self._cleaned_spool:
            self._cleaned_spool = True
            try:
                spool.cleanup()
            except OSError as exc:
                log.debug("spool cleanup failed: %r", exc)
        for lane in self._lanes:
            if not (lane.spool_ok and lane.info_sent and not lane.failures and not lane.abandoned):
                continue
            try:
                claim = next(spool.claims(lane.name), None)
            except OSError as exc:
                log.debug("spool of %s unreadable: %r", lane.name, exc)
                claim = None
            if claim is None:
                lane.spool_ok = False  # nothing (left) for this sink
                continue
            self._spool_budget -= 1
            report = DeliveryReport()
            outcome = deliver_claim(claim, lane.sink, report)
            if outcome == "delivered":
                with lane.lock:
                    if claim.original in lane.spooled:
                        lane.spooled.remove(claim.original)
            else:
                lane.spool_ok = False  # retrying the same file every cycle would only spin
                problem = (report.failed or report.unreadable)[0]
                self._warn(f"spool:{lane.name}", f"spooled data for sink {lane.name} could not be "
                                                 f"delivered ({problem[1]}); it stays in {problem[0]}")
            return  # one file per cycle: new records go first

    # -- reporting -------------------------------------------------------------------------
    def _delivery_map(self) -> dict[str, str]:
        out = {}
        for lane in self._lanes:
            with lane.lock:
                lost, spooled = list(lane.lost), list(lane.spooled)
            where = ""
            if spooled:
                more = f" (+{len(spooled) - 1} more in {spooled[0].parent})" if len(spooled) > 1 else ""
                where = f"spooled: {spooled[0]}{more}"
            if lost:
                out[lane.name] = "lost: " + "; ".join(lost) + (f"; the rest {where}" if where else "")
            elif where:
                out[lane.name] = where
            else:
                out[lane.name] = DELIVERED
        return out

    def _warn(self, key: str, message: str) -> None:
        with self._lock:
            self._warnings[key] = message  # the latest word on each problem
