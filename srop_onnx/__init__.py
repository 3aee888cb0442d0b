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
    from . import plot as plot
    from .analysis import analyze as analyze
    from .analysis import analyze_vs_random as analyze_vs_random
    from .comparison import CheckResult as CheckResult
    from .comparison import Comparison as Comparison
    from .comparison import check as check
    from .comparison import compare as compare
    from .graph import find_taps as find_taps
    from .merge import merge_profiles as merge_profiles
    from .profile import LayerProfile as LayerProfile
    from .profile import Profile as Profile
    from .settings import Execution as Execution
    from .settings import Measurement as Measurement
    from .spectral import DEAD as DEAD
    from .spectral import NONFINITE as NONFINITE
    from .spectral import RolloffBins as RolloffBins
    from .spectral import num_bins as num_bins
    from .spectral import rolloff_bins as rolloff_bins
    from .spectral import rolloff_bins_1d as rolloff_bins_1d
    from .spectral import rolloff_bins_many as rolloff_bins_many
    from .spectral import srop as srop
    from .spectral import srop1d as srop1d
    from .stats import LayerStats as LayerStats
    from .stats import Summary as Summary
    from .sweeps import Sweep as Sweep
    from .sweeps import sweep as sweep
    from .twin import randomize as randomize

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
    "DEAD",
    "NONFINITE",
    "RolloffBins",
    "num_bins",
    "rolloff_bins",
    "rolloff_bins_1d",
    "rolloff_bins_many",
    "srop",
    "srop1d",
    "LayerStats",
    "Summary",
    "analyze",
    "analyze_vs_random",
    "merge_profiles",
    "Profile",
    "LayerProfile",
    "find_taps",
    "randomize",
    "compare",
    "check",
    "CheckResult",
    "Comparison",
    "sweep",
    "Sweep",
    "Measurement",
    "Execution",
    "plot",
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
