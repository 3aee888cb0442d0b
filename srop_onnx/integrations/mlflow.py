"""SROPs in MLflow: a logger for :class:`srop_onnx.Tracker` and the training callbacks
(``pip install 'srop-onnx[mlflow]'``; docs/training.md)::

    import mlflow, srop_onnx
    from srop_onnx.integrations.mlflow import MlflowLogger
    with mlflow.start_run():
        with srop_onnx.Tracker("track/", "val_images/", loggers=[MlflowLogger()]) as tk:
            for epoch in range(20):
                train_one_epoch(model)
                tk.add(epoch, model, example=x[:1], metrics={"val_acc": acc})

At each step: the metrics ``srop/mean/<layer>``, ``srop/std/<layer>`` and ``srop/third/<third>``
at that step (MLflow keys keep letters, digits, ``_ - . / `` and spaces: other characters of a
layer name become ``_``), and the step's profile as an artifact; at ``close()`` the whole track
(``track.json`` and every step's profile) under ``artifact_path``. MLflow keeps no histograms: the
exact ones are in the profiles.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ..errors import UsageError

__all__ = ["MlflowLogger", "metric_key"]

_KEY = re.compile(r"[^A-Za-z0-9_\-./ ]")


def metric_key(name: str) -> str:
    """``name`` as an MLflow metric key (characters MLflow refuses become ``_``)."""
    return _KEY.sub("_", name)[:250]


def _mlflow():
    try:
        import mlflow
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise UsageError("MlflowLogger needs mlflow, which is not installed; pip install 'srop-onnx[mlflow]'") from None
    return mlflow, MlflowClient


class MlflowLogger:
    """Log a track's steps to an MLflow run: ``run_id`` (default: the active run when the first
    step is logged), on the tracking server of ``tracking_uri`` (default: MLflow's own setting)."""

    def __init__(self, run_id: str | None = None, *, tracking_uri: str | None = None,
                 artifact_path: str = "srop-track"):
        mlflow, client_class = _mlflow()
        self._mlflow = mlflow
        self.client = client_class(tracking_uri) if tracking_uri else client_class()
        self.run_id = run_id
        self.artifact_path = artifact_path.strip("/") or "srop-track"

    def _run(self) -> str:
        if self.run_id is None:
            active = self._mlflow.active_run()
            if active is None:
                raise UsageError("MlflowLogger: no MLflow run is active; start one (with mlflow.start_run(): ...) "
                                 "or give MlflowLogger(run_id=...)")
            self.run_id = active.info.run_id
        return self.run_id

    def log_step(self, step: int, profile, scalars: dict, histograms: dict, metrics: dict) -> None:
        from mlflow.entities import Metric

        run = self._run()
        now = int(time.time() * 1000)
        batch = [Metric(metric_key(k), float(v), now, int(step)) for k, v in scalars.items()]
        for i in range(0, len(batch), 1000):  # MLflow takes at most 1,000 metrics a call
            self.client.log_batch(run, metrics=batch[i:i + 1000])
        from ._steps import profile_file_of

        with profile_file_of(step, profile) as path:
            self.client.log_artifact(run, str(path), f"{self.artifact_path}/profiles")

    def log_track(self, folder, track) -> None:
        from ._steps import track_folder

        with track_folder(track) as local:
            self.client.log_artifacts(self._run(), str(Path(local)), self.artifact_path)
