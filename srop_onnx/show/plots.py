"""Pictures of SROP profiles and sweeps, as the paper draws them (Figs. 2-5).

Every function takes result objects (:class:`~srop_onnx.results.profile.Profile`, sweeps) and returns a
matplotlib ``Figure`` built without pyplot (no display or global backend is touched);
:func:`save_figure` writes png/svg/pdf atomically. In a notebook::

    import srop_onnx
    fig = srop_onnx.plot.depth([profile, twin], labels=["trained", "random"])

Rules every figure keeps: it shows everything it was asked for, or says in the figure what it
left out (``showing 12 of 21 layers``); titles are wrapped to the canvas; legends sit outside the
axes, so they never cover data; lines are told apart by colour and dash (no pale colours).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import math
from dataclasses import replace
import re
import textwrap
from pathlib import Path

import numpy as np

from ..errors import UsageError, option
from .figtext import literal_figure, new_figure, tick_text
from .figtext import note as _note
from .many import left_out, many, order_bar, profile_names, series_colours, span_title

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..results.profile import Profile
    from ..results.sweepresult import Sweep

__all__ = ["KINDS", "PALETTE", "plot", "plot_depth", "plot_box", "plot_kde", "plot_kernels", "plot_sweep",
           "plot_sweep_kde", "save_figure", "figure_bytes", "depth", "box", "kde", "kernels", "sweep", "sweep_kde"]

KINDS = ("depth", "box", "kde", "kernels")
#: the widest and tallest a figure gets (inches): a 3,000-layer model's figures stay viewable
MAX_INCHES = 16.0
#: the most boxes a box plot draws (spread over depth; the note says which) and the most layers
#: drawn with markers in a depth plot
MAX_BOXES = 80
MAX_MARKED = 120  # of profiles; sweeps: plot_sweep, plot_sweep_kde
# Okabe-Ito without its yellow (too pale on white): distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
#: the grey output-change line of each sweep in one figure
_CHANGE_DASHES = ((0, (5, 2)), (0, (1.5, 1.5)), (0, (7, 2, 1.5, 2)), (0, (3, 3)))


def style(i: int) -> dict:
    """Colour and dash of series ``i``: 7 colours, then the next dash (28 distinct series)."""
    return {"color": PALETTE[i % len(PALETTE)], "linestyle": DASHES[(i // len(PALETTE)) % len(DASHES)]}


def marker(i: int) -> str:
    """The marker of series ``i``, shifted by one each round of colours: series 7 has series 0's
    colour and another marker (a lone point shows no dash; 49 series stay distinct)."""
    return MARKERS[(i + i // len(PALETTE)) % len(MARKERS)]


def _label(p: Profile, i: int, labels: list[str] | None) -> str:
    if labels and i < len(labels):
        return labels[i]
    return Path(str(p.model.get("path", f"profile {i + 1}"))).name


def _title(profiles: list[Profile], what: str, labels) -> str:
    names = profile_names(profiles, labels)
    return span_title(what, names) if many(len(names)) else f"{what}: " + " vs ".join(names)


def _looks(k: int) -> list[dict]:
    """Colour and dash of each of ``k`` profiles: the palette's, or for many, the sequential map's
    in order (solid; :func:`~srop_onnx.show.many.order_bar` names them)."""
    if many(k):
        return [{"color": c, "linestyle": "-"} for c in series_colours(k)]
    return [style(i) for i in range(k)]


def _figure(width: float, height: float, size: dict | None = None):
    """A figure of ``width`` x ``height`` inches, or the user's ``size={"width", "height", "dpi"}``."""
    size = size or {}
    if not isinstance(size, dict) or set(size) - {"width", "height", "dpi"} or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 < v <= 10_000
            for v in size.values()):
        raise UsageError(f"size must be a dict of positive numbers with keys width, height (inches) and dpi, "
                         f"got {size!r}")
    return new_figure(figsize=(size.get("width", width), size.get("height", height)), dpi=size.get("dpi", 110),
                  layout="constrained")


