"""``analyze``: tap a model, run it over inputs, reduce every tap to exact statistics.

Streaming: each batch's tap outputs are reduced to roll-off bins (a few bytes
per map) and dropped before the next batch, so memory does not grow with the
number of inputs.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import __version__
from .errors import InputDataError, ModelError, UsageError
from .graph import DEFAULT_OPS, Tap, expose_outputs, find_taps, infer_value_types, propagate_layouts
from .inputs import InputLog, InputSpec, Sample, batched, input_spec, iter_samples, make_preprocess, prefetch
from .modelio import LoadedModel, discover_inputs, load_model, runnable_model
from .execution import auto_batch as _auto_batch
from .execution import feed as _feed
from .execution import peak_memory as _peak_memory
from .execution import probe as _probe
from .execution import tap_groups as _tap_groups
from .profile import Profile
from .reducer import LayerReducer

__all__ = ["analyze", "analyze_vs_random", "prepare_taps", "LayerReducer"]

ProgressFn = Callable[[int, "int | None"], None]


def prepare_taps(proto, spec: InputSpec, *, ops=None, all_tensors=False, layers=None) -> tuple[list[Tap], list[dict]]:
    """Taps of ``proto`` with channel axes set from the input's layout (SPEC 5)."""
    types = infer_value_types(proto)
    taps, skipped = find_taps(proto, ops=ops, all_tensors=all_tensors, layers=layers, types=types)
    if not taps:
        what = "rank-3/4 float tensors" if all_tensors else f"outputs of {', '.join(ops or DEFAULT_OPS)}"
        hint = "" if all_tensors else "; try --all, or --ops with the model's op types"
        if layers:
            hint = f" matching --layers {layers!r}; loosen the pattern"
        raise ModelError(f"model has no tappable layers ({what}){hint}")
    axes = propagate_layouts(proto, {spec.name: spec.channel_axis})
    for t in taps:
        if t.tensor in axes:
            t.channel_axis = axes[t.tensor]
    return taps, skipped


def _as_samples(inputs, spec: InputSpec, shard=None) -> tuple[list[Path] | None, list[Sample] | None, bool]:
    """(files, None, has_images) or (None, samples of an in-memory batch, False), sliced to
    ``shard``; ``has_images`` looks at the whole input list, so every shard agrees."""
    from .inputs import shard_slice

    if isinstance(inputs, np.ndarray):
        from .inputs import check_array

        batch = check_array(inputs, spec, "inputs array")
        part = shard_slice(batch.shape[0], shard)
        return None, [Sample(f"array[{i}]", batch[i], 0, i, batch.shape[0]) for i in range(part.start, part.stop)], False
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    files = discover_inputs(list(inputs))
    has_images = any(f.suffix.lower() not in (".npy", ".npz") for f in files)
    return files[shard_slice(len(files), shard)], None, has_images


@dataclass
class _Run:
    """Everything a run accumulates; saved to and restored from checkpoints."""

    taps: list[Tap]
    kappa: float
    keep_bins: bool
    baseline: bool
    spec: InputSpec
    reducer: LayerReducer | None = None
    base_acc: object = None
    sources: list[str] = field(default_factory=list)
    position: tuple[int, int] = (0, 0)
    first_shape: tuple | None = None
    log: InputLog = field(default_factory=InputLog)

    def start(self, arr: np.ndarray) -> None:
        if self.reducer is None:
            spatial = tuple(arr.shape[a] for a in self.spec.spatial_axes)
            self.reducer = LayerReducer(self.taps, spatial, self.kappa, self.keep_bins, baseline=self.base_acc)
            self.first_shape = tuple(arr.shape[1:])

    def add_baseline(self, proto, sample: np.ndarray):
        """``proto`` (a copy the caller owns: changed in place) with the input's pooling chain as
        outputs (SPEC 6), for inputs shaped like ``sample`` (one sample, no batch axis). The
        accumulator is created unless a checkpoint restored it (the restored reducer already
        holds that same object)."""
        from .baseline import BaselineAccumulator
        from .graph import add_pooling_chain

        if self.base_acc is None:
            self.base_acc = BaselineAccumulator(self.spec, self.kappa)
        levels = self.base_acc.start(tuple(sample.shape[a - 1] for a in self.spec.spatial_axes))
        if levels == 0:
            return proto
        proto, self.base_acc.outputs = add_pooling_chain(proto, self.spec.name, self.spec.channel_axis, levels,
                                                         copy=False)
        return proto

    def state(self, profile: Profile, complete: bool) -> dict:
        return {"position": list(self.position), "first_shape": list(self.first_shape or ()),
                "input_spatial": [self.reducer.input_side, self.reducer.input_dims] if self.reducer else None,
                "partial": profile.to_dict(), "baseline": self.base_acc.state() if self.base_acc else None,
                "complete": complete}

    def restore(self, state: dict) -> None:
        from .baseline import BaselineAccumulator

        partial = Profile.from_dict(state["partial"], "checkpoint")
        self.position = tuple(state["position"])
        self.first_shape = tuple(state["first_shape"]) or None
        self.sources = list(partial.sources)
        self.log.skipped = list(partial.skipped_inputs)
        self.log.skipped_at = [-1] * len(self.log.skipped)
        if state.get("baseline") is not None:
            self.base_acc = BaselineAccumulator.from_states([state["baseline"]], self.spec, self.kappa)
        if state.get("input_spatial"):
            side, dims = state["input_spatial"]
            self.reducer = LayerReducer(self.taps, (side,) * dims, self.kappa, self.keep_bins, baseline=self.base_acc)
            self.reducer.restore(partial)


