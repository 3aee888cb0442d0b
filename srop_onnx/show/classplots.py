"""Pictures of labelled profiles (docs/datasets.md): per-class densities (the paper's Fig. 2 with
the classes told apart) and the class x layer map of mean SROPs.

Same rules as :mod:`srop_onnx.show.plots`: matplotlib without pyplot, everything asked for drawn or
a note saying what was left out, legends outside the axes.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError, option
from .figtext import literal_figure
from .figtext import note as _note
from .plots import PALETTE, POINT_NOTE, _chosen_layers, density_axis, layer_like, layer_panels, _figure, _kde_curve, _label, _layer_ticks, _legend, _set_title, _units_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..results.profile import Profile

__all__ = ["plot_profiles", "plot_class_kde", "plot_classes", "class_colour", "MAX_CLASSES", "CLASS_KINDS"]

#: the kinds of labelled profiles: ``kde`` with ``by="class"``, and the class x layer map
CLASS_KINDS = ("kde", "classes")

#: the most classes drawn as curves (the largest ones; the note names how many were left out)
MAX_CLASSES = 20


def plot_profiles(profiles: list["Profile"], kind: str = "depth", *, units: str | None = None,
                  labels: list[str] | None = None, layers: str | None = None, by: str | None = None) -> "Figure":
    """:func:`srop_onnx.show.plots.plot`, and for labelled profiles (``analyze --labels``):
    ``kind="kde", by="class"`` (one curve per class, a second profile dashed) and ``kind="classes"``
    (the class x layer map of one profile)."""
    from .plots import KINDS, plot

    if by not in (None, "class") or (by == "class" and kind not in ("kde", "classes")):
        raise UsageError(f"{option('by', by)} goes with {option('kind', 'kde')} (one curve per class) or {option('kind', 'classes')}")
    if kind not in KINDS + ("classes",):
        raise UsageError(f"{option('kind')} must be one of {', '.join(KINDS + ('classes',))}, got {kind!r}")
    if units is not None and units not in ("band", "input"):
        raise UsageError(f"{option('units')} must be band or input, got {units!r}")
    if kind == "kde" and by == "class":
        return plot_class_kde(profiles, units or "band", labels, layers)
    if kind == "classes":
        if len(profiles) != 1:
            raise UsageError(f"{option('kind', 'classes')} draws one labelled profile")
        return plot_classes(profiles[0], units or "band", layers)
    return plot(profiles, kind, units=units, labels=labels, layers=layers)


def class_colour(i: int) -> str:
    """Colour of class ``i``: the palette, then matplotlib's tab20 (20 classes stay distinct)."""
    if i < len(PALETTE):
        return PALETTE[i]
    from matplotlib import colormaps

    r, g, b, _ = colormaps["tab20"](((i - len(PALETTE)) * 2 + 1) % 20)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def _classes(profiles: list["Profile"]) -> tuple[list[str], str | None]:
    """The classes drawn (the largest :data:`MAX_CLASSES` of the first profile, in natural order)
    and a note when some are left out."""
    from ..results.classes import _natural, labels_of

    labels = [v for v in labels_of(profiles[0]) if v is not None]
    sizes: dict[str, int] = {}
    for v in labels:
        sizes[v] = sizes.get(v, 0) + 1
    for p in profiles[1:]:
        for v in labels_of(p):
            if v is not None:
                sizes.setdefault(v, 0)
    names = sorted(sizes, key=lambda c: (-sizes[c], _natural(c)))
    kept = sorted(names[:MAX_CLASSES], key=_natural)
    note = None if len(names) <= MAX_CLASSES else (
        f"showing the {MAX_CLASSES} largest of {len(names)} classes")
    return kept, note