def _set_title(target, fig, text: str, fontsize: float = 11, suptitle: bool = False) -> None:
    """A title wrapped to the figure's width, so it never leaves the canvas."""
    chars = max(20, int(fig.get_figwidth() * 72 / (0.6 * fontsize)))
    wrapped = textwrap.fill(text, chars, break_long_words=True)
    (fig.suptitle if suptitle else target.set_title)(wrapped, fontsize=fontsize)


def _legend(fig, ax, handles=None, labels=None, fontsize: float = 8) -> None:
    """The legend outside the axes (right of them), in columns when long: never over the data. The
    figure grows by the legend's width, so the axes keep theirs and nothing leaves the canvas."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    rows = max(1, int(fig.get_figheight() * 72 / (fontsize * 1.9)) - 2)
    cols = math.ceil(len(handles) / rows)
    longest = max(len(str(label)) for label in labels)
    fig.set_figwidth(fig.get_figwidth() + cols * (0.75 + 0.6 * fontsize / 72 * longest) + 0.2)
    fig.legend(handles, labels, loc="outside right upper", fontsize=fontsize, ncols=cols)


def _layer_ticks(ax, names: list[str], axis: str = "x", max_labels: int = 40, at: "list[int] | None" = None) -> None:
    """Layer names as tick labels (``at``: where each layer is drawn, default 0, 1, ...): rotated, and
    thinned to at most ``max_labels``."""
    n = len(names)
    step = max(1, math.ceil(n / max_labels))
    picked = list(range(0, n, step))
    pos = picked if at is None else [at[i] for i in picked]
    fig = ax.figure
    short = [tick_text(fig, names[i]) for i in picked]
    short = [t if len(t) <= 28 else "…" + t[-27:] for t in short]
    if axis == "x":
        ax.set_xticks(pos, short, rotation=60 if n > 6 else 30, ha="right", fontsize=8 if n > 20 else 9)
    else:
        ax.set_yticks(pos, short, fontsize=8 if n > 20 else 9)


def _units_label(units: str) -> str:
    return "SROP (input units, k / m_input)" if units == "input" else "SROP (band units, k / m)"


@literal_figure
def plot_depth(profiles: list[Profile], units: str = "input", labels: list[str] | None = None,
               size: dict | None = None, baselines: str = "each") -> "Figure":
    """Mean SROP per layer against depth, one line per profile (Fig. 5).

    Baseline dashed (``baselines``: ``each`` profile's that differs, only the ``first``, or
    ``none``), downscaling steps marked with vertical lines, log y in input units (band units:
    linear y). ``size``: ``{"width", "height", "dpi"}`` of the figure (a notebook's is small).
    """
    n = max(len(p.layers) for p in profiles)
    fig = _figure(min(MAX_INCHES, max(7.0, 0.28 * n + 5)), 4.8, size)
    ax = fig.add_subplot()
    ref, names, looks, crowd = profiles[0], profile_names(profiles, labels), _looks(len(profiles)), many(len(profiles))
    drawn: list[list] = []
    zeros = False  # a value of 0 (every map at bin 0) has no place on a log axis: marked at its floor
    for i, p in enumerate(profiles):
        look = looks[i]
        x = np.array([lay.index for lay in p.layers])
        means = np.array([lay.summary(units).mean for lay in p.layers], dtype=float)
        plain = n <= MAX_MARKED and not crowd
        shown, zero = _log_safe(means, units)
        ax.plot(x, shown, marker=marker(i) if plain else None, ms=4, lw=1.8 if plain else 1.0,
                label="_nolegend_" if crowd else names[i], **look)
        zeros |= _mark_floor(ax, x[zero], look["color"])
        base = [(lay.baseline or {}).get(f"mean_{units}") for lay in p.layers]
        wanted = (baselines == "each" and not crowd) or (baselines != "none" and i == 0)
        if wanted and any(b is not None for b in base) and base not in drawn:  # same inputs: one baseline
            label = "baseline (max-pool)" if len(profiles) == 1 else f"{names[i]} baseline (max-pool)"
            shown, zero = _log_safe(np.array([np.nan if b is None else b for b in base], dtype=float), units)
            ax.plot(x, shown, color=look["color"], ls=(0, (4, 2)), lw=1.2, alpha=0.8, label=label)
            zeros |= _mark_floor(ax, x[zero], look["color"], hollow=True)
            drawn.append(base)
    if zeros:
        ax.plot([], [], ls="none", marker="v", color="0.4", label="0: below the log axis (open: baseline)")
    sides = [lay.side for lay in ref.layers]
    steps = [j for j in range(1, len(sides)) if sides[j] < sides[j - 1]]
    for j in steps:
        ax.axvline(ref.layers[j].index - 0.5, color="0.6", lw=0.8, ls=":")
        if len(steps) <= 40:  # more labels than that would overlap
            ax.text(ref.layers[j].index - 0.45, 1.0, f"{sides[j]}", transform=ax.get_xaxis_transform(), fontsize=8,
                    color="0.4", va="top", clip_on=True)
    if units == "input":
        _log_axis(ax)
    ax.set_xlabel("layer (depth order); dotted lines: downscaling, labelled with the new side")
    ax.set_ylabel("mean " + _units_label(units).replace(" (", "\n("))  # two lines: fits a short figure
    _layer_ticks(ax, [lay.name for lay in ref.layers], at=[lay.index for lay in ref.layers])
    _set_title(ax, fig, _title(profiles, "Mean SROP by depth", names))
    ax.grid(True, which="both", alpha=0.25)
    _legend(fig, ax)
    if crowd:
        order_bar(fig, ax, names)
        if baselines == "each" and len(drawn) == 1 and any(lay.baseline for p in profiles[1:] for lay in p.layers):
            _note(fig, f"dashed: the first profile's baseline; the other {len(profiles) - 1} profiles' are left out")
    return fig


def _log_safe(values: np.ndarray, units: str) -> tuple[np.ndarray, np.ndarray]:
    """``values`` with its zeros hidden (NaN) where the axis is logarithmic (input units), and where
    they were."""
    zero = (values == 0) if units == "input" else np.zeros(values.shape, bool)
    return np.where(zero, np.nan, values), zero


def _mark_floor(ax, x: np.ndarray, color, hollow: bool = False) -> bool:
    """Triangles at the bottom of the axes over ``x`` (values of 0 on a log axis); whether any."""
    if len(x):
        ax.scatter(x, np.full(len(x), 0.015), transform=ax.get_xaxis_transform(), marker="v", s=30, zorder=3,
                   facecolors="none" if hollow else color, edgecolors=color, clip_on=False)
    return bool(len(x))


def _log_axis(ax) -> None:
    """A log y axis whose numbers can be read: over a decade or more, labels at 1, 2, 3 and 5 x 10^k;
    over a narrower range (a deep model whose layers all sit between 0.77 and 0.84), where no such
    tick may fall, about five evenly spaced labelled ticks."""
    from matplotlib.ticker import FormatStrFormatter, FuncFormatter, MaxNLocator, NullFormatter, NullLocator

    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
    if lo > 0 and hi / lo < 4:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_minor_formatter(NullFormatter())
        return
    ax.yaxis.set_minor_formatter(FuncFormatter(_minor_label))
    ax.tick_params(axis="y", which="minor", labelsize=8)


def _minor_label(value: float, _pos) -> str:
    """Label minor log ticks at 2, 3 and 5 x 10^k only (keeps the axis readable)."""
    lead = f"{value:.1e}"[0]
    return f"{value:.2g}" if lead in "235" else ""


def _box_stats(lay, units: str) -> dict:
    s = lay.summary(units)
    return {"med": s.median, "q1": s.q1, "q3": s.q3, "whislo": s.min, "whishi": s.max, "mean": s.mean,
            "fliers": [], "label": lay.name}


@literal_figure
def plot_box(profiles: list[Profile], units: str = "band", labels: list[str] | None = None) -> "Figure":
    """Per-layer box plots of the SROP distribution (Fig. 4): median, quartiles, min/max whiskers, mean dot."""
    from matplotlib.patches import Patch

    n = max(len(p.layers) for p in profiles)
    k = len(profiles)
    shown = set(np.unique(np.linspace(0, n - 1, MAX_BOXES).round().astype(int)).tolist()) if n > MAX_BOXES else None
    fig = _figure(min(MAX_INCHES, max(7.0, 0.32 * min(n, MAX_BOXES) * max(1, k * 0.7) + 5)), 4.8)
    ax = fig.add_subplot()
    width = 0.8 / k if shown is None else 0.8 * (n / MAX_BOXES) / k
    handles = []
    dead = []
    names, colours = profile_names(profiles, labels), [look["color"] for look in _looks(k)]
    for i, p in enumerate(profiles):
        colour = colours[i]
        live = [lay for j, lay in enumerate(p.layers) if lay.stats.count and (shown is None or j in shown)]
        dead += [lay.name for lay in p.layers if not lay.stats.count]
        pos = [lay.index + (i - (k - 1) / 2) * width for lay in live]
        if live:
            ax.bxp([_box_stats(lay, units) for lay in live], positions=pos, widths=width * 0.85, showmeans=True,
                   patch_artist=True, manage_ticks=False,
                   boxprops={"facecolor": colour, "alpha": 0.45, "edgecolor": colour},
                   medianprops={"color": "black"}, whiskerprops={"color": colour}, capprops={"color": colour},
                   meanprops={"marker": "o", "markerfacecolor": "white", "markeredgecolor": colour, "markersize": 4})
        handles.append(Patch(facecolor=colour, alpha=0.45, edgecolor=colour, label=names[i]))
    at = [lay.index for lay in profiles[0].layers]
    _layer_ticks(ax, [lay.name for lay in profiles[0].layers], at=at)
    ax.set_xlim(min(at, default=0) - 0.7, max(at, default=n - 1) + 0.7)
    ax.set_ylabel(_units_label(units))
    ax.set_xlabel("layer (depth order); box: quartiles, line: median, dot: mean, whiskers: min-max")
    _set_title(ax, fig, _title(profiles, "SROP distribution per layer", names))
    ax.grid(True, axis="y", alpha=0.25)
    if many(k):
        order_bar(fig, ax, names)
    else:
        _legend(fig, ax, handles, [h.get_label() for h in handles])
    if shown is not None:
        _note(fig, f"boxes for {len(shown)} of {n} layers, spread over depth (the depth plot shows every layer)")
    if dead:
        _note(fig, f"no box for {len(dead)} layer(s) without live maps: {', '.join(sorted(set(dead))[:6])}"
                   + (" ..." if len(set(dead)) > 6 else ""))
    return fig


def _kde_curve(values: np.ndarray, grid: np.ndarray):
    from ..core.stats import kde_scott

    values = values[np.isfinite(values)]
    if values.size < 2 or np.ptp(values) == 0:
        return None
    return kde_scott(values, grid)


def _chosen_layers(ref: Profile, layers: str | None, max_panels: int) -> tuple[list, str | None]:
    """The layers a KDE figure draws, and a note when it leaves some out."""
    chosen = ref.layers
    if layers:
        try:
            pat = re.compile(layers)
        except re.error as exc:
            raise UsageError(f"{option('layers')}: invalid regular expression {layers!r} ({exc})") from exc
        chosen = [lay for lay in ref.layers if pat.search(lay.name) or pat.search(lay.tensor)]
        if not chosen:
            raise UsageError(f"{option('layers')} {layers!r} matches no layer of {ref.model.get('path')}")
    if len(chosen) <= max_panels:
        return chosen, None
    idx = np.unique(np.linspace(0, len(chosen) - 1, max_panels).round().astype(int))
    what = "matching layers" if layers else "layers"
    note = (f"showing {len(idx)} of {len(chosen)} {what}, spread over depth; pick others with "
            f"{option('layers', 'REGEX')}")
    return [chosen[i] for i in idx], note


def _upper(lay, units: str) -> float:
    """The largest SROP a layer can have in ``units`` (1 in band units, m / m_input in input units)."""
    return 1.0 if units == "band" else lay.stats.m / max(1, lay.stats.m_input)


def layer_like(profile: Profile, lay):
    """The layer of ``profile`` that is ``lay`` (of another profile): by tensor, then by module
    name; None when it has none."""
    for key in (lay.tensor, lay.name):
        try:
            return profile.layer(key)
        except KeyError:
            continue
    return None


def layer_panels(chosen: list, draw) -> tuple:
    """``(figure, axes)``: one panel per layer of ``chosen``, three a row (shown 1,168 px wide in a
    report, text stays >= 8 px), each drawn by ``draw(ax, layer)``; the grid's spare panels hidden."""
    cols = min(3, len(chosen))
    rows = math.ceil(len(chosen) / cols)
    fig = _figure(3.2 * cols + 2.0, 2.6 * rows + 1.0)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, lay in zip(axes.flat, chosen):
        draw(ax, lay)
    for ax in list(axes.flat)[len(chosen):]:
        ax.set_visible(False)
    return fig, axes


def _kde_panel(ax, lay, profiles: list[Profile], units: str, names: list[str]) -> bool:
    """One layer's densities; True when some profile's values are one point (a line, no density)."""
    top = _upper(lay, units)
    curves = points = 0
    looks, crowd = _looks(len(profiles)), many(len(profiles))
    for i, p in enumerate(profiles):
        other = layer_like(p, lay) if i else lay
        if other is None:
            continue
        vals = other.stats.per_sample_mean(units)
        vals = vals[np.isfinite(vals)]
        look = looks[i]
        lo, hi = (vals.min(), vals.max()) if vals.size else (0, 1)
        pad = max(0.05 * (hi - lo), 0.01)
        grid = np.linspace(max(0.0, lo - 3 * pad), min(top, hi + 3 * pad), 200)
        dens = _kde_curve(vals, grid)
        label = "_nolegend_" if crowd else names[i]
        if dens is None:
            for v in np.unique(vals):  # on the axis' edge (an SROP of 1) too: drawn over the frame
                ax.axvline(v, lw=1.5, label=label, clip_on=False, **look)
                label = None
            points += bool(vals.size)
        else:
            ax.plot(grid, dens, lw=1.6, label=label, **look)
            ax.fill_between(grid, dens, color=look["color"], alpha=0.03 if crowd else 0.15)
            curves += 1
        # a rug: each sample a tick rising from the axis, 5 % of the panel's height
        ax.vlines(vals, 0, 0.05, transform=ax.get_xaxis_transform(), color=look["color"], lw=1, alpha=0.7)
    ax.set_title(textwrap.shorten(f"{lay.name} ({'x'.join(map(str, lay.shape))})", 40, placeholder="…"), fontsize=9)
    ax.set_xlabel(_units_label(units), fontsize=8)
    ax.set_ylabel("density", fontsize=8)
    left, right = ax.get_xlim()
    ax.set_xlim(max(0.0, left), min(top, right))
    density_axis(ax, curves > 0)
    ax.tick_params(labelsize=8)
    return points > 0


#: what a figure of densities says when a panel holds a line instead (a single value has no density)
POINT_NOTE = "a vertical line: one value for all samples there (a single sample, or equal ones), which has no density"


def density_axis(ax, curves: bool) -> None:
    """A density's y-axis starts at 0; a panel of lines only (no density) shows no density scale."""
    if curves:
        ax.set_ylim(bottom=0)
    else:
        ax.set_ylim(0, 1)
        ax.set_yticks([])


@literal_figure
def plot_kde(profiles: list[Profile], units: str = "band", labels: list[str] | None = None,
             layers: str | None = None, max_panels: int = 12, leaving: str | None = None) -> "Figure":
    """Kernel density of the per-sample layer means across inputs (Fig. 2), one panel per layer.
    The x-axis stays within the SROP's range; a figure of fewer panels than layers says so."""
    ref = profiles[0]
    chosen, note = _chosen_layers(ref, layers, max_panels)
    points: list[bool] = []
    names = profile_names(profiles, labels)
    fig, axes = layer_panels(chosen, lambda ax, lay: points.append(_kde_panel(ax, lay, profiles, units, names)))
    for ax in axes.flat:  # legend from the first panel that drew something (a layer may be all dead)
        if ax.get_legend_handles_labels()[0]:
            _legend(fig, ax, fontsize=8)
            break
    if many(len(profiles)):
        order_bar(fig, [ax for ax in axes.flat if ax.get_visible()], names)
    _set_title(None, fig, _title(profiles, "Per-sample layer mean SROP across inputs", names), suptitle=True)
    notes = [n for n in (note, leaving, POINT_NOTE if any(points) else None) if n]
    if notes:
        _note(fig, "; ".join(notes))
    return fig


@literal_figure
def plot_kernels(profiles: list[Profile], units: str = "band", labels: list[str] | None = None) -> "Figure":
    """Heatmap of channel (kernel) mean SROPs per layer, one panel per profile (as many as fit a
    figure's height, spread over the order given; the figure names those it leaves out)."""
    names = profile_names(profiles, labels)
    n = max(len(p.layers) for p in profiles)
    tall = max(3.0, 0.28 * n + 1.5)
    picked = _spread(len(profiles), max(1, int(MAX_INCHES // tall)))
    left = [names[i] for i in range(len(profiles)) if i not in picked]
    profiles, names, k = [profiles[i] for i in picked], [names[i] for i in picked], len(picked)
    cmax = max(lay.shape[0] for p in profiles for lay in p.layers)
    fig = _figure(min(MAX_INCHES, 5 + 0.04 * cmax) * (1 if k == 1 else 0.9), min(MAX_INCHES, tall * k))
    axes = fig.subplots(k, 1, squeeze=False)[:, 0]
    allvals = np.concatenate([lay.stats.kernel_mean(units) for p in profiles for lay in p.layers])
    allvals = allvals[np.isfinite(allvals)]
    vmin, vmax = (float(allvals.min()), float(allvals.max())) if allvals.size else (0.0, 1.0)
    if vmax <= vmin:
        vmin, vmax = vmin - 0.01, vmax + 0.01
    image = None
    for ax, (i, p) in zip(axes, enumerate(profiles)):
        grid = np.full((len(p.layers), cmax), np.nan)
        for r, lay in enumerate(p.layers):
            km = lay.stats.kernel_mean(units)
            grid[r, : km.size] = km
        image = ax.imshow(grid, aspect="auto", interpolation="nearest", cmap="viridis", vmin=vmin, vmax=vmax)
        _layer_ticks(ax, [lay.name for lay in p.layers], axis="y")
        ax.set_xlabel("channel (kernel) index; blank: no such channel, or never live")
        _set_title(ax, fig, f"Channel mean SROP: {names[i]}", fontsize=10)
    fig.colorbar(image, ax=list(axes), label="channel mean " + _units_label(units), shrink=0.9)
    if left:
        _note(fig, f"panels for {k} of {k + len(left)} profiles, spread over the order given (one panel needs "
                   f"{tall:.1f} in); left out: {', '.join(left[:8])}{' ...' if len(left) > 8 else ''} "
                   "(plot them in smaller groups)")
    return fig


def _spread(total: int, most: int) -> list[int]:
    """Up to ``most`` of ``range(total)``: all of them, or the first, the last and evenly between."""
    if total <= most:
        return list(range(total))
    return np.unique(np.linspace(0, total - 1, most).round().astype(int)).tolist()


def _sweep_series(sw, units: str, by: str) -> tuple[np.ndarray, list[str]]:
    from ..results.sweepresult import third_means

    if by == "third":
        series = np.array([third_means(p.profile, units) for p in sw.points]).T
        return series, (["shallow third", "middle third", "deep third"] if len(series) == 3 else ["all layers"])
    series = np.array([[lay.summary(units).mean for lay in p.profile.layers] for p in sw.points]).T
    return series, [lay.name for lay in sw.points[0].profile.layers]


@literal_figure
def plot_sweep(sweeps: "list[Sweep]", units: str = "band", labels: list[str] | None = None, by: str = "third",
               size: dict | None = None) -> "Figure":
    """Mean SROP against the sweep level (Fig. 3): one line per depth third (or per layer, ``by="layer"``)
    and sweep, the model's output change against level 0 on a second axis (grey, dashed), named
    by the measure it shows."""
    from ..results.sweepresult import measure_label

    if by not in ("third", "layer"):
        raise UsageError(f"{option('by')} must be third or layer, got {by!r}")
    fig = _figure(8.5 if by == "third" else 10.0, 4.8, size)
    ax = fig.add_subplot()
    right = ax.twinx()
    count, layer_names = 0, []
    for i, sw in enumerate(sweeps):
        name = (labels[i] if labels and i < len(labels) else
                Path(str(sw.points[0].profile.model.get("path", f"sweep {i + 1}"))).name)
        series, names = _sweep_series(sw, units, by)
        deep = series_colours(len(names)) if len(names) > len(PALETTE) * len(DASHES) else None  # by depth, a bar
        for j, (values, what) in enumerate(zip(series, names)):
            if deep:  # named by the colour bar, the sweep by its dash
                look = {"color": deep[j], "linestyle": DASHES[i % len(DASHES)], "label": "_nolegend_"}
            else:
                look = {**style(count), "label": what if len(sweeps) == 1 else f"{name}: {what}"}
            ax.plot(sw.levels, values, marker=marker(count) if by == "third" else None, ms=4,
                    lw=1.6 if by == "third" else 1.1, **look)
            count += 1
        if deep:
            ax.plot([], [], color="0.3", ls=DASHES[i % len(DASHES)], label=f"{name}: every layer")
            layer_names = names
        change = [p.change.value for p in sw.points]
        if any(v is not None for v in change):
            measure = sw.points[-1].change.shown
            right.plot(sw.levels, [np.nan if v is None else v for v in change], color="0.35", lw=1.6,
                       ls=_CHANGE_DASHES[i % len(_CHANGE_DASHES)], marker=MARKERS[i % len(MARKERS)] if len(sweeps) > 1 else None,
                       ms=3, label=f"{name}: " * (len(sweeps) > 1) + measure_label(measure))
            right.set_ylabel("output vs w = 0 (grey)")
    kind = sweeps[0].perturbation.get("kind", "blend")
    ax.set_xlabel("w (blend weight of the image)" if kind == "blend" else "w (noise std / input std)")
    ax.set_ylabel("mean " + _units_label(units))
    ax.grid(True, alpha=0.25)
    lines, more = ax.get_legend_handles_labels(), right.get_legend_handles_labels()
    _legend(fig, ax, lines[0] + more[0], lines[1] + more[1])
    _set_title(ax, fig, f"SROP against the {kind} level" + (" (one line per layer)" if by == "layer" else ""))
    if layer_names:
        order_bar(fig, [ax, right], layer_names, "layer, in depth order")
    return fig


@literal_figure
def plot_sweep_kde(sw: "Sweep", levels: list[float] | None = None, units: str = "band", layers: str | None = None,
                   max_levels: int = 6) -> "Figure":
    """Per-level kernel density of the per-sample layer means (Fig. 2): one panel per layer
    (default: the deepest analysed layer), one curve per level (at most ``max_levels`` spread over
    the sweep unless ``levels`` names them; the figure says which it left out)."""
    from ..results.sweepresult import with_levels

    leaving = None
    if levels:
        sw = with_levels(sw, levels)
        if not sw.points:
            raise UsageError(f"{option('level')} {levels}: the sweep has no such level")
    elif len(sw.points) > max_levels:
        idx = _spread(len(sw.points), max_levels)
        leaving = (f"showing {len(idx)} of {len(sw.points)} levels; left out w = "
                   f"{left_out([p.level for p in sw.points], idx)} (pick levels with {option('level', 'W,W', py='[W, W]')})")
        sw = type(sw)(sw.perturbation, sw.output, [sw.points[i] for i in idx])
    profiles = [p.profile for p in sw.points]
    if layers is None:
        live = [lay for lay in profiles[0].layers if lay.stats.count]
        layers = "^" + re.escape((live or profiles[0].layers)[-1].name) + "$"
    fig = plot_kde(profiles, units, [f"w = {p.level:g}" for p in sw.points], layers, max_panels=4, leaving=leaving)
    _set_title(None, fig, f"Per-sample layer mean SROP at each {sw.perturbation.get('kind', 'blend')} level",
               suptitle=True)
    return fig


def plot(profiles: list[Profile], kind: str = "depth", *, units: str | None = None,
         labels: list[str] | None = None, layers: str | None = None) -> "Figure":
    """One of :data:`KINDS` for one or more profiles. ``units`` default: input for depth, band otherwise.
    ``layers``: a regular expression over layer names; kde draws up to 12 of the matching layers, the
    other kinds every matching layer at its place in the model.
    (Labelled profiles' kinds: :func:`srop_onnx.show.classplots.plot_profiles`.)"""
    if not profiles:
        raise UsageError("plot needs at least one profile")
    if kind not in KINDS:
        raise UsageError(f"{option('kind')} must be one of {', '.join(KINDS)}, got {kind!r}")
    if units is not None and units not in ("band", "input"):
        raise UsageError(f"{option('units')} must be band or input, got {units!r}")
    if kind == "kde":
        return plot_kde(profiles, units or "band", labels, layers)
    if layers:  # the other kinds draw the matching layers, each where it sits in the model
        profiles = [replace(p, layers=_chosen_layers(p, layers, len(p.layers))[0]) for p in profiles]
    if kind == "depth":
        return plot_depth(profiles, units or "input", labels)
    if kind == "box":
        return plot_box(profiles, units or "band", labels)
    return plot_kernels(profiles, units or "band", labels)


def figure_bytes(fig: "Figure", fmt: str = "png") -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()


def figure_format(path: str | Path, option: str = "") -> str:
    """``png``, ``svg`` or ``pdf``, from the path's suffix; any other is refused (commands ask this
    before they run, not when the figure is drawn)."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise UsageError(f"{option + ' ' if option else ''}{path}: plot file must end in .png, .svg or .pdf")
    return fmt


def save_figure(fig: "Figure", path: str | Path) -> None:
    """Write ``fig`` to ``path`` (png, svg or pdf by extension), atomically."""
    from ..files.writes import atomic_write_bytes

    atomic_write_bytes(path, figure_bytes(fig, figure_format(path)))


# short names for notebooks: srop_onnx.plot.depth([profile]), srop_onnx.plot.sweep([sw])
depth, box, kde, kernels, sweep, sweep_kde = plot_depth, plot_box, plot_kde, plot_kernels, plot_sweep, plot_sweep_kde
