"""Figures of profiles, sweeps and tracks, for notebooks and scripts: ``srop_onnx.plot.depth([profile])``,
``srop_onnx.plot.track(track, kind="heatmap")``.

A face over :mod:`srop_onnx.show.plots`, where the figures are drawn: every function takes result
objects and returns a matplotlib figure (matplotlib is imported when a figure is first made)::

    fig = srop_onnx.plot.depth([profile, twin], labels=["trained", "random"])
    srop_onnx.plot.save_figure(fig, "depth.png")
"""

from __future__ import annotations

from .show.classplots import CLASS_KINDS, plot_class_kde, plot_classes
from .show.classplots import plot_profiles as plot
from .show.plots import (KINDS, PALETTE, box, depth, figure_bytes, kde, kernels, plot_box, plot_depth, plot_kde,
                         plot_kernels, plot_sweep, plot_sweep_kde, save_figure, sweep, sweep_kde)
from .show.trackview import TRACK_KINDS, plot_track

#: ``srop_onnx.plot.class_kde([benchmark, custom])``, ``srop_onnx.plot.classes(profile)``: labelled profiles
class_kde, classes = plot_class_kde, plot_classes
#: ``srop_onnx.plot.track(track, kind="heatmap"|"thirds"|"channels"|"std", layer=..., change=...)``
track = plot_track

__all__ = ["KINDS", "PALETTE", "plot", "plot_depth", "plot_box", "plot_kde", "plot_kernels", "plot_sweep",
           "plot_sweep_kde", "save_figure", "figure_bytes", "depth", "box", "kde", "kernels", "sweep", "sweep_kde",
           "track", "plot_track", "TRACK_KINDS", "class_kde", "classes", "plot_class_kde", "plot_classes", "CLASS_KINDS"]
