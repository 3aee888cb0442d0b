"""A Keras 3 callback that tracks SROPs during ``model.fit`` (docs/training.md)::

    from srop_onnx.integrations.keras import SropCallback
    model.fit(x, y, epochs=20, callbacks=[SropCallback("track/", "val_images/", every=1)])

Step 0 is the model before training (``on_train_begin``); step ``e`` is the model after epoch ``e``
(1-based), every ``every`` epochs and at the last one. Each step's mean SROP per layer is added to
the epoch's ``logs`` as ``srop/mean/<layer>`` (so a ``TensorBoard`` or ``CSVLogger`` callback after
this one records them). The model is exported with ``model.export(format="onnx")``.
"""

from __future__ import annotations

from typing import Any

import keras

from ..run.tracking import Tracker

__all__ = ["SropCallback"]


class SropCallback(keras.callbacks.Callback):
    """Add the model to a :class:`~srop_onnx.Tracker` at the start of training and every ``every``
    epochs (``options``: :func:`srop_onnx.analyze`'s keywords, and ``tensorboard=LOGDIR``)."""

    def __init__(self, out, inputs, *, every: int = 1, **options: Any):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = int(every)
        self.tracker = Tracker(out, inputs, **options)
        self.profiles: dict[int, Any] = {}

    def _add(self, step: int, logs: dict | None) -> None:
        profile = self.tracker.add(step, self.model)
        self.profiles[step] = profile
        if logs is not None:
            logs.update(self.tracker.scalars(profile))

    def on_train_begin(self, logs=None):
        self._add(0, logs)

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") if isinstance(self.params, dict) else None
        if (epoch + 1) % self.every == 0 or (last is not None and epoch + 1 == last):
            self._add(epoch + 1, logs)

    def on_train_end(self, logs=None):
        self.tracker.close()
