"""SROPs in TensorBoard: per training step, a scalar per layer (its mean SROP) and per depth third,
and each layer's exact SROP histogram (``pip install 'srop-onnx[tensorboard]'``: tensorboardX, no
TensorFlow or PyTorch needed).

Tags: ``srop/mean/<layer>``, ``srop/third/<shallow|middle|deep>``, ``srop/std/<layer>`` and the
histograms ``srop/hist/<layer>``, whose buckets are the profile's own: bucket ``k`` ends at
``k / m`` (band units) or ``k / m_input`` (input units) and holds the maps whose roll-off bin is
``k``, so TensorBoard shows the distribution exactly, not a re-binning of it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import UsageError, option
from .profile import Profile

__all__ = ["TensorBoardWriter", "scalars", "step_scalars", "histograms"]


def scalars(profile: Profile, units: str | None = None, thirds: list | None = None) -> dict[str, float]:
    """``{"srop/mean/<layer>": value, ...}`` (and ``srop/third/<third>`` when ``thirds`` is given as
    ``[(label, value)]``): finite numbers only, for ``mlflow.log_metrics``, ``wandb.log`` or a
    Lightning logger."""
    units = units or profile.units
    out = {}
    for lay in profile.layers:
        if lay.stats.count:
            out[f"srop/mean/{lay.name}"] = float(lay.summary(units).mean)
    for label, value in thirds or []:
        if value is not None and math.isfinite(value):
            out[f"srop/third/{label}"] = float(value)
    return out


def step_scalars(profile: Profile, units: str | None = None, thirds: list | None = None) -> dict[str, float]:
    """Every number a logger records at a step: :func:`scalars` (means and thirds) and each live
    layer's ``srop/std/<layer>``."""
    units = units or profile.units
    out = scalars(profile, units, thirds)
    for lay in profile.layers:
        if lay.stats.count:
            out[f"srop/std/{lay.name}"] = float(lay.summary(units).std)
    return out


def histograms(profile: Profile, units: str | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{layer: (counts, edges)}``: each live layer's exact SROP histogram as ``numpy.histogram``
    gives one (``len(edges) == len(counts) + 1``): bucket ``k`` holds the maps whose roll-off bin is
    ``k`` and spans ``((k - 1) / m, k / m]`` (``m_input`` in input units), ending at ``k / m`` as
    TensorBoard's buckets do."""
    units = units or profile.units
    out = {}
    for lay in profile.layers:
        st = lay.stats
        if st.count:
            counts = np.asarray(st.histogram, dtype=np.int64)
            edges = (np.arange(counts.size + 1, dtype=np.float64) - 1.0) / float(st.denom(units))
            out[lay.name] = (counts, edges)
    return out


class TensorBoardWriter:
    """Writes a track's steps as TensorBoard events under ``logdir``: one event file, written and
    flushed per step on the calling thread (tensorboardX's event protocol, without its background
    writer thread), so a disk that says no is one line here, never a traceback from a thread."""

    def __init__(self, logdir: "str | Path"):
        try:
            from tensorboardX.event_file_writer import EventsWriter
        except ImportError:
            raise UsageError(f"{option('tensorboard')} needs tensorboardX, which is not installed; "
                             "pip install 'srop-onnx[tensorboard]'") from None
        import os
        import tempfile

        from ..files.remote import is_url

        self._logdir = logdir
        self._bucket = str(logdir).rstrip("/") if is_url(str(logdir)) else None
        self._local = tempfile.TemporaryDirectory(prefix="srop-onnx-tb-") if self._bucket else None
        folder = self._local.name if self._local else str(logdir)  # a bucket: the file is kept here, PUT whole
        try:
            os.makedirs(folder, exist_ok=True)
            self._writer = EventsWriter(os.path.join(folder, "events"))
        except OSError as exc:
            raise UsageError(f"{option('tensorboard')} {logdir}: cannot write there ({exc.strerror or exc}); choose another "
                             "folder") from None

    def add(self, step: int, profile: Profile, units: str, thirds: list) -> None:
        """One step: scalars and the exact histograms (a disk that says no is one line)."""
        from ..errors import OutputError

        try:
            self._add(step, profile, units, thirds)
        except OSError as exc:
            raise OutputError(f"{option('tensorboard')} {self._logdir}: cannot write the events ({exc.strerror or exc}); free "
                              "space there or choose another folder (the track itself is written)") from None

    def _add(self, step: int, profile: Profile, units: str, thirds: list) -> None:
        import time

        from tensorboardX.proto.event_pb2 import Event
        from tensorboardX.summary import histogram_raw, scalar

        summaries = [scalar(tag, value) for tag, value in step_scalars(profile, units, thirds).items()]
        for name, (hist, edges) in histograms(profile, units).items():
            values = edges[1:]  # bucket k ends at k / m: the roll-off value of its maps
            summaries.append(histogram_raw(f"srop/hist/{name}", min=float(values[np.nonzero(hist)[0][0]]),
                                           max=float(values[np.nonzero(hist)[0][-1]]), num=int(hist.sum()),
                                           sum=float(np.dot(hist, values)), sum_squares=float(np.dot(hist, values ** 2)),
                                           bucket_limits=values.tolist(), bucket_counts=hist.tolist()))
        now = time.time()
        for summary in summaries:
            self._writer.write_event(Event(wall_time=now, step=int(step), summary=summary))
        self._writer.flush()
        if self._bucket is not None:  # TensorBoard reads log folders in buckets: the whole file, one PUT a step
            from pathlib import Path as _Path

            from ..files.bucket_writes import write_bytes

            for events in _Path(self._local.name).glob("events.out.tfevents.*"):  # the one file this writer keeps
                write_bytes(f"{self._bucket}/{events.name}", events.read_bytes())

    def close(self) -> None:
        try:
            self._writer.close()
        except OSError:  # the error was told when the step was written; tensorboardX's close stopped at its flush:
            try:  # close the file all the same, its unwritten bytes dropped (else Python flushes them again when
                self._writer._py_recordio_writer.close()  # it collects the file, and prints that failure at exit)
            except (OSError, AttributeError):
                pass
        if self._local is not None:
            self._local.cleanup()
