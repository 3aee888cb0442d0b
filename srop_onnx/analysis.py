"""``analyze``: tap a model, run it over inputs, reduce every tap to exact statistics.

Streaming: each batch's tap outputs are reduced to roll-off bins (a few bytes
per map) and dropped before the next batch, so memory does not grow with the
number of inputs.
"""

from __future__ import annotations

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
from .profile import LayerProfile, Profile
from .spectral import num_bins, num_bins_1d, rolloff_bins, rolloff_bins_1d, spectrum_ok
from .stats import LayerStats

__all__ = ["analyze", "analyze_vs_random", "prepare_taps", "LayerReducer"]

ProgressFn = Callable[[int, "int | None"], None]


@dataclass
class _TapState:
    tap: Tap
    shape: list[int] | None = None
    dims: int = 2
    stats: LayerStats | None = None
    skip: str | None = None
    bins: list[np.ndarray] = field(default_factory=list)


class LayerReducer:
    """Turns tap outputs of successive batches into per-layer statistics."""

    def __init__(self, taps: list[Tap], input_spatial: tuple[int, ...], kappa: float, keep_bins: bool = False):
        self.states = [_TapState(t) for t in taps]
        self.input_side = max(input_spatial)
        self.input_dims = len(input_spatial)
        self.kappa = kappa
        self.keep_bins = keep_bins

    def _prepare(self, st: _TapState, arr, n: int):
        """Channels-first float view of one tap output, or None (and st.skip) when unusable."""
        from ._xp import namespace

        xp = namespace(arr)
        tap = st.tap
        dt = str(arr.dtype)
        if not dt.startswith(("float", "bfloat")):
            if tap.dequant is None:
                st.skip = f"non-float tensor ({dt}) at run time"
                return None
            scale, zp = tap.dequant
            arr = (xp.astype(arr, xp.float32) - zp) * scale
        rank = arr.ndim
        if rank not in (3, 4):
            st.skip = f"rank {rank} tensor at run time: not a feature map" if rank < 5 else f"rank {rank} tensor (3-D convolution): not supported"
            return None
        if arr.shape[0] != n:
            st.skip = f"leading axis {arr.shape[0]} does not follow the batch of {n}"
            return None
        axis = tap.channel_axis if tap.channel_axis < rank else 1
        if axis != 1:
            perm = (0, axis) + tuple(a for a in range(1, rank) if a != axis)
            arr = xp.permute_dims(arr, perm)
        return arr

    def _first(self, st: _TapState, shape: list[int]) -> bool:
        """Fix a layer's shape and statistics from its first output; False when skipped."""
        reason = spectrum_ok(tuple(shape[1:]))
        if reason:
            st.skip = reason
            return False
        st.shape = shape
        st.dims = len(shape) - 1
        if st.dims == 2:
            m_in = num_bins(self.input_side) if self.input_dims == 2 else num_bins_1d(self.input_side)
            m = num_bins(max(shape[1:]))
        else:
            m_in = num_bins_1d(self.input_side)
            m = num_bins_1d(shape[1])
        st.stats = LayerStats(m=m, m_input=max(m_in, 1), channels=shape[0])
        return True

    def update(self, outputs: dict, n: int) -> None:
        """Reduce one batch of tap outputs. Transactional: bins of every layer are computed
        first and only then added, so a failure (e.g. out of memory) counts nothing twice."""
        from ._xp import to_numpy

        pending: list[tuple[_TapState, np.ndarray]] = []
        for st in self.states:
            if st.skip:
                continue
            arr = self._prepare(st, outputs[st.tap.tensor], n)
            if arr is None:
                continue
            shape = [int(d) for d in arr.shape[1:]]
            if st.shape is None:
                if not self._first(st, shape):
                    continue
            elif shape != st.shape:
                raise ModelError(f"tap '{st.tap.tensor}' changed shape between batches ({st.shape} -> {shape})")
            rb = rolloff_bins(arr, kappa=self.kappa) if st.dims == 2 else rolloff_bins_1d(arr, kappa=self.kappa)
            pending.append((st, np.asarray(to_numpy(rb.bins))))
        for st, bins in pending:
            st.stats.update(bins)
            if self.keep_bins:
                st.bins.append(bins.astype(np.int16 if st.stats.m < 32000 else np.int32))

    def layers(self) -> tuple[list[LayerProfile], list[dict]]:
        layers, skipped = [], []
        for st in self.states:
            t = st.tap
            if st.skip or st.stats is None:
                skipped.append({"tensor": t.tensor, "op": t.op, "name": t.name, "reason": st.skip or "never produced"})
                continue
            bins = np.concatenate(st.bins) if self.keep_bins and st.bins else None
            layers.append(LayerProfile(index=len(layers), name=t.name, tensor=t.tensor, node=t.node, op=t.op,
                                       shape=st.shape, stats=st.stats, bins=bins))
        return layers, skipped


