"""The paper's input sanity checks as one run (Sec. 4.1, Figs. 2-3).

An input sweep analyses the same inputs at several levels ``w`` of a perturbation:

- **blend**: ``x' = (1 - w) x + w I``, an image ``I`` blended into every input (the paper's
  frog/digit synthesis). Every preprocessing preset is affine per channel (scale, mean, std, a
  channel flip), so blending the preprocessed arrays is the paper's blend in pixel space before
  preprocessing; ``I`` is resized and cropped exactly as the inputs are.
- **noise**: ``x' = x + w * std(x) * e``, seeded Gaussian or uniform noise of unit variance on the
  preprocessed input's scale (``w`` is the noise-to-signal ratio of standard deviations). The
  noise of an input depends on the seed and the input's name only, so it is the same in every
  batch, shard and level (common random numbers: only ``w`` changes between levels).

One process: each input is decoded once, one tapped session runs every level of a batch back to
back, each level has its own exact statistics (:class:`~srop_onnx.stages.RunState`), and each
level's profile is a valid SROP profile. Beside the SROPs, the model's own output at each level
is compared with the unperturbed output (``w = 0``, added when not asked for): top-1 agreement
for a classifier output ``(N, K)``, the mean absolute change otherwise - the stand-in for the
paper's accuracy when there are no labels.
"""

from __future__ import annotations

import itertools
import json
import math
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .errors import InputDataError, UsageError
from .profile import Profile
from .settings import Execution, Hooks, Measurement

__all__ = ["FORMAT", "VERSION", "NOISE_KINDS", "parse_levels", "Blend", "Noise", "SweepPoint", "Sweep",
           "run_sweep", "sweep", "merge_sweeps", "sweep_verdict", "load_result"]

FORMAT = "srop-onnx-sweep"
VERSION = 1
NOISE_KINDS = ("gaussian", "uniform")


def parse_levels(text: str) -> list[float]:
    """``"0,0.25,1"`` or an arithmetic progression ``"0,0.1,...,1"`` (the first two values give
    the step, the last one the end, included) to sorted, distinct levels."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        if "..." in parts:
            at = parts.index("...")
            if at != 2 or len(parts) != 4:
                raise ValueError
            a, b, end = float(parts[0]), float(parts[1]), float(parts[3])
            step = b - a
            if step <= 0 or end < b:
                raise ValueError
            count = int(math.floor((end - a) / step + 1e-9)) + 1
            values = [round(a + i * step, 12) for i in range(count)]
        else:
            values = [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"--levels must be numbers like 0,0.5,1 or a progression like 0,0.1,...,1; got {text!r}") \
            from None
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise UsageError(f"--levels must be finite numbers >= 0, got {text!r}")
    return sorted(set(values))


@dataclass(frozen=True)
class Blend:
    """``x' = (1 - w) x + w I`` with ``image`` = I as a model-ready sample (no batch axis)."""

    image: np.ndarray
    source: str

    def apply(self, arr: np.ndarray, sources: list[str], level: float) -> np.ndarray:
        if level == 0:
            return arr
        if level == 1:
            return np.broadcast_to(self.image, arr.shape).astype(arr.dtype)
        return ((1 - level) * arr + level * self.image).astype(arr.dtype, copy=False)

    def describe(self) -> dict:
        return {"kind": "blend", "image": self.source}


@dataclass(frozen=True)
class Noise:
    """``x' = x + w * std(x) * e`` with ``e`` of unit variance, seeded by ``seed`` and the input's name."""

    kind: str = "gaussian"
    seed: int = 0

    def __post_init__(self):
        if self.kind not in NOISE_KINDS:
            raise UsageError(f"--noise must be one of {', '.join(NOISE_KINDS)}, got {self.kind!r}")

    def _unit(self, shape: tuple, source: str) -> np.ndarray:
        rng = np.random.default_rng([int(self.seed) & 0xFFFFFFFF, zlib.crc32(source.encode("utf-8", "replace"))])
        if self.kind == "gaussian":
            return rng.standard_normal(shape)
        return rng.uniform(-math.sqrt(3.0), math.sqrt(3.0), shape)

    def apply(self, arr: np.ndarray, sources: list[str], level: float) -> np.ndarray:
        if level == 0:
            return arr
        out = np.empty_like(arr)
        for i, (x, source) in enumerate(zip(arr, sources)):
            sigma = float(np.std(x, dtype=np.float64))
            out[i] = x + (level * sigma) * self._unit(x.shape, source)
        return out

    def describe(self) -> dict:
        return {"kind": "noise", "noise": self.kind, "seed": int(self.seed)}


