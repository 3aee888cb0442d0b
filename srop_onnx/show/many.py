"""Figures of many profiles: a sweep's levels, a folder of runs, a track's steps.

Past :data:`MAX_NAMED` profiles a legend that names each line, and a title that lists them, can no
longer be read (30 profiles made a legend wider than the axes and a title of eight lines). Their
lines then take their colours from a sequential colour map in the order given, and a colour bar
names some of them (the first, the last and evenly spaced ones between): every profile is still
drawn, and which end of the order a line belongs to shows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["MAX_NAMED", "many", "series_colours", "order_bar", "span_title", "profile_names", "left_out"]

#: the most profiles a figure names one by one in a legend and its title
MAX_NAMED = 10
#: viridis reads in order in grey and with the common colour-vision deficiencies; its last tenth is
#: a pale yellow that is hard to see on white, so the colours stop short of it
_CMAP, _SPAN = "viridis", 0.88


def many(k: int) -> bool:
    """Whether ``k`` profiles are too many to name one by one."""
    return k > MAX_NAMED


def series_colours(k: int) -> list[str]:
    """``k`` colours in order along the sequential map, as ``#rrggbb``."""
    from matplotlib import colormaps

    cmap = colormaps[_CMAP]
    out = []
    for t in np.linspace(0.0, _SPAN, max(k, 1))[:k]:
        r, g, b, _a = cmap(float(t))
        out.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return out


def order_bar(fig, axes, names: list[str], label: str = "profile, in the order given") -> None:
    """A colour bar beside ``axes`` that maps each colour of :func:`series_colours` back to its
    profile: ticks at the first, the last and up to five evenly spaced between, labelled with their
    names."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import ListedColormap, Normalize

    k = len(names)
    mappable = ScalarMappable(norm=Normalize(-0.5, k - 0.5), cmap=ListedColormap(series_colours(k)))
    bar = fig.colorbar(mappable, ax=axes, pad=0.015, fraction=0.04, aspect=30)
    ticks = sorted(set(np.linspace(0, k - 1, min(k, 7)).round().astype(int).tolist()))
    bar.set_ticks(ticks, labels=[_short(names[t]) for t in ticks])
    bar.ax.tick_params(labelsize=8)
    bar.set_label(f"{label} ({k})", fontsize=9)


def span_title(what: str, names: list[str]) -> str:
    """``what`` for many profiles: how many, from the first to the last."""
    return f"{what}: {len(names)} profiles, {_short(names[0])} to {_short(names[-1])}"


def profile_names(profiles: list, labels: "list[str] | None" = None) -> list[str]:
    """One name per profile: the label given for it, else its model's file name; names that repeat
    (profiles of one model over other inputs) are numbered in order, ``example.onnx #2``."""
    names = [str(labels[i]) if labels and i < len(labels) and labels[i] is not None
             else Path(str(p.model.get("path", f"profile {i + 1}"))).name for i, p in enumerate(profiles)]
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    count: dict[str, int] = {}
    out = []
    for name in names:
        if seen[name] > 1:
            count[name] = count.get(name, 0) + 1
            name = f"{name} #{count[name]}"
        out.append(name)
    return out


def left_out(levels: list[float], kept: list[int]) -> str:
    """The levels not in ``kept`` (indices), as runs between the kept ones: ``0.01 to 0.39 (39 levels),
    0.45``; a lone level is written as itself."""
    runs: list[list[float]] = []
    for i, level in enumerate(levels):
        if i in kept:
            runs.append([])
        elif runs and runs[-1]:
            runs[-1].append(level)
        else:
            runs.append([level])
    parts = [f"{r[0]:g}" if len(r) == 1 else f"{r[0]:g} to {r[-1]:g} ({len(r)} levels)" for r in runs if r]
    return ", ".join(parts)


def _short(name: str, most: int = 28) -> str:
    return name if len(name) <= most else "…" + name[-(most - 1):]