def _feed(runner, reducer: LayerReducer, arr: np.ndarray, notify) -> None:
    """Run and reduce ``arr`` in runs the runner accepts; halve the run on out-of-memory."""
    from .cuda import is_out_of_memory

    i, n = 0, arr.shape[0]
    while i < n:
        step = runner.step(n - i)
        chunk = arr[i : i + step]
        try:
            outputs = runner.run(chunk)
            reducer.update(outputs, step)
            del outputs
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if step == 1:
                raise ModelError(f"out of memory even for a batch of 1 ({exc}); tap fewer layers (--layers/--ops) "
                                 "or use a machine with more memory") from exc
            runner.max_batch = max(1, step // 2)
            notify(f"out of memory at a batch of {step}: retrying with {runner.max_batch}")
            continue
        i += step


def _auto_batch(runner, first: np.ndarray, limit: int = 512) -> tuple[int, str]:
    """The largest batch whose tap outputs fit in half the free memory (ORT's own
    activations and the FFT work take the rest), measured with one probe run."""
    from .runtime import available_memory

    outputs = runner.run(first[None])
    per_sample = sum(int(v.nbytes) for v in outputs.values()) + int(first.nbytes)
    del outputs
    free = available_memory(runner.device)
    size = int(max(1, min(limit, (free // 2) // max(1, 3 * per_sample))))
    return size, f"--batch-size auto: {size} ({per_sample / 2**20:.1f} MiB of tap outputs per sample, {free / 2**30:.1f} GiB free on {runner.device})"


def _peak_memory() -> dict:
    import resource
    import sys

    from .cuda import peak_device_memory

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss = rss if sys.platform == "darwin" else rss * 1024
    out = {"peak_rss_bytes": int(rss)}
    dev = peak_device_memory()
    if dev is not None:
        out["device_pool_bytes"] = dev
    return out


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


def _as_samples(inputs, spec: InputSpec) -> tuple[list[Path] | None, list[Sample] | None]:
    if isinstance(inputs, np.ndarray):
        from .inputs import check_array

        batch = check_array(inputs, spec, "inputs array")
        return None, [Sample(f"array[{i}]", row) for i, row in enumerate(batch)]
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    return discover_inputs(list(inputs)), None


def analyze(
    model: "str | os.PathLike | LoadedModel",
    inputs: str | os.PathLike | Sequence[str | os.PathLike] | np.ndarray,
    *,
    ops: Sequence[str] | None = None,
    all_tensors: bool = False,
    layers: str | None = None,
    provider: str = "auto",
    batch_size: int = 8,
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
    progress : called as ``progress(samples_done, samples_total_or_None)``.
    notify : called with one-line notes (provider choice, skipped inputs).
    iobinding : bind inputs/outputs with ONNX Runtime's IOBinding (default: on CUDA only).
    memory_budget : simulated limit in bytes on one run's tap outputs (tests OOM recovery).

    Returns
    -------
    Profile
    """
    from .runtime import Runner, choose_provider
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
    notify = notify or (lambda _msg: None)

    loaded: LoadedModel = model if isinstance(model, LoadedModel) else load_model(model)
    spec = input_spec(loaded.proto, input_name, layout)
    pre = make_preprocess(spec, preprocess, mean, std, size)
    taps, skipped_taps = prepare_taps(loaded.proto, spec, ops=ops, all_tensors=all_tensors, layers=layers)
    files, direct = _as_samples(inputs, spec)
    choice = choose_provider(provider)
    notify(f"provider: {choice.note}")

    log = InputLog()
    if direct is not None:
        samples = iter(direct[:limit] if limit else direct)
        total = len(direct[:limit] if limit else direct)
    else:
        samples = iter_samples(files, spec, pre, log, strict=strict, limit=limit)
        total = min(len(files), limit) if limit and all(f.suffix.lower() not in (".npy", ".npz") for f in files) else (
            len(files) if all(f.suffix.lower() not in (".npy", ".npz") for f in files) else None)

    rewritten = expose_outputs(loaded.proto, taps)
    reducer: LayerReducer | None = None
    sources: list[str] = []
    base_acc = None
    graph_bytes, folder = runnable_model(loaded, rewritten)
    runner = Runner(graph_bytes, choice, spec, [t.tensor for t in taps], external_folder=folder,
                    iobinding=iobinding, memory_budget=memory_budget)
    del graph_bytes, rewritten
    if auto_batch:
        import itertools

        first = next(samples, None)
        if first is not None:
            batch_size, note = _auto_batch(runner, first.array)
            notify(note)
            samples = itertools.chain([first], samples)
        else:
            batch_size = 1
    done = 0
    if progress:
        progress(0, total)
    for batch in prefetch(batched(samples, int(batch_size))):
        arr = np.stack([s.array for s in batch])
        if reducer is None:
            spatial = tuple(arr.shape[a] for a in spec.spatial_axes)
            reducer = LayerReducer(taps, spatial, kappa, keep_bins)
            if baseline:
                from .baseline import BaselineAccumulator

                base_acc = BaselineAccumulator(spec, kappa)
        _feed(runner, reducer, arr, notify)
        if base_acc is not None:
            base_acc.update(arr)
        sources.extend(s.source for s in batch)
        done += len(batch)
        if progress:
            progress(done, total)
    for s in log.skipped:
        notify(f"skipped: {s['reason']}")
    if reducer is None:
        if log.skipped:
            first = log.skipped[0]
            more = f" (and {len(log.skipped) - 1} more)" if len(log.skipped) > 1 else ""
            raise InputDataError(f"no usable inputs: {first['reason']}{more}")
        raise InputDataError("no inputs to analyse; give image files, .npy/.npz arrays or folders of them")
    layer_list, skipped_run = reducer.layers()
    if not layer_list:
        reasons = "; ".join(sorted({s["reason"] for s in skipped_run}))
        raise ModelError(f"no tapped layer could be analysed ({reasons})")
    extra = {"run": {"batch_size": int(batch_size), "run_batch": runner.max_batch or int(batch_size),
                     "iobinding": runner.iobinding, **_peak_memory()}}
    if base_acc is not None:
        base_acc.attach(layer_list)
        extra["baseline"] = base_acc.summary(layer_list, units)
    input_shape = [d if d is not None else None for d in spec.shape]
    settings = {
        "kappa": kappa,
        "units": units,
        "taps": "all" if all_tensors else list(ops or DEFAULT_OPS),
        "layers": layers,
        "preprocess": pre.to_dict() if pre is not None and files is not None and any(
            f.suffix.lower() not in (".npy", ".npz") for f in files) else None,
        "provider": choice.name,
        "batch_size": int(batch_size),
    }
    return Profile(
        model={"path": str(loaded.path), "sha256": loaded.sha256,
               "input": {"name": spec.name, "shape": input_shape, "layout": spec.layout}},
        settings=settings,
        analyzed=len(sources),
        skipped_inputs=log.skipped,
        layers=layer_list,
        skipped_layers=skipped_taps + skipped_run,
        tool_version=__version__,
        sources=sources,
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
    quiet = {**options, "progress": options.get("progress"), "notify": None}
    twin = analyze(twin_loaded, inputs, **quiet)
    verdict = random_verdict(trained, twin)
    verdict["seed"] = seed
    verdict["reinitialised"] = {"weights": len(report.weights), "biases": len(report.biases),
                                "batchnorm": len(report.batchnorm), "not_found": report.not_found}
    trained.extra["vs_random"] = {"verdict": verdict, "twin": twin.to_dict()}
    return trained, twin, verdict
