"""srop-onnx: spectral roll-off points (SROPs) of the feature maps of any ONNX model.

The spectral core (:func:`srop`, :func:`srop1d`, :func:`rolloff_bins`,
:func:`rolloff_bins_many`, :class:`LayerStats`) needs only NumPy; model analysis (:func:`analyze`,
:class:`Profile`) loads onnx/onnxruntime on first use.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version as _version

from .errors import DeviceError, InputDataError, ModelError, OutputError, SropError, TooSmallError, UsageError
from .spectral import DEAD, NONFINITE, RolloffBins, num_bins, rolloff_bins, rolloff_bins_1d, rolloff_bins_many, srop, srop1d
from .stats import LayerStats, Summary

try:
    __version__ = _version("srop-onnx")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

# name -> module for attributes loaded on first access (keeps `import srop_onnx` light)
_LAZY = {
    "analyze": "srop_onnx.analysis",
    "analyze_vs_random": "srop_onnx.analysis",
    "merge_profiles": "srop_onnx.merge",
    "Profile": "srop_onnx.profile",
    "LayerProfile": "srop_onnx.profile",
    "find_taps": "srop_onnx.graph",
    "randomize": "srop_onnx.randomize",
    "compare": "srop_onnx.compare",
    "sweep": "srop_onnx.sweeps",
    "Sweep": "srop_onnx.sweeps",
    "Measurement": "srop_onnx.settings",
    "Execution": "srop_onnx.settings",
}

__all__ = [
    "DEAD",
    "NONFINITE",
    "DeviceError",
    "InputDataError",
    "LayerStats",
    "ModelError",
    "OutputError",
    "RolloffBins",
    "SropError",
    "Summary",
    "TooSmallError",
    "UsageError",
    "__version__",
    "num_bins",
    "rolloff_bins",
    "rolloff_bins_1d",
    "rolloff_bins_many",
    "srop",
    "srop1d",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'srop_onnx' has no attribute {name!r}")