def analyze(
    model: "str | os.PathLike | LoadedModel",
    inputs: str | os.PathLike | Sequence[str | os.PathLike] | np.ndarray,
    *,
    ops: Sequence[str] | None = None,
    all_tensors: bool = False,
    layers: str | None = None,
    provider: str = "auto",
    batch_size: int | str = 8,
    input_name: str | None = None,
    preprocess: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    size: tuple[int, int] | None = None,
    layout: str | None = None,
    limit: int | None = None,
    kappa: float = 0.85,
    units: str = "band",
    strict: bool = False,
    keep_bins: bool = False,
    baseline: bool = True,
    shard: tuple[int, int] | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 10,
    max_memory: int | None = None,
    progress: ProgressFn | None = None,
    notify: Callable[[str], None] | None = None,
    iobinding: bool | None = None,
    memory_budget: int | None = None,
) -> Profile:
    """SROP profile of every tapped layer of ``model`` over ``inputs``.

    Parameters
    ----------
    model : path of an .onnx file (never written).
    inputs : image files, .npy/.npz files, folders of them, or an array batch
        already shaped for the model input.
    ops, all_tensors, layers : which tensors to tap (SPEC 5); ``layers`` is a regex.
    provider : ``auto`` (CUDA when usable, else CPU), ``cpu`` or ``cuda``.
    batch_size : samples per run, or ``"auto"`` (the largest that fits the free memory).
        A fixed batch dim in the model is honoured; out-of-memory halves the run and retries.
    input_name : the model input to feed when it has several.
    preprocess, mean, std, size, layout : how images become inputs (see ``srop-onnx analyze --help``).
    limit : analyse at most this many samples.
    kappa : energy fraction of the roll-off (Eq. 2).
    units : ``band`` or ``input`` for the summary numbers (SPEC 1.6).
    strict : a bad input file is an error instead of being skipped.
    keep_bins : keep per-map roll-off bins (inputs x channels) per layer.
    baseline : add the pooling baseline of SPEC 6 per layer resolution.
    shard : ``(I, N)``: analyse only the I-th of N contiguous slices of the inputs (a partial
        profile for :func:`srop_onnx.merge.merge_profiles`).
    checkpoint, checkpoint_every : save the running statistics every K batches; a rerun with
        the same arguments resumes from there.
    max_memory : bytes the tap outputs of one run may take; taps are split into groups run
        in several passes (and the batch reduced) to stay under it.
    progress : called as ``progress(samples_done, samples_total_or_None)``.
    notify : called with one-line notes (provider choice, skipped inputs).
    iobinding : bind inputs/outputs with ONNX Runtime's IOBinding (default: on CUDA only).
    memory_budget : simulated limit in bytes on one run's tap outputs (tests OOM recovery).

    Returns
    -------
    Profile
    """
    from .runtime import choose_provider, start_runner
    from .spectral import _check_kappa

    kappa = _check_kappa(kappa)
    if units not in ("band", "input"):
        raise UsageError(f"--units must be 'band' or 'input', got {units!r}")
    auto_batch = isinstance(batch_size, str) and batch_size.lower() == "auto"
    if not auto_batch:
        try:
            batch_size = int(batch_size)
        except (TypeError, ValueError):
            raise UsageError(f"--batch-size must be a number >= 1 or 'auto', got {batch_size!r}") from None
        if batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1 or 'auto', got {batch_size}")
    if limit is not None and int(limit) < 1:
        raise UsageError(f"--limit must be >= 1, got {limit}")
    if limit is not None and shard is not None:
        raise UsageError("--limit and --shard cannot be combined (shards slice the whole input list)")
    if checkpoint is not None and keep_bins:
        raise UsageError("--kernels cannot be combined with --checkpoint: checkpoints keep statistics, not per-map bins")
    if checkpoint is not None and int(checkpoint_every) < 1:
        raise UsageError(f"--checkpoint-every must be >= 1, got {checkpoint_every}")
    notify = notify or (lambda _msg: None)

    loaded: LoadedModel = model if isinstance(model, LoadedModel) else load_model(model)
    spec = input_spec(loaded.proto, input_name, layout)
    pre = make_preprocess(spec, preprocess, mean, std, size)
    taps, skipped_taps = prepare_taps(loaded.proto, spec, ops=ops, all_tensors=all_tensors, layers=layers)
    files, direct, has_images = _as_samples(inputs, spec, shard)
    settings = {
        "kappa": kappa, "units": units, "taps": "all" if all_tensors else list(ops or DEFAULT_OPS), "layers": layers,
        "preprocess": pre.to_dict() if pre is not None and has_images else None,
    }
    choice = choose_provider(provider)
    notify(f"provider: {choice.note}")

    run = _Run(taps=taps, kappa=kappa, keep_bins=keep_bins, baseline=baseline, spec=spec)
    ident = None
    if checkpoint is not None:
        from .checkpoint import fingerprint, load_checkpoint

        ident = fingerprint(loaded.sha256, settings, files, {
            "shard": shard, "limit": limit, "input": spec.name, "layout": spec.layout, "keep_bins": keep_bins,
            "baseline": baseline, "direct": None if direct is None else len(direct)})
        saved = load_checkpoint(checkpoint, ident)
        if saved is not None:
            run.restore(saved)
            notify(f"resuming from {checkpoint}: {len(run.sources)} sample(s) already done")

    if direct is not None:
        rows = direct[:limit] if limit else direct
        samples = iter(rows[run.position[1]:])
        total = len(rows)
    else:
        samples = iter_samples(files, spec, pre, run.log, strict=strict, start=run.position,
                               first_shape=run.first_shape,
                               limit=None if limit is None else max(0, limit - len(run.sources)))
        images_only = all(f.suffix.lower() not in (".npy", ".npz") for f in files)
        total = (min(len(files), limit) if limit else len(files)) if images_only else None

    first = next(samples, None)
    tapped = expose_outputs(loaded.proto, taps)
    if baseline and first is not None:
        tapped = run.add_baseline(tapped, first.array)
    graph_bytes, folder = runnable_model(loaded, tapped)
    del tapped
    outputs = [t.tensor for t in taps] + (run.base_acc.outputs if run.base_acc is not None else [])
    runner, choice = start_runner(graph_bytes, choice, provider, spec, outputs, notify, external_folder=folder,
                                  iobinding=iobinding, memory_budget=memory_budget)
    del graph_bytes
    groups = None
    if first is not None:
        samples = itertools.chain([first], samples)
        per = _probe(runner, first.array) if auto_batch or max_memory is not None else None
        if auto_batch:
            batch_size, note = _auto_batch(per, first.array, runner.device)
            notify(note)
        if max_memory is not None:
            groups, batch_size = _tap_groups(per, runner.output_names, int(batch_size), int(max_memory), notify)
    elif auto_batch:
        batch_size = 1

    done = len(run.sources)
    batches = 0
    if progress:
        progress(done, total)
    for batch in prefetch(batched(samples, int(batch_size))):
        arr = np.stack([s.array for s in batch])
        run.start(arr)
        _feed(runner, run.reducer, arr, notify, groups)
        run.sources.extend(s.source for s in batch)
        run.position = batch[-1].position_after if direct is None else (0, run.position[1] + len(batch))
        done += len(batch)
        batches += 1
        if checkpoint is not None and batches % int(checkpoint_every) == 0:
            _save(run, checkpoint, ident, complete=False, profile=_profile(run, loaded, spec, settings, choice,
                  batch_size, skipped_taps, units, shard, runner, partial=True))
        if progress:
            progress(done, total)
    for s in run.log.skipped:
        notify(f"skipped: {s['reason']}")
    if run.reducer is None and shard is None:
        if run.log.skipped:
            first_bad = run.log.skipped[0]
            more = f" (and {len(run.log.skipped) - 1} more)" if len(run.log.skipped) > 1 else ""
            raise InputDataError(f"no usable inputs: {first_bad['reason']}{more}")
        raise InputDataError("no inputs to analyse; give image files, .npy/.npz arrays or folders of them")
    profile = _profile(run, loaded, spec, settings, choice, batch_size, skipped_taps, units, shard, runner)
    if checkpoint is not None:
        _save(run, checkpoint, ident, complete=True, profile=profile)
    return profile


