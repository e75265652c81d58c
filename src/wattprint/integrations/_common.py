"""What the framework callbacks share: the run, its spans, its work units and its figures.

``hf.py``, ``lightning.py`` and ``keras.py`` only translate their framework's events into the
calls of one :class:`TrainingRun`, so the three behave alike:

- the run: a :class:`~wattprint.Tracker` started when training begins and stopped when it ends,
  with status ``failed`` or ``interrupted`` when it ends by an exception (the framework's own
  exception hook where it has one, else the interpreter's exit: see :func:`_stop_at_exit`);
- spans: ``train`` around the whole run, ``train/epoch-N`` (counted from 1, as progress bars
  do) and ``eval`` under whatever is open when an evaluation starts (its instances aggregate:
  count, sum, min, max);
- work: ``steps`` (optimizer steps), ``samples`` (the batch's first dimension) and ``tokens``
  (the batch's ``attention_mask`` summed: non-padding tokens; ``input_ids``' size when it has no
  mask). A mask's sum on an accelerator stays there until the next flush point (a log, an
  epoch's end, an evaluation, the end), so counting never waits on the device;
- figures: ``wattprint/energy_j``, ``wattprint/emissions_g`` and
  ``wattprint/intensity_g_per_kwh`` of the run so far, read from the ``train`` span (one
  measurement on the caller's thread, paid at the framework's log cadence, never per batch).

Nothing here raises into training: every entry point is guarded, a failure is logged once per
kind and the run carries on (untracked if it was starting it that failed).

Distributed launches follow :mod:`wattprint.cluster`: every rank runs its own tracker, which
measures the node's machine-wide devices on local rank 0 only and each GPU on the rank that owns
it, so the job's total is the plain sum of its ranks' runs; each rank counts the work it did.
"""

from __future__ import annotations

import functools
import sys
import weakref

from .._log import get_logger
from ..records import J_PER_KWH

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, TypeVar

    from ..config import Config
    from ..records import RunSummary
    from ..tracker import Span, Tracker

    R = TypeVar("R")

__all__ = ["PREFIX", "TrainingRun", "batch_work"]

log = get_logger("wattprint.integrations")

#: Every key a callback adds to its framework's logs starts with this.
PREFIX = "wattprint/"


def _injected() -> frozenset[str]:
    """The :class:`~wattprint.Tracker` keywords that inject parts (sensors, clocks, sinks,
    ``on_budget`` ...) rather than settings: its named parameters, whatever they become."""
    from ..tracker import Tracker

    code = Tracker.__init__.__code__
    return frozenset(code.co_varnames[1:code.co_argcount + code.co_kwonlyargcount])

_open_runs: weakref.WeakSet[TrainingRun] = weakref.WeakSet()
_exit_hook_installed = False


