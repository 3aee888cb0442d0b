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
    from .run.analysis import analyze as analyze
    from .run.analysis import analyze_vs_random as analyze_vs_random
    from .results.comparison import CheckResult as CheckResult
    from .results.comparison import Comparison as Comparison
    from .results.comparison import check as check
    from .results.classcompare import compare as compare
    from .results.classes import ClassStats as ClassStats
    from .results.classes import Outliers as Outliers
    from .results.classcompare import ClassComparison as ClassComparison
    from .model.graph import find_taps as find_taps
    from .results.merge import merge_profiles as merge_profiles
    from .results.profile import LayerProfile as LayerProfile
    from .results.profile import Profile as Profile
    from .config.settings import Execution as Execution
    from .config.settings import Measurement as Measurement
    from .core.spectral import DEAD as DEAD
    from .core.spectral import NONFINITE as NONFINITE
    from .core.spectral import RolloffBins as RolloffBins
    from .core.spectral import num_bins as num_bins
    from .core.spectral import rolloff_bins as rolloff_bins
    from .core.spectral import rolloff_bins_1d as rolloff_bins_1d
    from .core.spectral import rolloff_bins_many as rolloff_bins_many
    from .core.spectral import srop as srop
    from .core.spectral import srop1d as srop1d
    from .core.stats import LayerStats as LayerStats
    from .core.stats import Summary as Summary
    from .results.frames import spreadsheet_safe as spreadsheet_safe
    from .run.sweeps import Sweep as Sweep
    from .run.sweeps import sweep as sweep
    from .model.twin import randomize as randomize
    from .results.track import Track as Track
    from .run.tracking import Tracker as Tracker
    from .run.tracking import track as track

    __version__: str

# name -> module for attributes loaded on first access (keeps `import srop_onnx` light)
_LAZY = {
    **dict.fromkeys(("DEAD", "NONFINITE", "RolloffBins", "num_bins", "rolloff_bins", "rolloff_bins_1d",
                     "rolloff_bins_many", "srop", "srop1d"), "srop_onnx.core.spectral"),
    "LayerStats": "srop_onnx.core.stats",
    "Summary": "srop_onnx.core.stats",
    "analyze": "srop_onnx.run.analysis",
    "analyze_vs_random": "srop_onnx.run.analysis",
    "merge_profiles": "srop_onnx.results.merge",
    "Profile": "srop_onnx.results.profile",
    "LayerProfile": "srop_onnx.results.profile",
    "find_taps": "srop_onnx.model.graph",
    "randomize": "srop_onnx.model.twin",
    "compare": "srop_onnx.results.classcompare",
    "check": "srop_onnx.results.comparison",
    "CheckResult": "srop_onnx.results.comparison",
    "Comparison": "srop_onnx.results.comparison",
    "ClassStats": "srop_onnx.results.classes",
    "Outliers": "srop_onnx.results.classes",
    "ClassComparison": "srop_onnx.results.classcompare",
    "sweep": "srop_onnx.run.sweeps",
    "Sweep": "srop_onnx.run.sweeps",
    "spreadsheet_safe": "srop_onnx.results.frames",
    "Measurement": "srop_onnx.config.settings",
    "Execution": "srop_onnx.config.settings",
    "Track": "srop_onnx.results.track",
    "Tracker": "srop_onnx.run.tracking",
    "track": "srop_onnx.run.tracking",
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
    "ClassStats",
    "Outliers",
    "ClassComparison",
    "sweep",
    "Sweep",
    "spreadsheet_safe",
    "Measurement",
    "Execution",
    "Track",
    "Tracker",
    "track",
    "plot",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from ._version import version

        value: Any = version()
    elif name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
    elif name in _MODULES:
        value = import_module(f"srop_onnx.{name}")
    else:
        raise AttributeError(f"module 'srop_onnx' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names only (what tab completion offers): not the helpers this module imports, nor
    the subpackages a run loads."""
    return sorted(__all__)
