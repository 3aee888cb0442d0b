"""Pictures of SROP profiles, as the paper draws them (Figs. 2, 4, 5).

Every function takes :class:`~srop_onnx.profile.Profile` objects and returns a
matplotlib ``Figure`` (built without pyplot, so no display or global backend is
touched); :func:`save_figure` writes png/svg/pdf atomically.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from .errors import UsageError
from .profile import Profile

__all__ = ["KINDS", "PALETTE", "plot", "plot_depth", "plot_box", "plot_kde", "plot_kernels", "plot_sweep",
           "plot_sweep_kde", "save_figure"]

KINDS = ("depth", "box", "kde", "kernels")  # of profiles; sweeps: plot_sweep, plot_sweep_kde
# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def _label(p: Profile, i: int, labels: list[str] | None) -> str:
    if labels and i < len(labels):
        return labels[i]
    return Path(str(p.model.get("path", f"profile {i + 1}"))).name


def _title(profiles: list[Profile], what: str, labels) -> str:
    names = " vs ".join(_label(p, i, labels) for i, p in enumerate(profiles))
    return f"{what}: {names}"


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    return fig


def _layer_ticks(ax, names: list[str], axis: str = "x", max_labels: int = 40) -> None:
    """Layer names as tick labels: rotated, and thinned to at most ``max_labels``."""
    n = len(names)
    step = max(1, math.ceil(n / max_labels))
    pos = list(range(0, n, step))
    short = [names[i] if len(names[i]) <= 28 else "…" + names[i][-27:] for i in pos]
    if axis == "x":
        ax.set_xticks(pos, short, rotation=60 if n > 6 else 30, ha="right", fontsize=8 if n > 20 else 9)
    else:
        ax.set_yticks(pos, short, fontsize=8 if n > 20 else 9)


def _units_label(units: str) -> str:
    return "SROP (input units, k / m_input)" if units == "input" else "SROP (band units, k / m)"


def plot_depth(profiles: list[Profile], units: str = "input", labels: list[str] | None = None):
    """Mean SROP per layer against depth, one line per profile (Fig. 5).

    Baseline dashed, downscaling steps marked with vertical lines, log y in
    input units (band units: linear y).
    """
    fig = _figure(max(7.0, 0.28 * max(len(p.layers) for p in profiles) + 4), 4.8)
    ax = fig.add_subplot()
    ref = profiles[0]
    drawn: list[list] = []
    for i, p in enumerate(profiles):
        colour = PALETTE[i % len(PALETTE)]
        x = [lay.index for lay in p.layers]
        means = np.array([lay.summary(units).mean for lay in p.layers])
        ax.plot(x, means, "-o", color=colour, ms=4, lw=1.8, label=_label(p, i, labels))
        base = [(lay.baseline or {}).get(f"mean_{units}") for lay in p.layers]
        if any(b is not None for b in base) and base not in drawn:  # same inputs: one baseline
            label = "baseline (max-pool)" if len(profiles) == 1 else f"{_label(p, i, labels)} baseline (max-pool)"
            ax.plot(x, [np.nan if b is None else b for b in base], "--", color=colour, lw=1.2, alpha=0.8, label=label)
            drawn.append(base)
    sides = [lay.side for lay in ref.layers]
    for j in range(1, len(sides)):
        if sides[j] < sides[j - 1]:
            ax.axvline(ref.layers[j].index - 0.5, color="0.6", lw=0.8, ls=":")
            ax.text(ref.layers[j].index - 0.45, 1.0, f"{sides[j]}", transform=ax.get_xaxis_transform(), fontsize=7,
                    color="0.4", va="top")
    if units == "input":
        from matplotlib.ticker import FormatStrFormatter, FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_minor_label))
        ax.tick_params(axis="y", which="minor", labelsize=7)
    ax.set_xlabel("layer (depth order); dotted lines: downscaling, labelled with the new side")
    ax.set_ylabel("mean " + _units_label(units))
    _layer_ticks(ax, [lay.name for lay in ref.layers])
    ax.set_title(_title(profiles, "Mean SROP by depth", labels), fontsize=11)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    return fig


def _minor_label(value: float, _pos) -> str:
    """Label minor log ticks at 2, 3 and 5 x 10^k only (keeps the axis readable)."""
    lead = f"{value:.1e}"[0]
    return f"{value:.2g}" if lead in "235" else ""


def _box_stats(lay, units: str) -> dict:
    s = lay.summary(units)
    return {"med": s.median, "q1": s.q1, "q3": s.q3, "whislo": s.min, "whishi": s.max, "mean": s.mean,
            "fliers": [], "label": lay.name}


def plot_box(profiles: list[Profile], units: str = "band", labels: list[str] | None = None):
    """Per-layer box plots of the SROP distribution (Fig. 4): median, quartiles, min/max whiskers, mean dot."""
    from matplotlib.patches import Patch

    n = max(len(p.layers) for p in profiles)
    k = len(profiles)
    fig = _figure(max(7.0, 0.32 * n * max(1, k * 0.7) + 4), 4.8)
    ax = fig.add_subplot()
    width = 0.8 / k
    handles = []
    for i, p in enumerate(profiles):
        colour = PALETTE[i % len(PALETTE)]
        stats = [_box_stats(lay, units) for lay in p.layers if lay.stats.count]
        pos = [lay.index + (i - (k - 1) / 2) * width for lay in p.layers if lay.stats.count]
        ax.bxp(stats, positions=pos, widths=width * 0.85, showmeans=True, patch_artist=True, manage_ticks=False,
               boxprops={"facecolor": colour, "alpha": 0.45, "edgecolor": colour},
               medianprops={"color": "black"}, whiskerprops={"color": colour}, capprops={"color": colour},
               meanprops={"marker": "o", "markerfacecolor": "white", "markeredgecolor": colour, "markersize": 4})
        handles.append(Patch(facecolor=colour, alpha=0.45, edgecolor=colour, label=_label(p, i, labels)))
    _layer_ticks(ax, [lay.name for lay in profiles[0].layers])
    ax.set_xlim(-0.7, n - 0.3)
    ax.set_ylabel(_units_label(units))
    ax.set_xlabel("layer (depth order); box: quartiles, line: median, dot: mean, whiskers: min-max")
    ax.set_title(_title(profiles, "SROP distribution per layer", labels), fontsize=11)
    ax.grid(True, axis="y", alpha=0.25)
    ax.legend(handles=handles, fontsize=8)
    return fig


def _kde_curve(values: np.ndarray, grid: np.ndarray):
    from scipy.stats import gaussian_kde

    values = values[np.isfinite(values)]
    if values.size < 2 or np.ptp(values) == 0:
        return None
    return gaussian_kde(values)(grid)


def plot_kde(profiles: list[Profile], units: str = "band", labels: list[str] | None = None,
             layers: str | None = None, max_panels: int = 12):
    """Kernel density of the per-sample layer means across inputs (Fig. 2), one panel per layer."""
    ref = profiles[0]
    chosen = ref.layers
    if layers:
        try:
            pat = re.compile(layers)
        except re.error as exc:
            raise UsageError(f"--layers: invalid regular expression {layers!r} ({exc})") from exc
        chosen = [lay for lay in ref.layers if pat.search(lay.name) or pat.search(lay.tensor)]
        if not chosen:
            raise UsageError(f"--layers {layers!r} matches no layer of {ref.model.get('path')}")
    elif len(chosen) > max_panels:  # spread the panels over the depth
        idx = np.unique(np.linspace(0, len(chosen) - 1, max_panels).round().astype(int))
        chosen = [chosen[i] for i in idx]
    cols = min(4, len(chosen))
    rows = math.ceil(len(chosen) / cols)
    fig = _figure(3.2 * cols + 0.5, 2.6 * rows + 0.6)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, lay in zip(axes.flat, chosen):
        for i, p in enumerate(profiles):
            try:
                other = p.layer(lay.tensor) if i else lay
            except KeyError:
                try:
                    other = p.layer(lay.name)
                except KeyError:
                    continue
            vals = other.stats.per_sample_mean(units)
            vals = vals[np.isfinite(vals)]
            colour = PALETTE[i % len(PALETTE)]
            lo, hi = (vals.min(), vals.max()) if vals.size else (0, 1)
            pad = max(0.05 * (hi - lo), 0.01)
            grid = np.linspace(lo - 3 * pad, hi + 3 * pad, 200)
            dens = _kde_curve(vals, grid)
            label = _label(p, i, labels)
            if dens is None:
                for v in np.unique(vals):
                    ax.axvline(v, color=colour, lw=1.5, label=label)
                    label = None
            else:
                ax.plot(grid, dens, color=colour, lw=1.6, label=label)
                ax.fill_between(grid, dens, color=colour, alpha=0.15)
            ax.plot(vals, np.zeros_like(vals), "|", color=colour, ms=8, alpha=0.7)
        ax.set_title(f"{lay.name} ({'x'.join(map(str, lay.shape))})", fontsize=9)
        ax.set_xlabel(_units_label(units), fontsize=8)
        ax.set_ylabel("density", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(chosen):]:
        ax.set_visible(False)
    for ax in axes.flat:  # legend on the first panel that drew something (a layer may be all dead)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
            break
    fig.suptitle(_title(profiles, "Per-sample layer mean SROP across inputs", labels), fontsize=11)
    return fig


def plot_kernels(profiles: list[Profile], units: str = "band", labels: list[str] | None = None):
    """Heatmap of channel (kernel) mean SROPs per layer, one panel per profile."""
    k = len(profiles)
    n = max(len(p.layers) for p in profiles)
    cmax = max(lay.shape[0] for p in profiles for lay in p.layers)
    fig = _figure(min(16.0, 4 + 0.04 * cmax) * (1 if k == 1 else 0.9), max(3.0, 0.28 * n + 1.5) * k)
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
        ax.set_title(_title([p], "Channel mean SROP", [labels[i]] if labels and i < len(labels) else None), fontsize=10)
    fig.colorbar(image, ax=list(axes), label="channel mean " + _units_label(units), shrink=0.9)
    return fig


def plot_sweep(sweeps: list, units: str = "band", labels: list[str] | None = None, by: str = "third"):
    """Mean SROP against the sweep level (Fig. 3): one line per depth third (or per layer, ``by="layer"``)
    and sweep, the model's output change against level 0 on a second axis (dashed)."""
    from .sweeps import third_means

    if by not in ("third", "layer"):
        raise UsageError(f"--by must be third or layer, got {by!r}")
    fig = _figure(7.5, 4.8)
    ax = fig.add_subplot()
    right = ax.twinx()
    styles = ("-o", "-s", "-^", "-D")
    for i, sw in enumerate(sweeps):
        name = (labels[i] if labels and i < len(labels) else
                Path(str(sw.points[0].profile.model.get("path", f"sweep {i + 1}"))).name)
        if by == "third":
            series = np.array([third_means(p.profile, units) for p in sw.points]).T
            names = ["shallow third", "middle third", "deep third"][-len(series):]
        else:
            ref = sw.points[0].profile.layers
            series = np.array([[lay.summary(units).mean for lay in p.profile.layers] for p in sw.points]).T
            names = [lay.name for lay in ref]
        for j, (values, what) in enumerate(zip(series, names)):
            colour = PALETTE[j % len(PALETTE)] if len(sweeps) == 1 else PALETTE[i % len(PALETTE)]
            ax.plot(sw.levels, values, styles[j % len(styles)] if by == "third" else "-", color=colour, ms=4,
                    lw=1.6 if by == "third" else 1.0, label=f"{what}" if len(sweeps) == 1 else f"{name}: {what}")
        change = [p.change.value for p in sw.points]
        if any(v is not None for v in change):
            measure = sw.points[-1].change.measure
            right.plot(sw.levels, [np.nan if v is None else v for v in change], "--", color="0.2", lw=1.4,
                       label=f"{name}: " * (len(sweeps) > 1) + ("top-1 agreement with w=0"
                                                                 if measure == "top1_agreement" else
                                                                 "mean |output change| vs w=0"))
            right.set_ylabel("model output vs w = 0 (dashed)")
    kind = sweeps[0].perturbation.get("kind", "blend")
    ax.set_xlabel("w (blend weight of the image)" if kind == "blend" else "w (noise std / input std)")
    ax.set_ylabel("mean " + _units_label(units))
    ax.grid(True, alpha=0.25)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    if len(lines[0]) <= 12:
        ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best")
    ax.set_title(f"SROP against the {kind} level", fontsize=11)
    return fig