def _guarded(default: Any = None) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Catch and log once whatever the wrapped bookkeeping raises: training never sees it."""

    def decorate(method: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(method)
        def wrapper(self: TrainingRun, *args: Any, **kwargs: Any) -> R:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                self._failed(method.__name__, exc)
                return default  # type: ignore[no-any-return]

        return wrapper

    return decorate


class TrainingRun:
    """One training run's tracker, spans, work and figures, for any framework's callback.

    ``tracker``: a tracker of the caller's; it is started if it was not, and stopped at the end
    only if this started it. Otherwise each training run gets a new tracker built from
    ``settings`` (the :class:`~wattprint.Tracker` keywords: ``project=``, ``country=`` ... and
    the injected parts), checked here so a bad setting fails when the callback is made.
    """

    def __init__(self, framework: str, *, tracker: Tracker | None = None, **settings: Any) -> None:
        self.framework = framework
        self._given = tracker
        injected = _injected()
        self._settings = {k: v for k, v in settings.items() if k in injected}
        self._plain = {k: v for k, v in settings.items() if k not in injected}
        self._config()  # a bad setting: ConfigError now, naming the key
        self.tracker: Tracker | None = None
        #: The last finished run's summary (None until a run has ended).
        self.summary: RunSummary | None = None
        self._owned = False
        self._active = False
        self._root: Span | None = None
        self._epoch: Span | None = None
        self._eval: Span | None = None
        self._pending_tokens: Any = 0  # an int, or a device-side sum not yet read
        self._said: set[str] = set()

    def _config(self) -> Config:
        """The settings over the environment as it is now: read again when each run begins,
        since a launcher may set the job's variables after the callback was made (Lightning's
        rank 0 sets LOCAL_RANK, WORLD_SIZE ... in its own environment inside ``fit``)."""
        given: Config | None = self._settings.get("config")
        if given is not None:
            return given.with_overrides(self._plain) if self._plain else given
        from ..config import load_config

        return load_config(self._plain)

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether a training run is being tracked now."""
        return self._active

    @_guarded()
    def begin(self) -> None:
        """Training starts: start a tracker and the ``train`` span. A run still open (its
        training raised where the framework has no hook for it) ends first, as failed."""
        if self._active:
            self.end(status="failed")
        from ..tracker import Tracker

        if self._given is not None:
            tracker, self._owned = self._given, self._given.info is None
        else:
            tracker, self._owned = Tracker(**{**self._settings, "config": self._config()}), True
        if self._owned:
            tracker.start()
        self.tracker = tracker
        self.summary = None
        self._pending_tokens = 0
        self._root = tracker.span("train").__enter__()
        self._active = True
        _open_runs.add(self)
        _install_exit_hook()

    @_guarded()
    def end(self, *, status: str = "finished") -> RunSummary | None:
        """Training ends (``status``: finished, failed or interrupted): close the spans, stop the
        tracker (if this started it) and keep its summary."""
        if not self._active:
            return self.summary
        self._active = False
        _open_runs.discard(self)
        tracker = self.tracker
        assert tracker is not None
        try:
            self._settle_work()
        finally:
            for span in (self._eval, self._epoch, self._root):
                if span is not None:
                    span.__exit__(None, None, None)
            self._eval = self._epoch = self._root = None
        if self._owned:
            self.summary = summary = tracker.stop(status=status)
            if summary.warnings:  # estimates and fallbacks are said, not only stored
                log.warning("wattprint: the %s run %s (%s) has figures to read with care: %s",
                            self.framework, summary.run_id[:8], status,
                            "; ".join(summary.warnings))
        return self.summary

    @_guarded()
    def expect(self, total: float | None, unit: str = "steps") -> None:
        """The run will do ``total`` units of ``unit`` in all (the framework's max steps): feeds
        the tracker's prediction and budgets, where this wattprint has them
        (``Tracker.expect``). A total the framework does not know (None, 0, -1, inf) is
        skipped."""
        expect = getattr(self.tracker, "expect", None)
        if not self._active or expect is None or total is None:
            return
        total = float(total)
        if 0 < total < float("inf"):
            expect(total, unit)

    # -- spans --------------------------------------------------------------------------
    @_guarded()
    def epoch_begin(self, index: int) -> None:
        """Epoch ``index`` (counted from 0, as frameworks do) starts."""
        if not self._active or self.tracker is None:
            return
        self._close_epoch()
        self._epoch = self.tracker.span(f"epoch-{index + 1}").__enter__()

    @_guarded()
    def epoch_end(self) -> None:
        if self._active:
            self._close_epoch()

    def _close_epoch(self) -> None:
        self._settle_work()  # the epoch's work goes to the epoch's span
        if self._eval is not None:
            self._close_eval()
        if self._epoch is not None:
            self._epoch.__exit__(None, None, None)
            self._epoch = None

    @_guarded()
    def eval_begin(self) -> None:
        if not self._active or self.tracker is None or self._eval is not None:
            return
        self._settle_work()  # training work counted so far is not the evaluation's
        self._eval = self.tracker.span("eval").__enter__()

    @_guarded()
    def eval_end(self) -> None:
        if self._active and self._eval is not None:
            self._close_eval()

    def _close_eval(self) -> None:
        assert self._eval is not None
        self._eval.__exit__(None, None, None)
        self._eval = None

    @property
    def evaluating(self) -> bool:
        return self._eval is not None

    # -- work -----------------------------------------------------------------------------
    @_guarded()
    def steps(self, n: int = 1) -> None:
        """``n`` optimizer steps were taken."""
        if self._active and n > 0 and self.tracker is not None:
            self.tracker.step(n, "steps")

    @_guarded()
    def batch(self, batch: Any) -> None:
        """A training batch went through the model: count its samples and tokens."""
        if not self._active or self.tracker is None:
            return
        samples, tokens = batch_work(batch)
        if samples:
            self.tracker.step(samples, "samples")
        if tokens is None:
            return
        if isinstance(tokens, int) or _on_host(tokens):
            count = int(tokens)
            if count:
                self.tracker.step(count, "tokens")
        else:  # read at the next flush point: reading it now would wait for the device
            self._pending_tokens = self._pending_tokens + tokens

    def _settle_work(self) -> None:
        pending, self._pending_tokens = self._pending_tokens, 0
        if self.tracker is None:
            return
        count = int(pending.item()) if hasattr(pending, "item") else int(pending)
        if count:
            self.tracker.step(count, "tokens")

    # -- figures ----------------------------------------------------------------------------
    @_guarded(default={})
    def figures(self) -> dict[str, float]:
        """The run's figures so far, keyed for the framework's logs (empty when not tracking).
        After the end: the summary's."""
        if not self._active:
            return self._summary_figures()
        tracker, root = self.tracker, self._root
        if tracker is None or root is None:
            return {}
        self._settle_work()
        return _figures(root.energy_j, root.emissions_g, tracker.pue)

    def _summary_figures(self) -> dict[str, float]:
        summary = self.summary
        if summary is None or self.tracker is None:
            return {}
        return _figures(summary.energy_j.get("total", 0.0), summary.emissions_g, self.tracker.pue)

    # -- failures -------------------------------------------------------------------------
    def say_once(self, key: str, message: str) -> None:
        """Log ``message`` the first time ``key`` comes up (what is not counted, and why)."""
        if key not in self._said:
            self._said.add(key)
            log.warning("wattprint: %s", message)

    def _failed(self, what: str, exc: Exception) -> None:
        if what not in self._said:
            self._said.add(what)
            log.warning("wattprint: the %s callback's %s failed (%r); training goes on%s",
                        self.framework, what, exc,
                        " untracked" if what == "begin" else "")
        if what == "begin":
            self._active = False
            _open_runs.discard(self)


