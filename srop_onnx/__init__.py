"""srop-onnx: spectral roll-off points (SROPs) of the feature maps of any ONNX model.

Everything a user calls is reachable from here::

    import srop_onnx
    profile = srop_onnx.analyze("model.onnx", "images/")
    profile.to_dataframe()                                   # one row per layer (pandas)
    srop_onnx.plot.depth([profile]).savefig("depth.png")     # or save_figure(fig, path)
    result = srop_onnx.check(profile, srop_onnx.Profile.load("golden.json"), tol=0.02)
    assert result, str(result)                               # truthy exactly when it passed

``import srop_onnx`` loads nothing heavy: NumPy, ONNX, ONNX Runtime, matplotlib and pandas
are imported when a name that needs them is first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (DeviceError, InputDataError, ModelError, OutputError, ResourceError, SropError, TooSmallError,
                     UsageError)

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from . import plot
    from .analysis import analyze, analyze_vs_random
    from .comparison import CheckResult, Comparison, check, compare
    from .graph import find_taps
    from .merge import merge_profiles
    from .profile import LayerProfile, Profile
    from .settings import Execution, Measurement
    from .spectral import (DEAD, NONFINITE, RolloffBins, num_bins, rolloff_bins, rolloff_bins_1d, rolloff_bins_many,
                           srop, srop1d)
    from .stats import LayerStats, Summary
    from .sweeps import Sweep, sweep
    from .twin import randomize

    __version__: str

# name -> module for attributes loaded on first access (keeps `import srop_onnx` light)
_LAZY = {
    **dict.fromkeys(("DEAD", "NONFINITE", "RolloffBins", "num_bins", "rolloff_bins", "rolloff_bins_1d",
                     "rolloff_bins_many", "srop", "srop1d"), "srop_onnx.spectral"),
    "LayerStats": "srop_onnx.stats",
    "Summary": "srop_onnx.stats",
    "analyze": "srop_onnx.analysis",
    "analyze_vs_random": "srop_onnx.analysis",
    "merge_profiles": "srop_onnx.merge",
    "Profile": "srop_onnx.profile",
    "LayerProfile": "srop_onnx.profile",
    "find_taps": "srop_onnx.graph",
    "randomize": "srop_onnx.twin",
    "compare": "srop_onnx.comparison",
    "check": "srop_onnx.comparison",
    "CheckResult": "srop_onnx.comparison",
    "Comparison": "srop_onnx.comparison",
    "sweep": "srop_onnx.sweeps",
    "Sweep": "srop_onnx.sweeps",
    "Measurement": "srop_onnx.settings",
    "Execution": "srop_onnx.settings",
}
#: submodules reachable as attributes (``srop_onnx.plot.depth(...)``)
_MODULES = ("plot",)

__all__ = [
    "DeviceError",
    "InputDataError",
    "ModelError",
    "OutputError",
    "ResourceError",
    "SropError",
    "TooSmallError",
    "UsageError",
    "__version__",
    *_LAZY,
    *_MODULES,
]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("srop-onnx")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    elif name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    elif name in _MODULES:
        value = import_module(f"srop_onnx.{name}")
    else:
        raise AttributeError(f"module 'srop_onnx' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
