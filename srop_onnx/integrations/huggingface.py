"""A Hugging Face ``transformers`` callback that tracks SROPs during ``Trainer.train()`` for vision
models (``pip install 'srop-onnx[huggingface]'``; docs/training.md)::

    from srop_onnx.integrations.huggingface import SropCallback
    trainer = Trainer(model=model, args=args, train_dataset=train,
                      callbacks=[SropCallback("track/", val_pixels)])

On the main process only. The step is the trainer's own ``state.global_step``: the model when
training starts (step 0, or the step a run resumed with ``resume_from_checkpoint`` restored), then
after every ``every_n_epochs`` epochs (default 1) and, with ``every_n_steps``, every that many
optimizer steps; a step already in the track is not measured twice. The model is exported with the
TorchScript exporter, its forward called with ``example`` as its first argument (the image batch,
``pixel_values``; default: the first sample of ``inputs`` when they are arrays, tensors or a data
loader), on the model's device, under
``eval()`` and ``no_grad()``, its training mode restored after. The trainer's latest
logged numbers (``loss``, ``eval_accuracy``, ...) are kept with each step, and ``loggers``
(:class:`~srop_onnx.integrations.mlflow.MlflowLogger`, :class:`~srop_onnx.integrations.wandb.WandbLogger`)
receive every step.
"""

from __future__ import annotations

from typing import Any

try:
    from transformers import TrainerCallback
except ImportError:  # pragma: no cover - the extra says how
    from ..errors import UsageError

    raise UsageError("the Hugging Face callback needs transformers, which is not installed; "
                     "pip install 'srop-onnx[huggingface]'") from None

from ..run.tracking import Tracker
from ._steps import every_option, logged_metrics

__all__ = ["SropCallback"]


def _latest(log_history: list) -> dict:
    """The trainer's latest value of every number it logged (``step`` left out)."""
    merged: dict = {}
    for entry in log_history or []:
        merged.update({k: v for k, v in entry.items() if k != "step"})
    return merged


class SropCallback(TrainerCallback):
    """Add the trainer's model to a :class:`~srop_onnx.Tracker` at its global steps (``options``:
    :func:`srop_onnx.analyze`'s keywords, ``tensorboard=LOGDIR``, ``loggers=[...]``, ``name=``)."""

    def __init__(self, out, inputs, *, example=None, every_n_epochs: "int | None" = 1,
                 every_n_steps: "int | None" = None, metrics: bool = True, **options: Any):
        self.every_n_epochs = every_option(every_n_epochs, "every_n_epochs")
        self.every_n_steps = every_option(every_n_steps, "every_n_steps")
        self.metrics = bool(metrics)
        self.example = example
        self._args = (out, inputs, options)
        self.tracker: Tracker | None = None
        self.profiles: dict[int, Any] = {}

    def _example(self):
        """``example=``, else None: the tracker exports from its inputs' first sample (arrays, tensors,
        a data loader); files and images need one."""
        from ..inputs.memory import example_of

        held = None if self.tracker is None else self.tracker.inputs  # None: a loader read at the first step
        if self.example is None and held is not None and example_of(held) is None:
            from ..errors import UsageError

            raise UsageError("SropCallback: give example= (one input batch, e.g. pixel_values[:1]) when the inputs "
                             "are files or images")
        return self.example

    def _add(self, state, model) -> None:
        if not state.is_world_process_zero or model is None:
            return
        if self.tracker is None:
            out, inputs, options = self._args
            self.tracker = Tracker(out, inputs, **options)
        step = int(state.global_step)
        if step in self.profiles:
            return
        logged = logged_metrics(_latest(state.log_history)) if self.metrics else None
        self.profiles[step] = self.tracker.add(step, model, example=self._example(), metrics=logged)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self._add(state, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if self.every_n_steps and state.global_step and state.global_step % self.every_n_steps == 0:
            self._add(state, model)

    def on_epoch_end(self, args, state, control, model=None, **kwargs):
        epoch = round(state.epoch or 0)
        last = args.num_train_epochs is not None and epoch >= int(args.num_train_epochs)
        if last or (self.every_n_epochs and epoch and epoch % self.every_n_epochs == 0):
            self._add(state, model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self.tracker is not None:
            self.tracker.close()