@dataclass
class OutputChange:
    """How far the model's output moved from the unperturbed one, exactly mergeable:
    ``agree``/``count`` (top-1 agreement) or ``abs_sum``/``count`` (mean absolute change)."""

    measure: str | None = None  # "top1_agreement" or "mean_abs_change"
    agree: int = 0
    abs_sum: float = 0.0
    count: int = 0

    def add(self, ref: np.ndarray, out: np.ndarray) -> None:
        classifier = ref.ndim == 2 and ref.shape[1] > 1
        self.measure = "top1_agreement" if classifier else "mean_abs_change"
        if classifier:
            self.agree += int(np.count_nonzero(np.argmax(ref, axis=1) == np.argmax(out, axis=1)))
            self.count += int(ref.shape[0])
        else:
            diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
            self.abs_sum += float(np.sum(diff[np.isfinite(diff)]))
            self.count += int(diff.size)

    @property
    def value(self) -> float | None:
        if not self.count:
            return None
        return (self.agree if self.measure == "top1_agreement" else self.abs_sum) / self.count

    def to_dict(self) -> dict:
        return {"measure": self.measure, "value": self.value, "agree": self.agree, "abs_sum": self.abs_sum,
                "count": self.count}

    @classmethod
    def from_dict(cls, d: dict | None) -> "OutputChange":
        d = d or {}
        return cls(d.get("measure"), int(d.get("agree", 0)), float(d.get("abs_sum", 0.0)), int(d.get("count", 0)))

    def __add__(self, other: "OutputChange") -> "OutputChange":
        return OutputChange(self.measure or other.measure, self.agree + other.agree, self.abs_sum + other.abs_sum,
                            self.count + other.count)


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

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": VERSION, "perturbation": self.perturbation, "output": self.output,
                "levels": self.levels, "verdict": sweep_verdict(self),
                "points": [{"level": p.level, "output_change": p.change.to_dict(), "profile": p.profile.to_dict()}
                           for p in self.points]}

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"
        if path is not None:
            from .writes import atomic_write_text

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

    def write_profiles(self, folder: str | Path) -> list[Path]:
        """One SPEC 10 profile per level, ``level-<w>.json`` in ``folder`` (for check/compare)."""
        folder = Path(folder)
        paths = []
        for p in self.points:
            path = folder / f"level-{p.level:g}.json"
            p.profile.to_json(path)
            paths.append(path)
        return paths


def load_result(path: str | Path) -> "Profile | Sweep":
    """A profile or a sweep file, by its ``format``."""
    from .profile import read_json

    from .validate import validate_profile

    d = read_json(path)
    if isinstance(d, dict) and d.get("format") == FORMAT:
        points = d.get("points")
        if not isinstance(points, list) or not points:
            raise InputDataError(f"{path}: a sweep without levels; regenerate it with 'srop-onnx sweep'")
        for p in points:
            validate_profile(p.get("profile") if isinstance(p, dict) else None, f"{path} (a level)")
        return Sweep.from_dict(d, str(path))
    validate_profile(d, str(path))
    return Profile.from_dict(d, str(path))


# -- the run ---------------------------------------------------------------------------
def load_blend(path: str | Path, plan) -> Blend:
    """The blend image as a model-ready sample: an image preprocessed like the inputs, or one
    sample of a .npy/.npz file already shaped for the model input."""
    from .preprocess import image_to_input
    from .samples import check_array
    from .filetypes import ARRAY_SUFFIXES
    from .modelio import read_arrays, read_image

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--blend {p}: no such file; give an image or a .npy sample")
    if p.suffix.lower() in ARRAY_SUFFIXES:
        rows = [r for a in read_arrays(p) for r in check_array(np.asarray(a), plan.spec, f"--blend {p}")]
        if len(rows) != 1:
            raise UsageError(f"--blend {p}: holds {len(rows)} samples; give exactly one")
        return Blend(np.ascontiguousarray(rows[0]), str(p))
    if plan.pre is None or plan.pre.size == (0, 0):
        raise UsageError(f"--blend {p}: images need a rank-4 model input of fixed size (or --size HxW)")
    return Blend(image_to_input(read_image(p), plan.spec, plan.pre), str(p))


def _default_output(proto, name: str | None) -> str:
    outputs = [o.name for o in proto.graph.output]
    if name is None:
        if not outputs:
            raise UsageError("the model has no graph output to compare; give --output NAME")
        return outputs[0]
    if name not in outputs:
        raise UsageError(f"--output: the model has no output '{name}'; its outputs are: {', '.join(outputs)}")
    return name


@dataclass
class _LevelRuns:
    """One :class:`~srop_onnx.stages.RunState` and output tally per level; level 0 first."""

    levels: list[float]
    runs: list
    changes: list[OutputChange]
    output: str
    reference: np.ndarray | None = None  # level 0's model output for the current batch


