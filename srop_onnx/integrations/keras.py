"""A Keras 3 callback that tracks SROPs during ``model.fit`` (docs/training.md)::

    from srop_onnx.integrations.keras import SropCallback
    model.fit(x, y, epochs=20, callbacks=[SropCallback("track/", "val_images/")])

The step is the optimizer's ``iterations`` (the training steps taken, which a second ``fit``, a
fine-tuning run or ``initial_epoch=`` with a restored optimizer continue): the model when a fit
starts, then after every ``every_n_epochs`` epochs (default 1, and the last one) and, with
``every_n_steps``, every that many steps. A step already in the track (a second ``fit`` starting
where the first ended) is not measured twice. Each step's mean SROP per layer is added to the
epoch's ``logs`` as ``srop/mean/<layer>`` (so a ``TensorBoard`` or ``CSVLogger`` callback after this
one records them), and the epoch's other logged numbers (``loss``, ``val_accuracy``, ...) are kept
with the step in the track (``metrics=False``: not kept). The model is exported with
``model.export(format="onnx")``.
"""

from __future__ import annotations

from typing import Any

import keras

from ..run.tracking import Tracker
from ._steps import every_option, logged_metrics

__all__ = ["SropCallback"]


class SropCallback(keras.callbacks.Callback):
    """Add the model to a :class:`~srop_onnx.Tracker` at the optimizer's steps (``options``:
    :func:`srop_onnx.analyze`'s keywords, and ``tensorboard=LOGDIR``); ``every`` is the older
    spelling of ``every_n_epochs``."""

    def __init__(self, out, inputs, *, every_n_epochs: "int | None" = 1, every_n_steps: "int | None" = None,
                 every: "int | None" = None, metrics: bool = True, **options: Any):
        super().__init__()
        self.metrics = bool(metrics)
        self.every_n_epochs = every_option(every if every is not None else every_n_epochs, "every_n_epochs")
        self.every_n_steps = every_option(every_n_steps, "every_n_steps")
        self.tracker = Tracker(out, inputs, **options)
        self.profiles: dict[int, Any] = {}

    def _step(self) -> int:
        optimizer = getattr(self.model, "optimizer", None)
        iterations = getattr(optimizer, "iterations", None)
        return int(keras.ops.convert_to_numpy(iterations)) if iterations is not None else 0

    def _add(self, logs: dict | None) -> None:
        step = self._step()
        profile = self.profiles.get(step)
        if profile is None:
            logged = logged_metrics(logs) if self.metrics else None
            profile = self.tracker.add(step, self.model, metrics=logged)  # a step already there is kept
            self.profiles[step] = profile
        if logs is not None:
            logs.update(self.tracker.scalars(profile))

    def on_train_begin(self, logs=None):
        self._add(logs)

    def on_train_batch_end(self, batch, logs=None):
        if self.every_n_steps and self._step() % self.every_n_steps == 0:
            self._add(None)

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") if isinstance(self.params, dict) else None
        if (last is not None and epoch + 1 == last) or (self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0):
            self._add(logs)

    def on_train_end(self, logs=None):
        self.tracker.close()
