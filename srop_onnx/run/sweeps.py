"""The paper's input sanity checks as one run (Sec. 4.1, Figs. 2-3); see docs/sweeps.md.

An input sweep analyses the same inputs at several levels ``w`` of a perturbation:

- **blend**: ``x' = (1 - w) x + w I``, an image ``I`` blended into every input (the paper's
  frog/digit synthesis). Every preprocessing preset is affine per channel (scale, mean, std, a
  channel flip), so blending the preprocessed arrays is the paper's blend in pixel space before
  preprocessing; ``I`` is resized and cropped exactly as the inputs are.
- **noise**: ``x' = x + w * std(x) * e``, seeded Gaussian or uniform noise of unit variance on the
  preprocessed input's scale (``w`` is the noise-to-signal ratio of standard deviations). The
  noise of a sample depends on the seed and the sample's identity only (its path inside the
  input argument it was found under, and its row), so it is the same in every batch, shard and
  level, from any working directory and spelling of the path.

One process: each input is decoded once, one tapped session runs every level of a batch back to
back, each level has its own exact statistics (:class:`~srop_onnx.run.stages.RunState`), and each
level's profile is a valid SROP profile. Beside the SROPs, the model's own output at each level
is compared with the unperturbed output (``w = 0``, added when not asked for): the relative
change always, the top-1 agreement too for a rank-2 output, and the one shown is named (see
:class:`~srop_onnx.results.sweepresult.OutputChange`) - the stand-in for the paper's accuracy when there
are no labels.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UsageError, option
from ..config.options import check_seed
from ..config.settings import Execution, Hooks, Measurement
from ..results.sweepresult import (CHANGE_MEASURES, FORMAT, VERSION, OutputChange, Sweep, SweepPoint, load_result,
                                   sweep_verdict)

__all__ = ["FORMAT", "VERSION", "NOISE_KINDS", "MAX_LEVELS", "MAX_LEVEL", "parse_levels", "check_seed", "Blend",
           "Noise", "SweepPlan", "SweepPoint", "Sweep", "run_sweep", "sweep", "merge_sweeps", "sweep_verdict",
           "load_result"]

NOISE_KINDS = ("gaussian", "uniform")


#: at most this many levels in one sweep (each level is a full analysis and a profile in the file)
MAX_LEVELS = 256
#: the largest level accepted: beyond it float32 inputs overflow for ordinary data scales
MAX_LEVEL = 1e6


def _progression(parts: list[str]) -> list[float]:
    at = parts.index("...")
    if at != 2 or len(parts) != 4:
        raise ValueError
    a, b, end = float(parts[0]), float(parts[1]), float(parts[3])
    step = b - a
    if not all(math.isfinite(v) for v in (a, b, end, step)) or step <= 0 or end < b:
        raise ValueError
    count = (end - a) / step + 1e-9
    if count >= MAX_LEVELS:
        raise UsageError(f"{option('levels')} {','.join(parts)}: more than {MAX_LEVELS} levels; take a larger step")
    return [round(a + i * step, 12) for i in range(int(math.floor(count)) + 1)]


def parse_levels(text: str) -> list[float]:
    """``"0,0.25,1"`` or an arithmetic progression ``"0,0.1,...,1"`` (the first two values give
    the step, the last one the end, included) to sorted, distinct levels: finite, in
    ``[0, MAX_LEVEL]``, at most ``MAX_LEVELS`` of them (checked before any work)."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if len(parts) > MAX_LEVELS:
        raise UsageError(f"{option('levels')}: {len(parts)} levels, more than the {MAX_LEVELS} a sweep takes")
    try:
        values = _progression(parts) if "..." in parts else [float(p) for p in parts]
    except UsageError:
        raise
    except (ValueError, OverflowError):
        raise UsageError(f"{option('levels')} must be numbers like 0,0.5,1 or a progression like 0,0.1,...,1; got {text!r}") \
            from None
    if not values or not all(math.isfinite(v) and 0 <= v <= MAX_LEVEL for v in values):
        raise UsageError(f"{option('levels')} must be finite numbers in [0, {MAX_LEVEL:g}] (larger levels overflow float32 "
                         f"inputs), got {text!r}")
    return sorted(set(values))