def plot_sweep_kde(sw, levels: list[float] | None = None, units: str = "band", layers: str | None = None):
    """Per-level kernel density of the per-sample layer means (Fig. 2): one panel per layer
    (default: the deepest analysed layer), one curve per level."""
    from .sweeps import with_levels

    if levels:
        sw = with_levels(sw, levels)
        if not sw.points:
            raise UsageError(f"--level {levels}: the sweep has no such level")
    elif len(sw.points) > 6:
        idx = np.unique(np.linspace(0, len(sw.points) - 1, 6).round().astype(int))
        sw = type(sw)(sw.perturbation, sw.output, [sw.points[i] for i in idx])
    profiles = [p.profile for p in sw.points]
    if layers is None:
        live = [lay for lay in profiles[0].layers if lay.stats.count]
        layers = "^" + re.escape((live or profiles[0].layers)[-1].name) + "$"
    fig = plot_kde(profiles, units, [f"w = {p.level:g}" for p in sw.points], layers, max_panels=4)
    fig.suptitle(f"Per-sample layer mean SROP at each {sw.perturbation.get('kind', 'blend')} level", fontsize=11)
    return fig


def plot(profiles: list[Profile], kind: str = "depth", *, units: str | None = None,
         labels: list[str] | None = None, layers: str | None = None):
    """One of :data:`KINDS` for one or more profiles. ``units`` default: input for depth, band otherwise."""
    if not profiles:
        raise UsageError("plot needs at least one profile")
    if kind not in KINDS:
        raise UsageError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if units is not None and units not in ("band", "input"):
        raise UsageError(f"--units must be band or input, got {units!r}")
    if kind == "depth":
        return plot_depth(profiles, units or "input", labels)
    if kind == "box":
        return plot_box(profiles, units or "band", labels)
    if kind == "kde":
        return plot_kde(profiles, units or "band", labels, layers)
    return plot_kernels(profiles, units or "band", labels)


def figure_bytes(fig, fmt: str = "png") -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()


def save_figure(fig, path: str | Path) -> None:
    """Write ``fig`` to ``path`` (png, svg or pdf by extension), atomically."""
    from .writes import atomic_write_bytes

    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise UsageError(f"{path}: plot file must end in .png, .svg or .pdf")
    atomic_write_bytes(path, figure_bytes(fig, fmt))