def _sides(lay, profiles: list["Profile"], units: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(profile index, per-sample means, labels)`` of the layer in each profile that has it."""
    out = []
    for i, p in enumerate(profiles):
        other = layer_like(p, lay) if i else lay
        if other is None:
            continue
        labels = np.asarray([v if v is not None else "" for v in p.labels], dtype=object)
        out.append((i, other.stats.per_sample_mean(units), labels))
    return out


def _class_panel(ax, lay, profiles: list["Profile"], classes: list[str], units: str) -> bool:
    """One layer: the whole set's density (grey), each class's density times its share (so the class
    curves add up to the whole); with two profiles the first (the benchmark) dashed, the second solid.
    True when some class's values are one point (drawn as a line: it has no density)."""
    top = 1.0 if units == "band" else lay.stats.m / max(1, lay.stats.m_input)
    sides = _sides(lay, profiles, units)
    every = np.concatenate([v[np.isfinite(v)] for _, v, _ in sides]) if sides else np.zeros(0)
    lo, hi = (float(every.min()), float(every.max())) if every.size else (0.0, top)
    pad = max(0.05 * (hi - lo), 0.01)
    grid = np.linspace(max(0.0, lo - 3 * pad), min(top, hi + 3 * pad), 256)
    curves = points = 0
    for i, values, labels in sides:
        live = np.isfinite(values)
        whole = _kde_curve(values[live], grid)
        dash = "--" if i == 0 and len(profiles) > 1 else "-"
        if whole is not None:
            ax.plot(grid, whole, color="0.45", lw=1.2, linestyle=dash)
            curves += 1
            if i == len(profiles) - 1:
                ax.fill_between(grid, whole, color="0.8", alpha=0.5)
        for k, label in enumerate(classes):
            v = values[live & (labels == label)]
            dens = _kde_curve(v, grid)
            share = v.size / max(1, int(live.sum()))
            if dens is not None:
                ax.plot(grid, dens * share, color=class_colour(k), lw=1.3, linestyle=dash)
                curves += 1
            elif v.size:
                ax.axvline(float(v[0]), color=class_colour(k), lw=1.0, linestyle=dash, clip_on=False)
                points += 1
    ax.set_title(textwrap.shorten(f"{lay.name} ({'x'.join(map(str, lay.shape))})", 40, placeholder="…"), fontsize=9)
    ax.set_xlabel(_units_label(units), fontsize=8)
    ax.set_ylabel("density", fontsize=8)
    density_axis(ax, curves > 0)
    ax.tick_params(labelsize=8)
    return points > 0


@literal_figure
def plot_class_kde(profiles: list["Profile"], units: str = "band", labels: list[str] | None = None,
                   layers: str | None = None, max_panels: int = 12) -> "Figure":
    """Per-sample layer mean SROP per class, one panel per layer (the paper's Fig. 2 by class): the
    whole set in grey, each class scaled by its share of the samples; with two profiles, the first
    (the benchmark) dashed and the second (the custom set) solid, in the same colours."""
    from matplotlib.lines import Line2D

    if not 1 <= len(profiles) <= 2:
        raise UsageError(f"{option('kind', 'kde')} {option('by', 'class')} draws one labelled profile, or a benchmark and a custom set")
    classes, class_note = _classes(profiles)
    chosen, note = _chosen_layers(profiles[0], layers, max_panels)
    if not labels and all(p.origin for p in profiles):  # two sets of one model: name them by their files
        labels = [str(p.origin).replace("\\", "/").rsplit("/", 1)[-1] for p in profiles]
    points: list[bool] = []
    fig, axes = layer_panels(chosen, lambda ax, lay: points.append(_class_panel(ax, lay, profiles, classes, units)))
    handles = [Line2D([], [], color=class_colour(k), lw=1.5) for k in range(len(classes))]
    names = [f"'{c}'" for c in classes]
    handles.append(Line2D([], [], color="0.45", lw=1.2))
    names.append("all samples")
    for i, p in enumerate(profiles if len(profiles) > 1 else []):
        handles.append(Line2D([], [], color="0.45", lw=1.2, linestyle="--" if i == 0 else "-"))
        names.append(("benchmark: " if i == 0 else "custom: ") + _label(p, i, labels))
    _legend(fig, axes.flat[0], handles, names)
    _set_title(None, fig, "Per-sample layer mean SROP by class (each class scaled by its share): "
               + " vs ".join(_label(p, i, labels) for i, p in enumerate(profiles)), suptitle=True)
    notes = [n for n in (note, class_note, POINT_NOTE if any(points) else None) if n]
    if notes:
        _note(fig, "; ".join(notes))
    return fig


@literal_figure
def plot_classes(profile: "Profile", units: str = "band", layers: str | None = None) -> "Figure":
    """Class x layer heatmap of the mean per-sample SROP (each cell: that class's samples in that
    layer; blank where the class has no live sample there)."""
    stats = profile.by_class(units, layers=layers)
    grid = np.full((len(stats.classes), len(stats.layers)), np.nan)
    for c in stats.cells:
        grid[stats.classes.index(c.label), stats.layers.index(c.layer)] = c.mean
    fig = _figure(min(16.0, 3.0 + 0.35 * len(stats.layers)), min(16.0, 2.0 + 0.32 * len(stats.classes)))
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap="viridis", interpolation="nearest")
    _layer_ticks(ax, stats.layers, "x")
    ax.set_yticks(range(len(stats.classes)), [f"'{c}'" for c in stats.classes], fontsize=8)
    ax.set_xlabel("layer (depth order)", fontsize=9)
    ax.set_ylabel("class", fontsize=9)
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(f"mean {_units_label(units)}", fontsize=8)
    if grid.size <= 400:
        for (r, c), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if v < np.nanmean(grid) else "black")
    _set_title(ax, fig, f"Mean SROP by class and layer: {_label(profile, 0, None)} "
               f"({len(stats.classes)} classes, {profile.analyzed} samples)")
    return fig