def _level_text(levels) -> str:
    """Levels given as numbers (a list, a NumPy array) in the text :func:`parse_levels` reads."""
    try:
        return ",".join(repr(float(v)) for v in levels)
    except (TypeError, ValueError):
        raise UsageError(f"levels must be numbers like [0, 0.5, 1] or text like '0,0.1,...,1'; got {levels!r}") from None


@dataclass(frozen=True)
class Blend:
    """``x' = (1 - w) x + w I`` with ``image`` = I as a model-ready sample (no batch axis)."""

    image: np.ndarray
    source: str

    def apply(self, arr: np.ndarray, keys: list[str], level: float) -> np.ndarray:
        if level == 0:
            return arr
        if level == 1:
            return np.broadcast_to(self.image, arr.shape).astype(arr.dtype)
        return ((1 - level) * arr + level * self.image).astype(arr.dtype, copy=False)

    def describe(self) -> dict:
        return {"kind": "blend", "image": self.source}


def _key_words(key: str) -> list[int]:
    """Four 32-bit words of the SHA-256 of a sample's identity key (its place in the noise stream)."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


@dataclass(frozen=True)
class Noise:
    """``x' = x + w * std(x) * e`` with ``e`` of unit variance, seeded by ``seed`` and the sample's
    identity key (its path inside the input argument it was found under, plus its row): the same
    files give the same noise from any working directory, spelling of the path, batch or shard."""

    kind: str = "gaussian"
    seed: int = 0

    def __post_init__(self):
        if self.kind not in NOISE_KINDS:
            raise UsageError(f"{option('noise')} must be one of {', '.join(NOISE_KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "seed", check_seed(self.seed))

    def unit(self, shape: tuple, key: str) -> np.ndarray:
        """The unit-variance noise of the sample ``key``."""
        rng = np.random.default_rng([self.seed, *_key_words(key)])
        if self.kind == "gaussian":
            return rng.standard_normal(shape)
        return rng.uniform(-math.sqrt(3.0), math.sqrt(3.0), shape)

    def apply(self, arr: np.ndarray, keys: list[str], level: float) -> np.ndarray:
        if level == 0:
            return arr
        out = np.empty_like(arr)
        for i, (x, key) in enumerate(zip(arr, keys)):
            sigma = float(np.std(x, dtype=np.float64))
            out[i] = x + (level * sigma) * self.unit(x.shape, key)
        return out

    def describe(self) -> dict:
        return {"kind": "noise", "noise": self.kind, "seed": int(self.seed)}


# -- the run ---------------------------------------------------------------------------
def load_blend(path: str | Path, plan) -> Blend:
    """The blend image as a model-ready sample: an image preprocessed like the inputs, or one
    sample of a .npy/.npz file already shaped for the model input."""
    from ..inputs.preprocess import image_to_input
    from ..inputs.samples import check_array
    from ..files.filetypes import ARRAY_SUFFIXES
    from ..inputs.arrayfiles import read_arrays
    from ..model.modelio import read_image

    from ..files.remote import exists, is_url, read_bytes

    data = None
    if is_url(str(path)):  # an object in a bucket, read into memory
        if not exists(str(path)):
            raise UsageError(f"{option('blend')} {path}: no such object; give an image or a .npy sample")
        p, data = Path(str(path).rsplit("/", 1)[-1]), read_bytes(str(path))
    else:
        p = Path(path)
        if not p.is_file():
            raise UsageError(f"{option('blend')} {p}: no such file; give an image or a .npy sample")
    if p.suffix.lower() in ARRAY_SUFFIXES:
        rows = [r for a in read_arrays(p, data) for r in check_array(np.asarray(a), plan.spec, f"{option('blend')} {path}")]
        if len(rows) != 1:
            raise UsageError(f"{option('blend')} {p}: holds {len(rows)} samples; give exactly one")
        return Blend(np.ascontiguousarray(rows[0]), str(path))
    if plan.pre is None or plan.pre.size == (0, 0):
        raise UsageError(f"{option('blend')} {path}: images need a rank-4 model input of fixed size (or {option('size', 'HxW', py='(H, W)')})")
    return Blend(image_to_input(read_image(p, data), plan.spec, plan.pre), str(path))


def _default_output(proto, name: str | None) -> str:
    outputs = [o.name for o in proto.graph.output]
    if name is None:
        if not outputs:
            raise UsageError(f"the model has no graph output to compare; give {option('output', 'NAME')}")
        return outputs[0]
    if name not in outputs:
        raise UsageError(f"{option('output')}: the model has no output '{name}'; its outputs are: {', '.join(outputs)}")
    return name


@dataclass
class _LevelRuns:
    """One :class:`~srop_onnx.run.stages.RunState` and output tally per level; level 0 first."""

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
        from ..core._xp import to_numpy

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
    from ..inputs.samples import batched, prefetch, stack_rows

    done = 0
    if hooks.progress:
        hooks.progress(done, total)
    for batch in prefetch(batched(samples, make.batch_size)):
        arr = np.stack([s.array for s in batch])
        keys, rows = [s.key for s in batch], stack_rows(batch)
        for k, (level, run) in enumerate(zip(levels.levels, levels.runs)):
            x = perturb.apply(arr, keys, level)
            run.start(x)
            watch = _Observer(levels, k)
            feed(make.session.runner, run.reducer, x, hooks.notify, groups, observe=watch, rows=rows)
            watch.finish()
            run.advance(batch)
        done += len(batch)
        if hooks.progress:
            hooks.progress(done, total)


def _level_runs(model_plan, measure: Measurement, direct: bool, plan: SweepPlan, output: str) -> _LevelRuns:
    from .stages import RunState

    runs = [RunState(model_plan, measure, direct=direct) for _ in plan.levels]
    return _LevelRuns(plan.levels, runs, [OutputChange(prefer=plan.change) for _ in plan.levels], output)


def _share_baseline(levels: _LevelRuns, first) -> None:
    """Every level reduces the pooling chain of its own perturbed input (the chain is computed in
    the graph from what is fed), into an accumulator of its own."""
    from ..model.baseline import BaselineAccumulator

    base = levels.runs[0].base_acc
    if base is None or first is None:
        return
    spec = levels.runs[0].plan.spec
    for run in levels.runs[1:]:
        run.base_acc = BaselineAccumulator(spec, run.measure.kappa)
        run.base_acc.start(tuple(first.array.shape[a - 1] for a in spec.spatial_axes))
        run.base_acc.outputs = list(base.outputs)


@dataclass(frozen=True)
class SweepPlan:
    """What a sweep varies and watches: the perturbation (a :class:`Blend`, a :class:`Noise`, or the
    path of a blend image), the levels (0 is added), the model output compared with ``w = 0``
    (None: the first) and how its change is shown (``auto``, ``top1`` or ``relative``)."""

    perturb: object
    levels: list[float]
    output: str | None = None
    change: str = "auto"

    def __post_init__(self):
        if self.change not in CHANGE_MEASURES:
            raise UsageError(f"{option('change')} must be one of {', '.join(CHANGE_MEASURES)}, got {self.change!r}")
        object.__setattr__(self, "levels", sorted(set([0.0, *self.levels])))


def run_sweep(model, inputs, measure: Measurement, how: Execution, plan: SweepPlan, hooks: Hooks = Hooks()) -> Sweep:
    """The sweep over the stages of :mod:`srop_onnx.run.stages` (see the module docstring)."""
    from .stages import (ProfileMaker, build_profile, load_stage, no_inputs_error, open_inputs,
                         plan_model, start_session)

    if how.checkpoint is not None or how.keep_bins:
        raise UsageError(f"sweep keeps statistics per level in one run: drop {option('checkpoint')}/{option('kernels')}")
    if how.labels is not None:  # a sweep's profiles are per level, never per class
        raise UsageError(f"a sweep does not record classes: drop {option('labels')} (per-class SROPs: analyze with it)")
    model_plan = plan_model(load_stage(model), measure, inputs=inputs)
    perturb = load_blend(plan.perturb, model_plan) if isinstance(plan.perturb, (str, Path)) else plan.perturb
    source = open_inputs(inputs, model_plan.spec, how.shard, told=hooks.notify)
    for note in source.notes:
        hooks.notify(note)
    source.adopt_audio_rate(model_plan)
    output = _default_output(model_plan.loaded.proto, plan.output)
    tally = _level_runs(model_plan, measure, source.direct is not None, plan, output)
    samples, total = source.samples(model_plan, tally.runs[0], how)
    first = next(samples, None)
    make = ProfileMaker(model_plan, source.settings(model_plan, measure), how.shard,
                        start_session(model_plan, tally.runs[0], first, how, measure, hooks, (output,)),
                        shard_proof=source.shard_proof(how.shard) if how.shard else None)
    groups = make.size(first, how, hooks)
    _share_baseline(tally, first)
    _sweep_batches(itertools.chain([first], samples) if first is not None else samples, tally, perturb, make, groups,
                   hooks, total)
    for s in tally.runs[0].log.skipped:
        hooks.notify(f"skipped: {s['reason']}")
    if tally.runs[0].reducer is None and how.shard is None:
        raise no_inputs_error(tally.runs[0])
    points = []
    for level, run, change in zip(plan.levels, tally.runs, tally.changes):
        run.log = tally.runs[0].log
        profile = build_profile(run, make)
        profile.extra["sweep"] = {**perturb.describe(), "level": level}
        points.append(SweepPoint(level, profile, change))
    return Sweep(perturb.describe(), output, points)


def sweep(model, inputs, *, levels, blend=None, noise: str | None = None, seed: int = 0, output: str | None = None,
          change: str = "auto", **options) -> Sweep:
    """Analyse ``model`` over ``inputs`` at every level of a blend or a noise (keyword facade).

    Parameters
    ----------
    levels : sequence of float, or a string for :func:`parse_levels` (``"0,0.1,...,1"``).
    blend : path of an image (or a .npy sample) blended in as ``(1 - w) x + w I``.
    noise : ``gaussian`` or ``uniform``: ``x + w * std(x) * e``, seeded by ``seed`` (a whole number >= 0).
    output : the model output whose change is reported (default: the first).
    change : how the output change is shown: ``auto`` (top-1 agreement for a probability output,
        else the relative change), ``top1`` or ``relative``; both are recorded.
    options : :func:`srop_onnx.analyze`'s keywords (taps, preprocessing, provider, batch, shard,
        ``storage_options`` for URLs, ...).

    Returns
    -------
    Sweep, with a profile and an output change per level (level 0 added when missing).
    """
    from .analysis import split_options

    if (blend is None) == (noise is None):
        raise UsageError(f"sweep needs exactly one of {option('blend', 'IMAGE')} or {option('noise', 'gaussian|uniform')}")
    levels = parse_levels(levels if isinstance(levels, str) else _level_text(levels))
    perturb = Noise(noise, seed) if noise is not None else blend
    from ..files.remote import using_storage_options

    from .stages import exported

    storage, example = options.pop("storage_options", None), options.pop("example", None)
    measure, how, hooks = split_options(options)
    with using_storage_options(storage):
        model, inputs = exported(model, inputs, example, how.limit, hooks.progress, measure.input_name)
        return run_sweep(model, inputs, measure, how, SweepPlan(perturb, levels, output, change), hooks)


def merge_sweeps(parts: list[Sweep], names: list[str] | None = None) -> Sweep:
    """One sweep from the sweeps of all shards (``--shard I/N``), level by level."""
    from ..results.merge import merge_profiles

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
        change = parts[0].points[k].change
        for p in parts[1:]:
            change = change + p.points[k].change
        points.append(SweepPoint(level, merged, change))
    return Sweep(dict(ref.perturbation), ref.output, points)