def _save(run: _Run, path, ident: str, *, complete: bool, profile: Profile) -> None:
    from .checkpoint import save_checkpoint

    save_checkpoint(path, {"fingerprint": ident, **run.state(profile, complete)})


def _profile(run: _Run, loaded, spec, settings, choice, batch_size, skipped_taps, units, shard, runner,
             partial: bool = False) -> Profile:
    """The profile of what ``run`` has accumulated so far."""
    layer_list, skipped_run = run.reducer.layers() if run.reducer else ([], [])
    if run.reducer is not None and not layer_list and shard is None and not partial:
        reasons = "; ".join(sorted({s["reason"] for s in skipped_run}))
        raise ModelError(f"no tapped layer could be analysed ({reasons})")
    extra: dict = {"run": {"batch_size": int(batch_size), "run_batch": runner.max_batch or int(batch_size),
                           "iobinding": runner.iobinding, **_peak_memory()}}
    if run.base_acc is not None and layer_list:
        run.base_acc.attach(layer_list)
        extra["baseline"] = run.base_acc.summary(layer_list, units)
    if shard is not None:
        extra["shard"] = {"index": shard[0], "count": shard[1]}
    return Profile(
        model={"path": str(loaded.path), "sha256": loaded.sha256,
               "input": {"name": spec.name, "shape": list(spec.shape), "layout": spec.layout}},
        settings={**settings, "provider": choice.name, "batch_size": int(batch_size)},
        analyzed=len(run.sources),
        # a checkpoint keeps only skips of files before its position (the prefetcher may be ahead)
        skipped_inputs=run.log.before(run.position[0]) if partial else list(run.log.skipped),
        layers=layer_list,
        skipped_layers=skipped_taps + skipped_run,
        tool_version=__version__,
        sources=list(run.sources),
        extra=extra,
    )


def analyze_vs_random(model, inputs, *, seed: int = 0, **options) -> tuple[Profile, Profile, dict]:
    """Analyse ``model`` and its randomized twin (SPEC 7) on the same inputs.

    Returns ``(trained, twin, verdict)``; the trained profile's ``extra["vs_random"]``
    holds the twin's profile and the verdict, so one JSON file carries both.
    """
    from .compare import random_verdict
    from .modelio import in_memory_model, load_model_with_weights
    from .randomize import randomize

    loaded = load_model_with_weights(model)
    trained = analyze(loaded, inputs, **options)
    twin_proto, report = randomize(loaded.proto, seed=seed)
    twin_loaded = in_memory_model(twin_proto, f"{loaded.path} (randomized twin, seed {seed})")
    twin = analyze(twin_loaded, inputs, **{**options, "notify": None})  # notes were given for the first run
    verdict = random_verdict(trained, twin)
    verdict["seed"] = seed
    verdict["reinitialised"] = {"weights": len(report.weights), "biases": len(report.biases),
                                "batchnorm": len(report.batchnorm), "not_found": report.not_found}
    trained.extra["vs_random"] = {"verdict": verdict, "twin": twin.to_dict()}
    return trained, twin, verdict
