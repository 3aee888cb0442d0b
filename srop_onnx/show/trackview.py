"""Tracks shown: the terminal table (layers x steps), the four pictures (heatmap, thirds,
channels, std), the HTML report and the notebook view.

Every function takes a :class:`~srop_onnx.results.track.Track`; nothing here computes a number
that the track does not hold. Long tracks: the terminal table shows the first, the last and evenly
spaced steps between (and says which); pictures show every step.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError, option
from .htmlreport import describe_settings, e, f, figure_tag
from .figtext import literal_figure
from .plots import _figure, _layer_ticks, _legend, _set_title, _units_label, marker, style

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..results.track import Track

__all__ = ["TRACK_KINDS", "shown_steps", "render_track", "plot_track", "track_report", "track_html"]

TRACK_KINDS = ("heatmap", "thirds", "channels", "std")
#: the most step columns the terminal table shows
MAX_COLUMNS = 8


def shown_steps(n: int, most: int = MAX_COLUMNS) -> list[int]:
    """Positions of the steps a table shows: all when they fit, else the first, the last and
    evenly spaced ones between."""
    if n <= most:
        return list(range(n))
    return sorted({round(i * (n - 1) / (most - 1)) for i in range(most)})


def render_track(track: "Track", console, units: str | None = None) -> None:
    """The layers x steps table of mean SROP and one verdict line per depth third."""
    from rich.table import Table

    from .report import safe

    units = units or track.units
    means, steps = track.means(units), track.steps
    cols = shown_steps(len(steps))
    title = f"mean SROP ({units} units) by step"
    if len(cols) < len(steps):
        title += f": {len(cols)} of {len(steps)} steps shown (first, last, evenly spaced)"
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("layer")
    for j in cols:
        table.add_column(str(steps[j]), justify="right")
    for i, name in enumerate(track.layer_names):
        table.add_row(str(i), safe(name), *("-" if not math.isfinite(means[i, j]) else f"{means[i, j]:.3f}"
                                          for j in cols))
    console.print(table)
    for line in track.verdicts(units):
        console.print(line, highlight=False)


def _step_axis(ax, steps: list[int]) -> None:
    n = len(steps)
    every = max(1, math.ceil(n / 25))
    pos = list(range(0, n, every))
    if pos[-1] != n - 1:
        pos.append(n - 1)
    ax.set_xticks(pos, [str(steps[p]) for p in pos], fontsize=8)
    ax.set_xlabel("training step")


@literal_figure
def plot_heatmap(track: "Track", units: str | None = None, change: bool = False, size: dict | None = None) -> "Figure":
    """Layers x steps: the mean SROP, or (``change``) its change from the first step (diverging
    colours centred on 0)."""
    units = units or track.units
    means, steps, names = track.means(units), track.steps, track.layer_names
    data = means - means[:, :1] if change else means
    fig = _figure(min(16.0, 3.5 + 0.35 * len(steps)), min(16.0, 1.8 + 0.28 * len(names)), size)
    ax = fig.add_subplot()
    if change:
        lim = float(np.nanmax(np.abs(data))) if np.isfinite(data).any() else 1.0
        im = ax.imshow(data, aspect="auto", cmap="RdBu_r", vmin=-lim or -1, vmax=lim or 1, interpolation="nearest")
    else:
        im = ax.imshow(data, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label=("change of mean " if change else "mean ") + _units_label(units))
    _layer_ticks(ax, names, axis="y")
    _step_axis(ax, steps)
    ax.set_ylabel("layer (depth order)")
    _set_title(ax, fig, "Change of mean SROP from step " + str(steps[0]) if change else "Mean SROP by layer and step")
    return fig


@literal_figure
def plot_lines(track: "Track", kind: str = "thirds", units: str | None = None, size: dict | None = None) -> "Figure":
    """``thirds``: one line per depth third over steps; ``std``: one line per layer, the standard
    deviation of its SROP over steps."""
    units = units or track.units
    steps = track.steps
    fig = _figure(8.5, 4.6, size)
    ax = fig.add_subplot()
    if kind == "thirds":
        series = track.thirds(units)
        ylabel, title = "mean " + _units_label(units), "Mean SROP of each depth third over training"
    else:
        stds = track.stds(units)
        series = list(zip(track.layer_names, stds))
        ylabel, title = "std of " + _units_label(units), "Spread (std) of each layer's SROP over training"
    for i, (label, values) in enumerate(series):
        ax.plot(range(len(steps)), values, marker=marker(i) if len(steps) <= 40 else None, ms=4,
                lw=1.5, label=label, **style(i))
    _step_axis(ax, steps)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.25)
    handles, labels = ax.get_legend_handles_labels()
    if kind == "thirds" and track.metric_names:
        more, labels_more, note = _metric_axis(ax, track, len(series))
        handles, labels = handles + more, labels + labels_more
        if note:
            from .figtext import note as add_note

            add_note(fig, note)
    _legend(fig, ax, handles, labels)
    _set_title(ax, fig, title + (" with the metrics logged beside it" if kind == "thirds" and track.metric_names
                                 else ""))
    return fig


#: the most user metrics drawn on the thirds plot's second axis (the note names the others)
MAX_METRIC_LINES = 6


def _metric_axis(ax, track: "Track", first_style: int) -> tuple[list, list[str], str | None]:
    """The user's metrics on a second y axis (the paper's Fig. 3 reads accuracy beside SROP):
    dotted lines with square markers, each named ``metric (right axis)``."""
    values = track.metrics()
    names = list(values)[:MAX_METRIC_LINES]
    right = ax.twinx()
    for k, name in enumerate(names):
        look = style(first_style + k)
        right.plot(range(len(track.steps)), values[name], marker="s", ms=3, lw=1.2, color=look["color"],
                   linestyle=":", label=f"{name} (right axis)")
    right.set_ylabel(f"{names[0]} (right axis)" if len(names) == 1 else "metrics (right axis)")
    handles, labels = right.get_legend_handles_labels()
    left = [n for n in values if n not in names]
    note = f"metrics not drawn: {', '.join(left)}" if left else None
    return handles, labels, note


@literal_figure
def plot_channels(track: "Track", layer: str | None, units: str | None = None, size: dict | None = None) -> "Figure":
    """Channels x steps of one layer: each channel's mean SROP over the samples where it was live."""
    units = units or track.units
    names = track.layer_names
    if layer is None:
        raise UsageError(f"{option('kind', 'channels')} draws one layer: add {option('layer', 'NAME')} (one of {', '.join(names[:8])}"
                         f"{', ...' if len(names) > 8 else ''})")
    if layer not in names:
        raise UsageError(f"{option('layer')} {layer!r}: the track has no such layer; its layers are {', '.join(names[:8])}"
                         f"{', ...' if len(names) > 8 else ''}")
    cols = []
    for prof in track.profiles:
        lay = next((x for x in prof.layers if x.name == layer), None)
        cols.append(None if lay is None else lay.stats.kernel_mean(units))
    width = max(len(c) for c in cols if c is not None)
    data = np.full((width, len(cols)), np.nan)
    for j, c in enumerate(cols):
        if c is not None:
            data[: len(c), j] = c
    fig = _figure(min(16.0, 3.5 + 0.35 * len(cols)), min(16.0, 1.8 + 0.12 * width), size)
    ax = fig.add_subplot()
    im = ax.imshow(data, aspect="auto", cmap="viridis", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="channel mean " + _units_label(units))
    _step_axis(ax, track.steps)
    ax.set_ylabel("channel")
    _set_title(ax, fig, f"Per-channel mean SROP of {layer} over training")
    return fig


