"""Figures of profiles, sweeps and tracks, for notebooks and scripts: ``srop_onnx.plot.depth([profile])``,
``srop_onnx.plot.track(track, kind="heatmap")``.

A face over :mod:`srop_onnx.show.plots`, where the figures are drawn: every function takes result
objects, or the paths (or URLs) of their files, one or a list, and returns a matplotlib figure
(matplotlib is imported when a figure is first made)::

    fig = srop_onnx.plot.depth([profile, twin], labels=["trained", "random"])
    srop_onnx.plot.save_figure(fig, "depth.png")
"""

from __future__ import annotations

import functools as _functools
import inspect as _inspect
from typing import Any as _Any
from typing import Callable as _Callable
from typing import Concatenate as _Concatenate
from typing import ParamSpec as _ParamSpec
from typing import TypeVar as _TypeVar

from .show import classplots as _classplots
from .show import plots as _plots
from .show import trackview as _trackview
from .show.classplots import CLASS_KINDS
from .show.plots import KINDS, PALETTE, figure_bytes, save_figure
from .show.trackview import TRACK_KINDS


_P = _ParamSpec("_P")
_R = _TypeVar("_R")


def _reading(draw: "_Callable[_Concatenate[_Any, _P], _R]", kind: str,
             many: bool) -> "_Callable[_Concatenate[_Any, _P], _R]":
    """``draw`` over results given as objects or as the paths (or URLs) of their files: one, or a
    list (``many``)."""

    signature = _inspect.signature(draw)
    what = next(iter(signature.parameters))  # profiles, sweeps, sw, track, ...

    @_functools.wraps(draw)
    def figure(results: _Any, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        from .errors import UsageError
        from .results.given import given, given_many

        storage = kwargs.pop("storage_options", None)  # for results given as URLs
        results = given_many(results, kind, what, storage) if many else given(results, kind, what, storage)  # type: ignore[arg-type]
        labels = signature.bind_partial(results, *args, **kwargs).arguments.get("labels")
        if many and labels is not None and len(labels) != len(results):
            raise UsageError(f"labels: {len(labels)} given for {len(results)} {what}; give one per {kind}")
        return draw(results, *args, **kwargs)

    return figure


plot = _reading(_classplots.plot_profiles, "profile", True)
plot_depth = depth = _reading(_plots.plot_depth, "profile", True)
plot_box = box = _reading(_plots.plot_box, "profile", True)
plot_kde = kde = _reading(_plots.plot_kde, "profile", True)
plot_kernels = kernels = _reading(_plots.plot_kernels, "profile", True)
plot_sweep = sweep = _reading(_plots.plot_sweep, "sweep", True)
plot_sweep_kde = sweep_kde = _reading(_plots.plot_sweep_kde, "sweep", False)
#: ``srop_onnx.plot.class_kde([benchmark, custom])``, ``srop_onnx.plot.classes(profile)``: labelled profiles
plot_class_kde = class_kde = _reading(_classplots.plot_class_kde, "profile", True)
plot_classes = classes = _reading(_classplots.plot_classes, "profile", False)
#: ``srop_onnx.plot.track(track, kind="heatmap"|"thirds"|"channels"|"std", layer=..., change=...)``
plot_track = track = _reading(_trackview.plot_track, "track", False)

__all__ = ["KINDS", "PALETTE", "plot", "plot_depth", "plot_box", "plot_kde", "plot_kernels", "plot_sweep",
           "plot_sweep_kde", "save_figure", "figure_bytes", "depth", "box", "kde", "kernels", "sweep", "sweep_kde",
           "track", "plot_track", "TRACK_KINDS", "class_kde", "classes", "plot_class_kde", "plot_classes", "CLASS_KINDS"]
