"""Hugging Face Transformers: a ``TrainerCallback`` that tracks ``Trainer.train()``.

    from wattprint.integrations.hf import WattprintCallback, attach

    trainer = Trainer(model=model, args=args, train_dataset=data,
                      callbacks=[WattprintCallback(project="bert")])
    trainer.train()   # logs gain wattprint/energy_j, wattprint/emissions_g, ...

What :mod:`wattprint.integrations._common` describes, from these events: the run from
``on_train_begin`` to ``on_train_end``; ``epoch-N`` from ``on_epoch_begin`` to
``on_epoch_end``; ``eval`` from an evaluation's first prediction step to ``on_evaluate`` (the
Trainer has no event before an evaluation's first batch, so that batch is the epoch's); steps
from ``state.global_step``; samples and tokens from each training batch, seen by a forward
pre-hook on the model (removed at the end; evaluation batches, run in eval mode, are not
counted); the figures on every ``on_log``, into ``logs`` and the ``log_history`` entry the
Trainer has just written.

``report_to`` cannot name wattprint: transformers resolves it from a fixed table of built-in
names (``INTEGRATION_TO_CALLBACK``) with no plugin mechanism, so the callback goes in
``callbacks=``. The Trainer calls callbacks in order, the ``report_to`` ones first, so keys a
user callback adds in ``on_log`` reach the printed logs and ``log_history`` but not
TensorBoard, W&B or MLflow; :func:`attach` puts the callback ahead of them, with the Trainer's
own ``pop_callback`` / ``add_callback``.
"""

from __future__ import annotations

from . import require
from ._common import TrainingRun

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..records import RunSummary
    from ..tracker import Tracker

__all__ = ["WattprintCallback", "attach"]

_transformers: Any = require("transformers", integration="Hugging Face", extra="hf")
_Base: Any = _transformers.TrainerCallback


class WattprintCallback(_Base):
    """Track each ``Trainer.train()`` as one wattprint run (settings: the Tracker's)."""

    def __init__(self, *, tracker: Tracker | None = None, **settings: Any) -> None:
        self.run = TrainingRun("Hugging Face", tracker=tracker, **settings)
        self._hook: Any = None
        self._last_step = 0

    @property
    def summary(self) -> RunSummary | None:
        """The last training run's summary."""
        return self.run.summary

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       **kwargs: Any) -> None:
        self.run.begin()
        self._last_step = int(getattr(state, "global_step", 0) or 0)  # resumed: not ours
        if self.run.active:
            self._watch(model)
            self.run.expect(int(getattr(state, "max_steps", 0) or 0) - self._last_step)

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        # state.epoch is the epochs done so far (fractional when resumed mid-epoch)
        self.run.epoch_begin(int((getattr(state, "epoch", 0) or 0) + 1e-9))

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.run.epoch_end()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        step = int(getattr(state, "global_step", 0) or 0)
        self.run.steps(step - self._last_step)
        self._last_step = step

    def on_prediction_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.run.evaluating:
            self.run.eval_begin()

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.run.eval_end()

    def on_predict(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.run.eval_end()

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None,
               **kwargs: Any) -> None:
        figures = self.run.figures() if self.run.active else {}
        if not figures or logs is None:
            return
        try:
            logs.update(figures)
            history = getattr(state, "log_history", None)
            if history:  # Trainer.log appended a copy of logs just before this event
                history[-1].update(figures)
        except Exception as exc:
            self.run._failed("on_log", exc)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.run.end()
        self._unwatch()

    def _watch(self, model: Any) -> None:
        """Count each training batch where the model sees it (callbacks never get batches)."""
        self._unwatch()
        register = getattr(model, "register_forward_pre_hook", None)
        if register is None:
            return
        run = self.run

        def count_batch(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if module.training:  # evaluation runs in eval mode
                run.batch(kwargs if kwargs else (args[0] if args else None))

        try:
            self._hook = register(count_batch, with_kwargs=True)
        except Exception as exc:
            run._failed("counting batches", exc)

    def _unwatch(self) -> None:
        hook, self._hook = self._hook, None
        if hook is not None:
            try:
                hook.remove()
            except Exception as exc:
                self.run._failed("removing the batch hook", exc)


def attach(trainer: Any, callback: WattprintCallback | None = None,
           **settings: Any) -> WattprintCallback:
    """Add a callback (``callback``, else a new one from ``settings``) to ``trainer`` ahead of
    its reporting callbacks, so the figures reach TensorBoard, W&B, MLflow ... too."""
    mine = callback if callback is not None else WattprintCallback(**settings)
    flow = _transformers.trainer_callback.DefaultFlowCallback
    later = [c for c in trainer.callback_handler.callbacks
             if c is not mine and not isinstance(c, flow)]
    if mine in trainer.callback_handler.callbacks:
        trainer.pop_callback(mine)
    for other in later:
        trainer.pop_callback(other)
    trainer.add_callback(mine)
    for other in later:
        trainer.add_callback(other)
    return mine
