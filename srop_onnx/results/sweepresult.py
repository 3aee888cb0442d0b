"""The result of an input sweep: a profile and an output change per level, what the data says
(the verdict by depth third), and sweep files (written, loaded, validated).

:mod:`srop_onnx.run.sweeps` runs sweeps; this module is what they return.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputDataError, UsageError
from .profile import Profile

if TYPE_CHECKING:
    import pandas

__all__ = ["FORMAT", "VERSION", "CHANGE_MEASURES", "OutputChange", "SweepPoint", "Sweep", "measure_label",
           "measure_definition", "level_name", "profile_paths", "load_result", "third_means", "sweep_verdict", "with_levels"]

FORMAT = "srop-onnx-sweep"
VERSION = 1

#: how the output change is shown: chosen from the data (``auto``), or as the user asks
CHANGE_MEASURES = ("auto", "top1", "relative")
_SHOWN = {"top1": "top1_agreement", "relative": "relative_change"}


@dataclass
class OutputChange:
    """How far the model's output moved from the unperturbed one (docs/sweeps.md), exactly
    mergeable. Both measures are recorded: the relative change ``sum|out - ref| / sum|ref|`` for
    every output, and the top-1 agreement ``agree / rows`` for a rank-2 output ``(N, K)``, K >= 2.
    The one shown is the top-1 agreement where the clean output is a probability vector (rows
    non-negative, summing to 1 within 1e-3) or the user asks for it (``prefer="top1"``), else the
    relative change."""

    agree: int = 0
    rows: int = 0
    abs_sum: float = 0.0
    ref_abs_sum: float = 0.0
    cells: int = 0
    probability: bool | None = None  # None: not a rank-2 (N, K >= 2) output
    prefer: str = "auto"

    def add(self, ref: np.ndarray, out: np.ndarray) -> None:
        if ref.ndim == 2 and ref.shape[1] > 1:
            self.agree += int(np.count_nonzero(np.argmax(ref, axis=1) == np.argmax(out, axis=1)))
            self.rows += int(ref.shape[0])
            r = ref.astype(np.float64)
            prob = bool(np.all(r >= 0) and np.all(np.abs(r.sum(axis=1) - 1.0) <= 1e-3))
            self.probability = prob if self.probability is None else (self.probability and prob)
        ref64, out64 = ref.astype(np.float64), out.astype(np.float64)
        ok = np.isfinite(ref64) & np.isfinite(out64)
        self.abs_sum += float(np.sum(np.abs(out64 - ref64)[ok]))
        self.ref_abs_sum += float(np.sum(np.abs(ref64)[ok]))
        self.cells += int(ref64.size)

    @property
    def top1(self) -> float | None:
        return self.agree / self.rows if self.rows else None

    @property
    def relative(self) -> float | None:
        if not self.cells:
            return None
        if self.ref_abs_sum > 0:
            return self.abs_sum / self.ref_abs_sum
        return 0.0 if self.abs_sum == 0 else None

    @property
    def shown(self) -> str | None:
        """``top1_agreement`` or ``relative_change``: the measure tables and plots show."""
        if not self.cells:
            return None
        if self.rows and (self.prefer == "top1" or (self.prefer == "auto" and self.probability)):
            return "top1_agreement"
        return "relative_change"

    @property
    def value(self) -> float | None:
        return self.top1 if self.shown == "top1_agreement" else self.relative

    def to_dict(self) -> dict:
        return {"measure": self.shown, "value": self.value, "top1_agreement": self.top1,
                "relative_change": self.relative, "agree": self.agree, "rows": self.rows, "abs_sum": self.abs_sum,
                "ref_abs_sum": self.ref_abs_sum, "cells": self.cells, "probability": self.probability,
                "prefer": self.prefer}

    @classmethod
    def from_dict(cls, d: dict | None) -> "OutputChange":
        d = d or {}
        return cls(int(d.get("agree", 0)), int(d.get("rows", 0)), float(d.get("abs_sum", 0.0)),
                   float(d.get("ref_abs_sum", 0.0)), int(d.get("cells", 0)), d.get("probability"),
                   d.get("prefer", "auto"))

    def __add__(self, other: "OutputChange") -> "OutputChange":
        prob = (self.probability if other.probability is None else other.probability if self.probability is None
                else self.probability and other.probability)
        return OutputChange(self.agree + other.agree, self.rows + other.rows, self.abs_sum + other.abs_sum,
                            self.ref_abs_sum + other.ref_abs_sum, self.cells + other.cells, prob, self.prefer)


def measure_definition(measure: str | None) -> str:
    """What a measure of the output change is, in one phrase."""
    if measure == "top1_agreement":
        return "share of inputs whose top-1 class is the one at w=0"
    return "sum |output - clean output| / sum |clean output|"


def measure_label(measure: str | None, short: bool = False) -> str:
    """How a measure of the output change is named where it appears."""
    if measure == "top1_agreement":
        return "top-1 agree" if short else "top-1 agreement with w=0"
    return "rel. change" if short else "relative output change vs w=0"


@dataclass
class SweepPoint:
    level: float
    profile: Profile
    change: OutputChange = field(default_factory=OutputChange)


@dataclass
class Sweep:
    """Profiles of one model over one input set at every level of a perturbation."""

    perturbation: dict  # {"kind": "blend", "image": ...} or {"kind": "noise", "noise": ..., "seed": ...}
    output: str | None  # the model output compared with the unperturbed one
    points: list[SweepPoint]

    @property
    def levels(self) -> list[float]:
        return [p.level for p in self.points]

    def profile(self, level: float) -> Profile:
        for p in self.points:
            if math.isclose(p.level, level, abs_tol=1e-9):
                return p.profile
        raise UsageError(f"the sweep has no level {level:g}; its levels are {', '.join(f'{v:g}' for v in self.levels)}")

    def __repr__(self) -> str:
        what = self.perturbation.get("noise") or self.perturbation.get("kind", "?")
        first = self.points[0].profile if self.points else None
        name = Path(str(first.model.get("path", "?"))).name if first else "?"
        return (f"<Sweep {name}: {what}, {len(self.points)} levels "
                f"{', '.join(f'{v:g}' for v in self.levels[:6])}{', ...' if len(self.points) > 6 else ''}>")

    def to_dataframe(self, units: str = "band") -> "pandas.DataFrame":
        """Level x layer as a pandas DataFrame, with the output change per level (see
        :func:`srop_onnx.results.frames.sweep_frame`)."""
        from .frames import sweep_frame

        return sweep_frame(self, units)

    def _repr_html_(self) -> str:
        from ..show.notebook import sweep_html

        return sweep_html(self)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "perturbation": self.perturbation, "output": self.output,
                "levels": self.levels, "verdict": sweep_verdict(self),
                "points": [{"level": p.level, "output_change": p.change.to_dict(), "profile": p.profile.to_dict()}
                           for p in self.points]}

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"
        if path is not None:
            from ..files.writes import atomic_write_text

            atomic_write_text(path, text)
        return text

    @classmethod
    def from_dict(cls, d: dict, where: str = "sweep") -> "Sweep":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise InputDataError(f"{where}: not a srop-onnx sweep (no \"format\": \"{FORMAT}\")")
        try:
            points = [SweepPoint(float(p["level"]), Profile.from_dict(p["profile"], f"{where} level {p['level']}"),
                                 OutputChange.from_dict(p.get("output_change"))) for p in d["points"]]
            return cls(dict(d["perturbation"]), d.get("output"), points)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputDataError(f"{where}: malformed srop-onnx sweep ({type(exc).__name__}: {exc}); "
                                 "regenerate it with 'srop-onnx sweep'") from exc

    @classmethod
    def load(cls, path: str | Path, *, storage_options: dict | None = None) -> "Sweep":
        """A sweep file (``srop-onnx sweep -o``; a URL too, with ``storage_options``), validated as
        :meth:`Profile.load` validates profiles."""
        from ..files.remote import using_storage_options

        with using_storage_options(storage_options):
            result = load_result(path)
        if not isinstance(result, Sweep):
            raise InputDataError(f"{path}: a profile, not a sweep; give a file written by 'srop-onnx sweep -o' "
                                 "(Profile.load reads profiles)")
        return result

    def profile_paths(self, folder: str | Path) -> list[Path]:
        """Where :meth:`write_profiles` writes: ``level-<w>.json`` per level (see :func:`level_name`)."""
        return profile_paths(folder, self.levels)

    def write_profiles(self, folder: str | Path) -> list[Path]:
        """One profile per level, ``level-<w>.json`` in ``folder`` (for check/compare)."""
        paths = self.profile_paths(folder)
        for p, path in zip(self.points, paths):
            p.profile.to_json(path)
        return paths


def profile_paths(folder: str | Path, levels: list[float]) -> "list[Path | str]":
    """``folder/level-<w>.json`` for each level (URLs under a bucket prefix); distinct levels never
    share a name."""
    from ..files.remote import is_url

    if is_url(str(folder)):
        return [f"{str(folder).rstrip('/')}/level-{level_name(v)}.json" for v in levels]
    return [Path(folder) / f"level-{level_name(v)}.json" for v in levels]


def level_name(level: float) -> str:
    """The level as written in file names: the shortest text that reads back as the same float
    (``0.1``, ``0.1000001``, ``2``, ``1e-05``), so two levels never share a name."""
    text = repr(float(level))
    return text[:-2] if text.endswith(".0") else text


def load_result(path: str | Path) -> "Profile | Sweep":
    """A profile or a sweep file, by its ``format``, validated against the shipped schemas."""
    from .profile import read_json
    from .validate import validate_profile, validate_sweep

    d = read_json(path)
    if isinstance(d, dict) and d.get("format") == FORMAT:
        validate_sweep(d, str(path))
        return Sweep.from_dict(d, str(path))
    validate_profile(d, str(path))
    profile = Profile.from_dict(d, str(path))
    profile.origin = str(path)
    return profile


def _thirds(profile: Profile) -> list[list]:
    """The layers in depth thirds (shallow, middle, deep) by position, or one group when there are
    fewer than three: the same groups at every level of a sweep, whatever is live there."""
    layers = list(profile.layers)
    n = len(layers)
    return [layers[i * n // 3:(i + 1) * n // 3] for i in range(3)] if n >= 3 else [layers]


def third_means(profile: Profile, units: str = "band") -> list[float]:
    """Mean of the layer means of each depth third (shallow, middle, deep) over its layers with
    live maps; NaN for a third without any (e.g. every map non-finite at a huge level)."""
    out = []
    for part in _thirds(profile):
        means = [lay.summary(units).mean for lay in part if lay.stats.count]
        out.append(float(np.mean(means)) if means else float("nan"))
    return out


def _json_number(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _text(x: float | None, digits: str = ".3f") -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, digits)


def sweep_verdict(sw: Sweep) -> dict:
    """What the data says: how each depth third's mean SROP (band units) and the model's output
    moved from the first level to the last (numbers a level could not give are None)."""
    if len(sw.points) < 2:
        return {"summary": "a single level: nothing to compare", "thirds": [], "deep": []}
    thirds = np.array([third_means(p.profile) for p in sw.points]).T  # (thirds, levels)
    names = ["shallow", "middle", "deep"][-len(thirds):] if len(thirds) == 3 else ["all layers"]
    lo, hi = sw.levels[0], sw.levels[-1]
    moves = []
    for name, series in zip(names, thirds):
        a, b = series[0], series[-1]
        digits = 3  # as many decimals as the change needs to show (0.8565 -> 0.8574, never 0.857 -> 0.857)
        while np.isfinite([a, b]).all() and digits < 6 and _text(a, f".{digits}f") == _text(b, f".{digits}f"):
            digits += 1
        same = _text(a, f".{digits}f") == _text(b, f".{digits}f")
        if not np.isfinite([a, b]).all():
            verb = "moved"
        else:
            verb = "stayed at" if same else "rose" if b > a else "fell"
        shown = _text(a, f".{digits}f") if same and np.isfinite([a, b]).all() else \
            f"{_text(a, f'.{digits}f')} -> {_text(b, f'.{digits}f')}"
        moves.append(f"{name} {verb} {shown}")
    text = f"mean SROP from w={lo:g} to w={hi:g} (band units): " + ", ".join(moves)
    change = [p.change.value for p in sw.points]
    measure = sw.points[-1].change.shown
    if change[-1] is not None:
        text += f"; {measure_label(measure)}: " + ", ".join(_text(v, ".3g") for v in change)
    rows = [[_json_number(v) for v in series] for series in thirds]
    return {"summary": text, "thirds": rows, "deep": rows[-1], "output_change": [_json_number(v) for v in change],
            "measure": measure}


def with_levels(sw: Sweep, levels: list[float]) -> Sweep:
    """The sweep restricted to ``levels`` (for plots of a few levels)."""
    return replace(sw, points=[p for p in sw.points if any(math.isclose(p.level, v, abs_tol=1e-9) for v in levels)])
