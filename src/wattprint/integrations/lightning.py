"""PyTorch Lightning: a ``Callback`` that tracks ``Trainer.fit()``.

    from wattprint.integrations.lightning import WattprintCallback

    trainer = L.Trainer(max_epochs=3, callbacks=[WattprintCallback(project="cnn")])
    trainer.fit(model, data)   # the logger gains wattprint/energy_j, wattprint/emissions_g ...

What :mod:`wattprint.integrations._common` describes, from these hooks: the run from
``on_fit_start`` (so the sanity check's validation counts) to ``on_train_end``, or
``on_exception`` (``interrupted`` for a KeyboardInterrupt, else ``failed``); ``epoch-N`` from
``on_train_epoch_start`` to ``on_train_epoch_end`` (Lightning validates at an epoch's end before
that hook, so the epoch's ``eval`` is inside it); ``eval`` from ``on_validation_start`` to
``on_validation_end``; steps from ``trainer.global_step``; samples and tokens from each batch
``on_train_batch_end`` receives. The figures are logged with ``log_dict`` at each epoch's end
(``on_epoch=True``), sent to every logger of the trainer (``log_metrics``) every
``log_every_n_steps`` optimizer steps, and once the tracker has stopped, as the run's final
figures at the last step (Lightning refuses ``self.log`` in ``on_train_end``).

Built on ``lightning.pytorch``; where only the older ``pytorch_lightning`` package is installed,
on that (its Trainer accepts only its own Callback class).

Without touching the training script: with the ``lightning_callback`` setting on
(``WATTPRINT_LIGHTNING_CALLBACK=1``), :func:`callbacks_factory`, registered in Lightning's
``lightning.pytorch.callbacks_factory`` entry-point group, adds a callback to every Trainer
(``lightning.pytorch``'s); one the script adds itself takes precedence, so a run is never
tracked twice.
"""

from __future__ import annotations

import importlib

from .._log import get_logger
from . import MissingExtra
from ._common import TrainingRun

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..records import RunSummary
    from ..tracker import Tracker

__all__ = ["WattprintCallback", "callbacks_factory"]

log = get_logger("wattprint.integrations")


def _callback_base() -> Any:
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            return importlib.import_module(name).Callback
        except ImportError as exc:
            if exc.name is not None and exc.name.split(".")[0] != name.split(".")[0]:
                raise  # installed but broken: its own error says more
    raise MissingExtra("PyTorch Lightning", "lightning", "lightning") from None


_Base: Any = _callback_base()


class WattprintCallback(_Base):
    """Track each ``Trainer.fit()`` as one wattprint run (settings: the Tracker's)."""

    def __init__(self, *, tracker: Tracker | None = None, **settings: Any) -> None:
        super().__init__()
        self.run = TrainingRun("Lightning", tracker=tracker, **settings)
        self._last_step = 0
        #: Added by :func:`callbacks_factory`: stands aside for one the script added.
        self.automatic = False

    @property
    def summary(self) -> RunSummary | None:
        """The last training run's summary."""
        return self.run.summary

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.automatic and any(isinstance(c, WattprintCallback) and not c.automatic
                                  for c in getattr(trainer, "callbacks", ())):
            return  # the script's own callback tracks this fit
        self.run.begin()
        self._last_step = int(getattr(trainer, "global_step", 0) or 0)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        # known once the dataloaders are: optimizer steps over max_epochs / max_steps (inf
        # when unbounded, then skipped)
        try:
            total = trainer.estimated_stepping_batches
        except Exception as exc:
            self.run._failed("estimated_stepping_batches", exc)
            return
        self.run.expect(total - self._last_step)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.run.epoch_begin(int(getattr(trainer, "current_epoch", 0) or 0))

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.run.batch(batch)
        step = int(getattr(trainer, "global_step", 0) or 0)
        stepped, self._last_step = step - self._last_step, step
        self.run.steps(stepped)
        every = int(getattr(trainer, "log_every_n_steps", 0) or 0)
        if stepped > 0 and every > 0 and step % every == 0 and self.run.active:
            self._to_loggers(trainer, self.run.figures(), step - 1)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self.run.eval_begin()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        self.run.eval_end()

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        figures = self.run.figures() if self.run.active else {}
        if figures:
            try:
                pl_module.log_dict(figures, on_step=False, on_epoch=True)
            except Exception as exc:
                self.run._failed("log_dict", exc)
        self.run.epoch_end()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if not self.run.active:
            return
        self.run.end()
        self._to_loggers(trainer, self.run.figures(),
                         int(getattr(trainer, "global_step", 0) or 0) - 1)

    def _to_loggers(self, trainer: Any, figures: dict[str, float], step: int) -> None:
        """Straight to every logger (rank 0's write; the others' are no-ops in Lightning), at
        ``step`` counted as Lightning's own logging counts it (the last batch's, from 0), so the
        figures share their rows and x-axis with the loss."""
        if not figures:
            return
        for logger in getattr(trainer, "loggers", None) or ():
            try:
                logger.log_metrics(figures, step=max(step, 0))
            except Exception as exc:
                self.run._failed(f"{type(logger).__name__}.log_metrics", exc)

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.run.end(status="interrupted" if isinstance(exception, KeyboardInterrupt)
                     else "failed")


def callbacks_factory() -> list[Any]:
    """Lightning calls this for every Trainer it makes (entry-point group
    ``lightning.pytorch.callbacks_factory``): a callback when the ``lightning_callback`` setting
    is on, else none. Never raises: a bad setting is logged and the Trainer gets no callback."""
    try:
        from ..config import load_config

        if not load_config().lightning_callback:
            return []
        if _Base is not importlib.import_module("lightning.pytorch").Callback:
            return []  # built on pytorch_lightning: not a callback lightning.pytorch accepts
        callback = WattprintCallback()
    except Exception as exc:
        log.warning("wattprint: no callback for this Lightning Trainer (%s)", exc)
        return []
    callback.automatic = True
    return [callback]