@dataclass
class _Observer:
    """``feed``'s ``observe`` for one level of one batch: collects the model output by row;
    :meth:`finish` keeps level 0's as the reference or tallies the change against it."""

    owner: _LevelRuns
    level_index: int
    seen: dict = field(default_factory=dict)

    def __call__(self, outputs: dict, start: int, step: int) -> None:
        from ._xp import to_numpy

        if self.owner.output in outputs:  # with --max-memory groups, one group carries it
            self.seen[start] = np.asarray(to_numpy(outputs[self.owner.output]))  # a retried run overwrites

    def finish(self) -> None:
        rows = np.concatenate([self.seen[k] for k in sorted(self.seen)])
        if self.level_index == 0:
            self.owner.reference = rows
        self.owner.changes[self.level_index].add(self.owner.reference, rows)


def _sweep_batches(samples, levels: _LevelRuns, perturb, make, groups, hooks: Hooks, total) -> None:
    """Every batch once through the session per level (level 0 first), each level counted apart."""
    from .execution import feed
    from .samples import batched, prefetch

    done = 0
    if hooks.progress:
        hooks.progress(done, total)
    for batch in prefetch(batched(samples, make.batch_size)):
        arr = np.stack([s.array for s in batch])
        sources = [s.source for s in batch]
        for k, (level, run) in enumerate(zip(levels.levels, levels.runs)):
            x = perturb.apply(arr, sources, level)
            run.start(x)
            watch = _Observer(levels, k)
            feed(make.session.runner, run.reducer, x, hooks.notify, groups, observe=watch)
            watch.finish()
            run.advance(batch)
        done += len(batch)
        if hooks.progress:
            hooks.progress(done, total)


def _level_runs(plan, measure: Measurement, direct: bool, levels: list[float], output: str) -> _LevelRuns:
    from .stages import RunState

    runs = [RunState(plan, measure, direct=direct) for _ in levels]
    return _LevelRuns(levels, runs, [OutputChange() for _ in levels], output)


def _share_baseline(levels: _LevelRuns, first) -> None:
    """Every level reduces the pooling chain of its own perturbed input (the chain is computed in
    the graph from what is fed), into an accumulator of its own."""
    from .baseline import BaselineAccumulator

    base = levels.runs[0].base_acc
    if base is None or first is None:
        return
    spec = levels.runs[0].plan.spec
    for run in levels.runs[1:]:
        run.base_acc = BaselineAccumulator(spec, run.measure.kappa)
        run.base_acc.start(tuple(first.array.shape[a - 1] for a in spec.spatial_axes))
        run.base_acc.outputs = list(base.outputs)


def run_sweep(model, inputs, measure: Measurement, how: Execution, perturb, levels: list[float],
              hooks: Hooks = Hooks(), output: str | None = None) -> Sweep:
    """The sweep over the stages of :mod:`srop_onnx.stages` (see the module docstring)."""
    from .stages import (ProfileMaker, build_profile, choose_batch, load_stage, no_inputs_error, open_inputs,
                         plan_model, start_session)

    if how.checkpoint is not None or how.keep_bins:
        raise UsageError("sweep keeps statistics per level in one run: drop --checkpoint/--kernels")
    levels = sorted(set([0.0, *levels]))
    plan = plan_model(load_stage(model), measure)
    if isinstance(perturb, (str, Path)):
        perturb = load_blend(perturb, plan)
    source = open_inputs(inputs, plan.spec, how.shard)
    source.adopt_audio_rate(plan)
    output = _default_output(plan.loaded.proto, output)
    tally = _level_runs(plan, measure, source.direct is not None, levels, output)
    samples, total = source.samples(plan, tally.runs[0], how)
    first = next(samples, None)
    make = ProfileMaker(plan, source.settings(plan, measure), how.shard,
                        start_session(plan, tally.runs[0], first, how, measure, hooks, (output,)),
                        shard_proof=source.shard_proof(how.shard) if how.shard else None)
    make.batch_size, groups = choose_batch(make.session, first, how, hooks)
    _share_baseline(tally, first)
    _sweep_batches(itertools.chain([first], samples) if first is not None else samples, tally, perturb, make, groups,
                   hooks, total)
    for s in tally.runs[0].log.skipped:
        hooks.notify(f"skipped: {s['reason']}")
    if tally.runs[0].reducer is None and how.shard is None:
        raise no_inputs_error(tally.runs[0])
    points = []
    for level, run, change in zip(levels, tally.runs, tally.changes):
        run.log = tally.runs[0].log
        profile = build_profile(run, make)
        profile.extra["sweep"] = {**perturb.describe(), "level": level}
        points.append(SweepPoint(level, profile, change))
    return Sweep(perturb.describe(), output, points)


