"""Keras 3: a ``Callback`` that tracks ``model.fit()``.

    from wattprint.integrations.keras import WattprintCallback

    model.fit(x, y, epochs=3, callbacks=[WattprintCallback(project="cnn"), CSVLogger("log.csv")])
    # History, CSVLogger, TensorBoard ... gain wattprint/energy_j, wattprint/emissions_g, ...

What :mod:`wattprint.integrations._common` describes, from these hooks: the run from
``on_train_begin`` to ``on_train_end``; ``epoch-N`` from ``on_epoch_begin`` to ``on_epoch_end``
(``fit`` validates before ``on_epoch_end``, so the epoch's ``eval`` is inside it); ``eval`` from
``on_test_begin`` to ``on_test_end`` while fitting; a step per training batch. Keras hands
callbacks a batch's index, not its data, so samples and tokens are counted by a wrapper around
the model's ``train_step`` for the length of the fit (removed at its end). That needs a
``train_step`` that runs as Python each batch: the torch backend without ``jit_compile``. Under
JAX or TensorFlow, or compiled, it would run once at tracing, so only steps are counted there,
and the log says so once. The figures go into each epoch's
``logs``; callbacks listed after this one (CSVLogger, TensorBoard) and the History see them.

``fit`` has no hook for an exception: a fit that raised leaves its run open until the next fit
(which ends it as ``failed``) or the interpreter's exit (``failed`` if an uncaught exception
ended the program, else ``interrupted``).
"""

from __future__ import annotations

from . import require
from ._common import TrainingRun

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..records import RunSummary
    from ..tracker import Tracker

__all__ = ["WattprintCallback"]

_keras: Any = require("keras", integration="Keras", extra="keras")
_Base: Any = _keras.callbacks.Callback


class WattprintCallback(_Base):
    """Track each ``model.fit()`` as one wattprint run (settings: the Tracker's)."""

    def __init__(self, *, tracker: Tracker | None = None, **settings: Any) -> None:
        super().__init__()
        self.run = TrainingRun("Keras", tracker=tracker, **settings)
        self._wrapped: Any = None

    @property
    def summary(self) -> RunSummary | None:
        """The last training run's summary."""
        return self.run.summary

    def on_train_begin(self, logs: Any = None) -> None:
        self.run.begin()
        if self.run.active:
            self._watch()
            params = getattr(self, "params", None) or {}
            if params.get("epochs") and params.get("steps"):  # steps: None for a generator
                self.run.expect(params["epochs"] * params["steps"])

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.run.epoch_begin(epoch)

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self.run.steps(1)

    def on_test_begin(self, logs: Any = None) -> None:
        self.run.eval_begin()

    def on_test_end(self, logs: Any = None) -> None:
        self.run.eval_end()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        figures = self.run.figures() if self.run.active else {}
        if figures and logs is not None:
            try:
                logs.update(figures)
            except Exception as exc:
                self.run._failed("on_epoch_end", exc)
        self.run.epoch_end()

    def on_train_end(self, logs: Any = None) -> None:
        self.run.end()
        self._unwatch()

    def _watch(self) -> None:
        """Count each batch as ``train_step`` receives it: ``(x, y[, sample_weight])`` or x."""
        self._unwatch()
        model = getattr(self, "model", None)
        original = getattr(model, "train_step", None)
        if model is None or original is None:
            return
        run = self.run
        backend = _keras.backend.backend()
        if backend != "torch" or getattr(model, "jit_compile", False) is True:
            # a traced train_step runs this Python once, not once per batch: counting there
            # would be wrong, so samples and tokens are left out (steps are still counted)
            run.say_once("keras-work", f"samples and tokens are not counted under Keras' "
                         f"{backend} backend with a compiled train_step (only steps are); "
                         "count them with tracker.step() in your data pipeline if needed")
            return

        def train_step(data: Any) -> Any:
            run.batch(data[0] if isinstance(data, tuple) and data else data)
            return original(data)

        try:
            model.train_step = train_step
            self._wrapped = model
        except Exception as exc:
            run._failed("counting batches", exc)

    def _unwatch(self) -> None:
        model, self._wrapped = self._wrapped, None
        if model is not None:
            try:
                del model.train_step  # the class's method again
            except Exception as exc:
                self.run._failed("removing the batch counter", exc)