def _figures(energy_j: float, emissions_g: float, pue: float) -> dict[str, float]:
    out = {f"{PREFIX}energy_j": energy_j, f"{PREFIX}emissions_g": emissions_g}
    if energy_j > 0 and pue > 0:
        # the energy-weighted mean over the run (emissions carry the PUE; intensity does not)
        out[f"{PREFIX}intensity_g_per_kwh"] = emissions_g / (energy_j * pue / J_PER_KWH)
    return out


def _on_host(value: Any) -> bool:
    device = getattr(value, "device", None)
    return device is None or getattr(device, "type", "cpu") == "cpu"


_TOKEN_KEYS = ("attention_mask", "input_ids")


def batch_work(batch: Any) -> tuple[int | None, Any]:
    """(samples, tokens) in a batch: samples are the first tensor's first dimension; tokens the
    ``attention_mask`` summed (as a lazy tensor where it is one), else ``input_ids``' size, else
    None. A batch is a mapping (Hugging Face style), a tuple or list (features first), or a
    tensor."""
    if isinstance(batch, dict) or (hasattr(batch, "keys") and hasattr(batch, "__getitem__")):
        mask = batch.get("attention_mask") if hasattr(batch, "get") else None
        ids = batch.get("input_ids") if hasattr(batch, "get") else None
        tokens: Any = None
        if mask is not None and hasattr(mask, "sum"):
            tokens = mask.sum()
        elif ids is not None and _shape(ids):
            tokens = _size(ids)
        first = next((batch[k] for k in _TOKEN_KEYS if batch.get(k) is not None), None)
        if first is None:
            first = next((v for v in batch.values() if _shape(v)), None)
        return _rows(first), tokens
    if isinstance(batch, (tuple, list)):
        for item in batch:
            samples, tokens = batch_work(item)
            if samples is not None:
                return samples, tokens
        return None, None
    return _rows(batch), None


def _shape(value: Any) -> tuple[int, ...]:
    shape = getattr(value, "shape", None)
    try:
        return tuple(int(n) for n in shape) if shape is not None else ()
    except (TypeError, ValueError):  # a symbolic dimension
        return ()


def _rows(value: Any) -> int | None:
    shape = _shape(value)
    return shape[0] if shape else None


def _size(value: Any) -> int:
    size = 1
    for n in _shape(value):
        size *= n
    return size


def _install_exit_hook() -> None:
    """One hook for every callback, registered after the tracker's own (atexit runs the last
    registered first), so a run the framework never ended gets its true status before the
    tracker's hook would call it finished."""
    global _exit_hook_installed
    if not _exit_hook_installed:
        import atexit

        atexit.register(_stop_at_exit)
        _exit_hook_installed = True


def _stop_at_exit() -> None:
    # The interpreter sets sys.last_value when an uncaught exception ended the program.
    died_of = getattr(sys, "last_value", None)
    if isinstance(died_of, KeyboardInterrupt) or died_of is None:
        status = "interrupted"  # stopped, or the program left while training
    else:
        status = "failed"
    for run in list(_open_runs):
        run.end(status=status)