def sweep(model, inputs, *, levels, blend=None, noise: str | None = None, seed: int = 0, output: str | None = None,
          **options) -> Sweep:
    """Analyse ``model`` over ``inputs`` at every level of a blend or a noise (keyword facade).

    Parameters
    ----------
    levels : sequence of float, or a string for :func:`parse_levels` (``"0,0.1,...,1"``).
    blend : path of an image (or a .npy sample) blended in as ``(1 - w) x + w I``.
    noise : ``gaussian`` or ``uniform``: ``x + w * std(x) * e``, seeded by ``seed``.
    output : the model output whose change is reported (default: the first).
    options : :func:`srop_onnx.analyze`'s keywords (taps, preprocessing, provider, batch, shard, ...).

    Returns
    -------
    Sweep, with a profile and an output change per level (level 0 added when missing).
    """
    from .analysis import split_options

    if (blend is None) == (noise is None):
        raise UsageError("sweep needs exactly one of --blend IMAGE or --noise gaussian|uniform")
    levels = parse_levels(levels) if isinstance(levels, str) else parse_levels(",".join(map(str, levels)))
    perturb = Noise(noise, seed) if noise is not None else blend
    measure, how, hooks = split_options(options)
    return run_sweep(model, inputs, measure, how, perturb, levels, hooks, output)


def merge_sweeps(parts: list[Sweep], names: list[str] | None = None) -> Sweep:
    """One sweep from the sweeps of all shards (``--shard I/N``), level by level."""
    from .merge import merge_profiles

    if not parts:
        raise UsageError("merge needs at least one partial sweep")
    names = names or [f"part {i + 1}" for i in range(len(parts))]
    ref = parts[0]
    for p, name in zip(parts[1:], names[1:]):
        if p.levels != ref.levels or p.perturbation != ref.perturbation or p.output != ref.output:
            raise UsageError(f"{name} and {names[0]} are different sweeps (levels, perturbation or output differ)")
    points = []
    for k, level in enumerate(ref.levels):
        merged = merge_profiles([p.points[k].profile for p in parts], [f"{n} level {level:g}" for n in names])
        merged.extra["sweep"] = dict(ref.points[k].profile.extra.get("sweep", {}))
        change = OutputChange()
        for p in parts:
            change = change + p.points[k].change
        points.append(SweepPoint(level, merged, change))
    return Sweep(dict(ref.perturbation), ref.output, points)


def _thirds(profile: Profile) -> list[list]:
    layers = [lay for lay in profile.layers if lay.stats.count]
    n = len(layers)
    return [layers[i * n // 3:(i + 1) * n // 3] for i in range(3)] if n >= 3 else [layers]


def third_means(profile: Profile, units: str = "band") -> list[float]:
    """Mean of the layer means of each depth third (shallow, middle, deep)."""
    return [float(np.mean([lay.summary(units).mean for lay in part])) if part else float("nan")
            for part in _thirds(profile)]


def sweep_verdict(sw: Sweep) -> dict:
    """What the data says: how each depth third's mean SROP (band units) and the model's output
    moved from the first level to the last."""
    if len(sw.points) < 2:
        return {"summary": "a single level: nothing to compare", "thirds": [], "deep": []}
    thirds = np.array([third_means(p.profile) for p in sw.points]).T  # (thirds, levels)
    names = ["shallow", "middle", "deep"][-len(thirds):]
    lo, hi = sw.levels[0], sw.levels[-1]
    moves = []
    for name, series in zip(names, thirds):
        verb = "rose" if series[-1] > series[0] else "fell" if series[-1] < series[0] else "stayed"
        moves.append(f"{name} {verb} {series[0]:.3f} -> {series[-1]:.3f}")
    text = f"mean SROP from w={lo:g} to w={hi:g} (band units): " + ", ".join(moves)
    change = [p.change.value for p in sw.points]
    measure = sw.points[-1].change.measure
    if change[-1] is not None:
        what = "top-1 agreement with w=0" if measure == "top1_agreement" else "mean absolute output change"
        text += f"; {what}: " + ", ".join(f"{v:.3g}" for v in change if v is not None)
    return {"summary": text, "thirds": thirds.tolist(), "deep": thirds[-1].tolist(), "output_change": change,
            "measure": measure}


def with_levels(sw: Sweep, levels: list[float]) -> Sweep:
    """The sweep restricted to ``levels`` (for plots of a few levels)."""
    return replace(sw, points=[p for p in sw.points if any(math.isclose(p.level, v, abs_tol=1e-9) for v in levels)])
