"""Raw-waveform inputs: WAV files to model-ready signals (voice-activity detectors, mel front ends).

A model whose input is ``(N, samples)`` (layout ``NL``) or ``(N, C, samples)`` (``NCL``) is fed
from ``.npy``/``.npz`` arrays as they are, or from WAV files (read by :func:`srop_onnx.model.modelio.read_wav`):
integer PCM scaled to [-1, 1], channels averaged for one-channel models, and the length made the
model's (or ``--size L``): longer files are cut to their first L samples, shorter ones zero-padded
at the end. Every file of a run must have the run's sample rate (``--sample-rate``, else the
first audio file's): another rate is a bad input, never resampled silently.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InputDataError, UsageError, option
from ..files.filetypes import AUDIO_SUFFIXES

__all__ = ["AUDIO_SUFFIXES", "AudioPrep", "make_audio_prep", "audio_to_input"]


#: the longest waveform (in samples) one input may have
MAX_LENGTH = 2**28


@dataclass(frozen=True)
class AudioPrep:
    """How WAV files become inputs: the run's sample rate (None until the first file sets it) and
    length in samples (None: each file's own, which must then agree)."""

    sample_rate: int | None
    length: int | None

    def to_dict(self) -> dict:
        return {"audio": True, **asdict(self)}


def make_audio_prep(spec, sample_rate: int | None, size: tuple[int, int] | None) -> AudioPrep:
    """The audio preprocessing of a rank-2/3 model input: its static length, else ``--size L``."""
    static = spec.spatial[0] if spec.spatial else None
    length = int(static) if static else (int(size[0]) if size else None)
    if length is not None and length > MAX_LENGTH:
        raise UsageError(f"{option('size')} {length}: waveforms longer than {MAX_LENGTH} samples are refused; cut them first")
    if static and size and int(size[0]) != int(static):
        raise UsageError(f"{option('size')} {size[0]} does not match the model's fixed input length {static}")
    return AudioPrep(sample_rate, length)


def audio_to_input(rate: int, data: np.ndarray, spec, prep: AudioPrep, where: str) -> np.ndarray:
    """One WAV file (``data`` of shape (samples,) or (samples, channels), float in [-1, 1]) as a
    sample for ``spec`` (no batch axis, model layout and dtype)."""
    if prep.sample_rate is not None and rate != prep.sample_rate:
        raise InputDataError(f"{where}: recorded at {rate} Hz, the run's rate is {prep.sample_rate} Hz "
                             f"({option('sample-rate')}); resample it first, srop-onnx does not")
    signal = data if data.ndim == 2 else data[:, None]  # (samples, channels)
    channels = 1 if spec.layout == "NL" else (spec.channels or 1)
    if channels == 1:
        signal = signal.mean(axis=1, keepdims=True)
    elif signal.shape[1] != channels:
        other = "NLC" if spec.layout == "NCL" else "NCL"
        raise InputDataError(f"{where}: has {signal.shape[1]} channel(s); model input '{spec.name}' "
                             f"{tuple(spec.shape)} read as {spec.layout} takes {channels}; if its channels are on the "
                             f"other axis, pass {option('layout', other)}")
    if prep.length is not None:
        if signal.shape[0] >= prep.length:
            signal = signal[: prep.length]
        else:
            signal = np.concatenate([signal, np.zeros((prep.length - signal.shape[0], signal.shape[1]))])
    if spec.layout == "NL":
        out = signal[:, 0]
    elif spec.layout == "NCL":
        out = signal.T
    else:  # NLC
        out = signal
    return np.ascontiguousarray(out, dtype=spec.dtype)