def plot_track(track: "Track", kind: str = "heatmap", *, units: str | None = None, layer: str | None = None,
               change: bool = False, size: dict | None = None) -> "Figure":
    """A track's picture: ``heatmap`` (``change``: from the first step), ``thirds``, ``channels`` (one
    ``layer``) or ``std``."""
    if kind not in TRACK_KINDS:
        raise UsageError(f"{option('kind')} for a track must be one of {', '.join(TRACK_KINDS)}, got {kind!r}")
    if kind == "heatmap":
        return plot_heatmap(track, units, change, size)
    if kind == "channels":
        return plot_channels(track, layer, units, size)
    return plot_lines(track, kind, units, size)


def _mean_rows(track: "Track", units: str) -> str:
    means, steps = track.means(units), track.steps
    head = "".join(f"<th>{s}</th>" for s in steps)
    rows = "".join(f"<tr><td>{i}</td><td class=l>{e(n)}</td>" + "".join(f"<td>{f(v)}</td>" for v in means[i]) + "</tr>"
                   for i, n in enumerate(track.layer_names))
    metrics = "".join(f"<tr><td></td><td class=l><i>{e(n)}</i></td>" + "".join(f"<td>{f(v, 4)}</td>" for v in vals)
                      + "</tr>" for n, vals in track.metrics().items())
    return f"<table><tr><th>#</th><th class=l>layer</th>{head}</tr>{rows}{metrics}</table>"


def track_report(track: "Track", *, units: str | None = None) -> str:
    """The HTML text of a track's report: verdicts, heatmaps, thirds, std, and the table of every step."""
    from .htmlreport import _CSS

    units = units or track.units
    first = track.profiles[0]
    named = track.index.get("name")
    title = (f"SROP across training: {named} ({len(track.steps)} steps)" if named else
             f"SROP across training: {first.model.get('path')} ... ({len(track.steps)} steps)")
    verdicts = "".join(f"<li>{e(v)}</li>" for v in track.verdicts(units))
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>",
             f"<p class=muted>{e(describe_settings(first))}; {first.analyzed} inputs; {e(units)} units; exporter "
             f"{e(track.index.get('exporter') or '-')}. Made by srop-onnx {e(first.tool_version)} on "
             f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
             f"<p><b>What the data says:</b></p><ul>{verdicts}</ul>",
             "<h2>Mean SROP by layer and step</h2>" + figure_tag(plot_heatmap(track, units)),
             "<h2>Change from the first step</h2>" + figure_tag(plot_heatmap(track, units, True)),
             "<h2>Depth thirds over training</h2>" + figure_tag(plot_lines(track, "thirds", units)),
             "<h2>Spread (std) of each layer</h2>" + figure_tag(plot_lines(track, "std", units)),
             "<h2>Every step</h2>" + _mean_rows(track, units), "</body></html>\n"]
    return "".join(parts)


def track_html(track: "Track") -> str:
    """A notebook's view of a track: the verdicts and the thirds plot, and the table of means."""
    steps = track.steps
    head = (f"<b>SROP track</b>: {len(steps)} steps ({steps[0] if steps else '-'} .. {steps[-1] if steps else '-'}), "
            f"{len(track.layer_names)} layers<br>" + "<br>".join(e(v) for v in track.verdicts()))
    size = {"width": 6.4, "height": 3.4, "dpi": 72}
    return (f"<div>{head}{figure_tag(plot_lines(track, 'thirds', size=size), alt='depth thirds over training')}"
            f"<div style='max-height:360px;overflow:auto'>{_mean_rows(track, track.units)}</div></div>")
