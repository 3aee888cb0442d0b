"""A Lightning callback that tracks SROPs during ``trainer.fit`` (docs/training.md)::

    from srop_onnx.integrations.lightning import SropCallback
    trainer = L.Trainer(max_epochs=20, callbacks=[SropCallback("track/", "val_images/", every=1)])

On the rank-zero process only: step 0 is the model before training (``on_fit_start``), step ``e``
the model after epoch ``e`` (1-based), every ``every`` epochs and at the last one. The module is
exported with the TorchScript exporter from ``example`` (default: the module's
``example_input_array``), under ``eval()`` and ``no_grad()``, its training mode restored after.
Each step's mean SROP per layer goes to ``trainer.logger`` as ``srop/mean/<layer>``.
"""

from __future__ import annotations

from typing import Any

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the standalone package
    from pytorch_lightning.callbacks import Callback

from ..run.tracking import Tracker

__all__ = ["SropCallback"]


class SropCallback(Callback):
    """Add the LightningModule to a :class:`~srop_onnx.Tracker` at the start of fitting and every
    ``every`` epochs (``options``: :func:`srop_onnx.analyze`'s keywords, and ``tensorboard=LOGDIR``)."""

    def __init__(self, out, inputs, *, example=None, every: int = 1, **options: Any):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every, self.example = int(every), example
        self._args = (out, inputs, options)
        self.tracker: Tracker | None = None
        self.profiles: dict[int, Any] = {}

    def _add(self, trainer, module, step: int) -> None:
        if not trainer.is_global_zero:
            return
        if self.tracker is None:
            out, inputs, options = self._args
            self.tracker = Tracker(out, inputs, **options)
        example = self.example if self.example is not None else getattr(module, "example_input_array", None)
        if example is not None and hasattr(example, "to"):
            example = example.to(module.device)
        profile = self.tracker.add(step, module, example=example)
        self.profiles[step] = profile
        if trainer.logger is not None:
            trainer.logger.log_metrics(self.tracker.scalars(profile), step=step)

    def on_fit_start(self, trainer, pl_module):
        self._add(trainer, pl_module, 0)

    def on_train_epoch_end(self, trainer, pl_module):
        epoch = trainer.current_epoch + 1
        if epoch % self.every == 0 or epoch == trainer.max_epochs:
            self._add(trainer, pl_module, epoch)

    def on_fit_end(self, trainer, pl_module):
        if self.tracker is not None:
            self.tracker.close()
