"""A Lightning callback that tracks SROPs during ``trainer.fit`` (docs/training.md)::

    from srop_onnx.integrations.lightning import SropCallback
    trainer = L.Trainer(max_epochs=20, callbacks=[SropCallback("track/", "val_images/")])

On the rank-zero process only. The step is the trainer's own ``global_step`` (the optimizer steps
taken), the axis its logger draws ``train_loss`` on: the model when fitting starts (step 0, or the
restored step of ``trainer.fit(..., ckpt_path=...)``), then after every ``every_n_epochs`` epochs
(default 1, and the last one) and, with ``every_n_steps``, every that many optimizer steps. A step
already in the track (a resumed run reaching it again) is not measured twice. The module is
exported with the TorchScript exporter from ``example`` (default: the module's
``example_input_array``), under ``eval()`` and ``no_grad()``, its training mode restored after.
Each step's mean SROP per layer goes to ``trainer.logger`` as ``srop/mean/<layer>`` at that step,
and the trainer's logged numbers at that moment (``trainer.callback_metrics``: ``train_loss``,
``val_acc``, ...) are kept with the step in the track (``metrics=False``: not kept).
"""

from __future__ import annotations

from typing import Any

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the standalone package
    from pytorch_lightning.callbacks import Callback

from ..run.tracking import Tracker
from ._steps import every_option, logged_metrics

__all__ = ["SropCallback"]


class SropCallback(Callback):
    """Add the LightningModule to a :class:`~srop_onnx.Tracker` at the trainer's steps
    (``options``: :func:`srop_onnx.analyze`'s keywords, and ``tensorboard=LOGDIR``); ``every`` is
    the older spelling of ``every_n_epochs``."""

    def __init__(self, out, inputs, *, example=None, every_n_epochs: "int | None" = 1,
                 every_n_steps: "int | None" = None, every: "int | None" = None, metrics: bool = True,
                 **options: Any):
        super().__init__()
        self.metrics = bool(metrics)
        self.every_n_epochs = every_option(every if every is not None else every_n_epochs, "every_n_epochs")
        self.every_n_steps = every_option(every_n_steps, "every_n_steps")
        self.example = example
        self._args = (out, inputs, options)
        self.tracker: Tracker | None = None
        self.profiles: dict[int, Any] = {}

    def _add(self, trainer, module) -> None:
        if not trainer.is_global_zero:
            return
        if self.tracker is None:
            out, inputs, options = self._args
            self.tracker = Tracker(out, inputs, **options)
        step = int(trainer.global_step)
        if step in self.profiles:
            return
        example = self.example if self.example is not None else getattr(module, "example_input_array", None)
        if example is not None and hasattr(example, "to"):
            example = example.to(module.device)
        logged = logged_metrics(trainer.callback_metrics) if self.metrics else None
        profile = self.tracker.add(step, module, example=example, metrics=logged)  # a step already there is kept
        self.profiles[step] = profile
        if trainer.logger is not None:
            trainer.logger.log_metrics(self.tracker.scalars(profile), step=step)

    def on_train_start(self, trainer, pl_module):  # after a checkpoint's weights and step are restored
        self._add(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.every_n_steps and trainer.global_step and trainer.global_step % self.every_n_steps == 0:
            self._add(trainer, pl_module)

    def on_train_epoch_end(self, trainer, pl_module):
        epoch = trainer.current_epoch + 1
        last = trainer.max_epochs is not None and epoch == trainer.max_epochs
        if last or (self.every_n_epochs and epoch % self.every_n_epochs == 0):
            self._add(trainer, pl_module)

    def on_fit_end(self, trainer, pl_module):
        if self.tracker is not None:
            self.tracker.close()
