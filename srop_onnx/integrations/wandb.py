"""SROPs in Weights & Biases: a logger for :class:`srop_onnx.Tracker` and the training callbacks
(``pip install 'srop-onnx[wandb]'``; docs/training.md)::

    import wandb, srop_onnx
    from srop_onnx.integrations.wandb import WandbLogger
    run = wandb.init(project="digits")
    with srop_onnx.Tracker("track/", "val_images/", loggers=[WandbLogger(run)]) as tk:
        ...

At each step, one ``run.log(..., step=step)`` of ``srop/mean/<layer>``, ``srop/std/<layer>``,
``srop/third/<third>`` and the exact histograms ``srop/hist/<layer>``
(``wandb.Histogram(np_histogram=(counts, edges))``: bucket ``k`` ends at ``k / m``, as in
TensorBoard; W&B draws at most 512 buckets, so a layer with more roll-off bins has neighbouring
buckets added in pairs, and so on, until it fits). At ``close()`` the track (``track.json`` and every
step's profile) as an artifact of type ``srop-track``.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError

__all__ = ["WandbLogger", "fit_buckets", "MAX_BUCKETS"]

#: the most buckets a W&B histogram holds
MAX_BUCKETS = 512


def _wandb():
    try:
        import wandb
    except ImportError:
        raise UsageError("WandbLogger needs wandb, which is not installed; pip install 'srop-onnx[wandb]'") from None
    return wandb


def fit_buckets(counts: np.ndarray, edges: np.ndarray, most: int = MAX_BUCKETS) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, edges)`` with neighbouring buckets added in groups of 2, 4, ... until at most
    ``most`` remain (the counts' total and the outer edges are kept)."""
    counts, edges = np.asarray(counts), np.asarray(edges)
    group = 1
    while -(-counts.size // group) > most:
        group *= 2
    if group == 1:
        return counts, edges
    pad = (-counts.size) % group
    summed = np.concatenate([counts, np.zeros(pad, counts.dtype)]).reshape(-1, group).sum(axis=1)
    kept = edges[::group]
    if kept[-1] != edges[-1]:
        kept = np.append(kept, edges[-1])
    return summed, kept


class WandbLogger:
    """Log a track's steps to a W&B run (default: ``wandb.run``, the one ``wandb.init`` started,
    looked up when the first step is logged); ``artifact_name`` names the track's artifact."""

    def __init__(self, run=None, *, artifact_name: str = "srop-track"):
        self._wandb = _wandb()
        self.run = run
        self.artifact_name = artifact_name

    def _run(self):
        if self.run is None:
            self.run = self._wandb.run
            if self.run is None:
                raise UsageError("WandbLogger: no W&B run; call wandb.init(...) first or give WandbLogger(run)")
        return self.run

    def log_step(self, step: int, profile, scalars: dict, histograms: dict, metrics: dict) -> None:
        data = dict(scalars)
        for name, (counts, edges) in histograms.items():
            data[f"srop/hist/{name}"] = self._wandb.Histogram(np_histogram=fit_buckets(counts, edges))
        self._run().log(data, step=int(step))

    def log_track(self, folder, track) -> None:
        from ._steps import track_folder

        with track_folder(track) as local:
            artifact = self._wandb.Artifact(self.artifact_name, type="srop-track")
            artifact.add_dir(str(local))
            self._run().log_artifact(artifact)
