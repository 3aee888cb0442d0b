"""The stages of an analysis, each a function or a small object that can be tested alone.

::

    load_stage      model path -> LoadedModel                      (modelio)
    plan_model      LoadedModel + Measurement -> ModelPlan           (graph, inputs)
    open_inputs     inputs + ModelPlan + Execution -> InputSet       (inputs: files, keys, shard)
    RunState        what a run accumulates; checkpoints save/restore it
    start_session   tapped graph (+ baseline chain) -> Runner       (graph, runtime)
    choose_batch    batch size and tap groups for that runner       (execution)
    batch_loop      batches -> runner -> reducer -> statistics      (execution, reducer)
    build_profile   RunState -> Profile                              (profile, baseline)

:func:`srop_onnx.run.analysis.analyze` is the keyword facade that builds the
values (:mod:`srop_onnx.config.settings`) and calls these in order.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

import numpy as np

from .._version import version
from ..errors import InputDataError, ModelError, SropError, UsageError, nothing_usable, option
from ..model.graph import (DEFAULT_OPS, Tap, expose_outputs, find_taps, infer_value_types, split_weights,
                           weight_arrays)
from ..model.layouts import propagate_layouts
from ..inputs.inputset import InputSet, npz_names, open_inputs
from ..inputs.inputspec import InputSpec, input_spec
from ..model.modelio import LoadedModel, as_loaded, runnable_model
from ..inputs.preprocess import Preprocess, make_preprocess
from ..inputs.samples import InputLog, Sample
from ..results.profile import Profile
from .reducer import LayerReducer
from ..config.settings import Execution, Hooks, Measurement

if TYPE_CHECKING:
    from ..inputs.audio import AudioPrep

__all__ = [
    "held_budget",
    "read_inputs",
    "torch_sample_rank",
    "read_before_model",
    "ModelPlan",
    "InputSet",
    "RunState",
    "load_stage",
    "prepare_taps",
    "plan_model",
    "open_inputs",
    "start_session",
    "choose_batch",
    "batch_loop",
    "build_profile",
]

#: samples per run on the CPU when the user does not say (see benchmarks/RESULTS.md)
CPU_DEFAULT_BATCH = 8


def load_stage(model: "str | os.PathLike | bytes | LoadedModel") -> LoadedModel:
    """The model to analyse: a path is read (weights left where they are); ONNX bytes or an
    ``onnx.ModelProto`` are parsed from memory; a LoadedModel passes. (The CPU kernels' modules
    are imported while the session starts, see :func:`start_session`.)"""
    return as_loaded(model)


def exported(model, inputs, example=None, limit: "int | None" = None, progress=None, input_name: "str | None" = None) -> tuple:
    """``(model, inputs)`` as a Python facade runs them: a ``torch.nn.Module`` or a Keras model exported
    to ONNX in memory (named after its class), anything else as given; the inputs as
    :func:`~srop_onnx.inputs.inputset.in_memory` takes them, read once (a data loader is not read again
    by each stage, nor reshuffled; only as far as ``limit`` samples). PyTorch's exporter runs the module on an example batch:
    ``example``, else the first row of ``inputs`` when they are arrays (one batch, a list of batches, a
    data loader's). ``progress``: the run's; where it is the notebook's text bar, a data loader's
    reading shows as one too. An ONNX model is loaded first where a loader read as far as ``limit``
    needs its input's rank (``input_name``'s) to tell a batch from a sample."""
    from ..inputs.memory import example_of
    from ..model.frameworks import framework_of, to_onnx
    from ..model.modelio import LoadedModel, as_loaded

    kind = "onnx" if isinstance(model, LoadedModel) else framework_of(model)
    loaded: list = []

    def sample_rank(first) -> "int | None":
        if kind == "torch" and example is None:  # exported from the loader's first row, when it is a batch
            return torch_sample_rank(first, NO_TORCH_EXAMPLE)
        if kind != "onnx":
            return rank_before_export(model, kind, example)
        loaded.append(load_stage(model))
        return sample_rank_of(loaded[0], input_name)

    batch = None if inputs is None else read_inputs(inputs, limit, progress, sample_rank)
    if kind == "onnx":
        return (loaded[0] if loaded else model), batch
    if example is None:
        example = example_of(batch)
    if example is None and kind == "torch":
        raise UsageError(NO_TORCH_EXAMPLE)
    data, _ = to_onnx(model, example)
    return as_loaded(data, f"{type(model).__name__}.onnx"), batch


#: a torch module given neither ``example=`` nor inputs it can be exported from
NO_TORCH_EXAMPLE = ("a torch.nn.Module is exported to ONNX from an example batch: give example= (e.g. "
                    "torch.zeros(1, 3, 224, 224)), or inputs as an array batch or a data loader of batches; or export it "
                    "yourself (torch.onnx.export) and give the .onnx file")


def torch_sample_rank(first, refusal: str) -> int:
    """The sample rank of a torch module given no example, from a loader's first input: a batch by its
    shape (:func:`~srop_onnx.inputs.memory.rank_by_shape`), whose first row the module is exported
    from. Anything else cannot be exported: ``refusal``, at once, before the loader is read further."""
    from ..inputs.memory import rank_by_shape

    rank = rank_by_shape(first)
    if rank is None:
        raise UsageError(refusal)
    return rank


def read_inputs(inputs, limit: "int | None" = None, progress=None, sample_rank=None):
    """The inputs as :func:`~srop_onnx.inputs.inputset.in_memory` takes them, a data loader read once:
    only while what it gave takes at most :func:`held_budget`, and with a text bar of its own where the
    run's ``progress`` is one (a notebook's default; a ``progress`` of the user's own counts the run's
    inputs, not this); ``sample_rank(first)``: the rank of the model's samples, where it is known (asked
    with the loader's first input)."""
    from ..inputs.inputset import in_memory
    from .progress import TextBar

    bar = TextBar("reading") if isinstance(progress, TextBar) else None
    return in_memory(inputs, limit, held_budget(), bar, sample_rank)


def sample_rank_of(loaded, input_name: "str | None" = None) -> "int | None":
    """The rank of one sample of the input a run feeds (its graph rank less the batch axis); None
    where the model does not say which input that is (the run says so itself, later)."""
    from ..inputs.inputspec import input_spec

    try:
        return len(input_spec(loaded.proto, input_name).shape) - 1
    except SropError:
        return None


def rank_before_export(model, kind: str, example=None) -> "int | None":
    """The rank of one sample of a framework's model before it is exported: a Keras model's one input
    (its shape less the batch axis), a torch module's ``example`` batch's less one; None where
    neither says (a subclassed Keras model never called, a torch module without ``example``)."""
    shape = None
    if kind == "keras":
        try:
            shape = model.inputs[0].shape if len(model.inputs) == 1 else None
        except (AttributeError, ValueError, TypeError, RuntimeError):
            return None
    elif kind == "torch":
        shape = getattr(example, "shape", None)
    return len(shape) - 1 if shape is not None and len(shape) >= 1 else None


class _RankNeeded(Exception):
    """A loader's first item could be one sample or a batch, and no model says which yet."""


def read_before_model(inputs, limit: "int | None", progress=None):
    """``(inputs, loader)``: a loader read now when its items say how many samples they hold, or
    ``(None, loader)`` where only a model can (batches alone, ``limit`` given; a loader that can be
    read again): the caller reads it with the first model's sample rank (:func:`read_inputs`), as
    far as ``limit`` samples, rather than ``limit`` batches now."""
    def unknown(_first):
        raise _RankNeeded

    again = not isinstance(inputs, (list, tuple)) and hasattr(inputs, "__iter__") and not hasattr(inputs, "__next__")
    try:
        return read_inputs(inputs, limit, progress, unknown if again else None), None
    except _RankNeeded:
        return None, inputs


def held_budget() -> int | None:
    """The bytes a data loader's inputs may take while they are held for a run: half the host memory
    free now (the other half for the batch they are stacked into, and the run); None, no bound, where
    the platform does not say what is free (a guess would refuse loaders that fit)."""
    from .runtime import host_memory_free

    free = host_memory_free()
    return None if free is None else free // 2


def prepare_taps(proto, spec: InputSpec, *, ops=None, all_tensors=False, layers=None,
                 require: bool = True) -> tuple[list[Tap], list[dict]]:
    """Taps of ``proto`` with channel axes set from the input's layout (docs/models.md); none is an error
    unless ``require`` is False (``srop-onnx layers`` lists what cannot be tapped, and why)."""
    from ..model.subgraphs import subgraph_layers

    types = infer_value_types(proto, symbolic=not require)  # the listing (require=False) shows the shapes
    taps, skipped = find_taps(proto, ops=ops, all_tensors=all_tensors, layers=layers, types=types)
    inside = subgraph_layers(proto, ops or DEFAULT_OPS)
    skipped = skipped + inside
    if not taps and require:
        what = "rank-3/4 float tensors" if all_tensors else f"outputs of {', '.join(ops or DEFAULT_OPS)}"
        hint = "" if all_tensors else f"; try {option('all')}, or {option('ops')} with the model's op types"
        if layers:
            hint = f" matching {option('layers')} {layers!r}; loosen the pattern"
        if inside:
            hint = (f"; {len(inside)} such layer(s) live inside If/Loop/Scan subgraphs, whose tensors ONNX Runtime "
                    "cannot return (an If is tapped when its condition is a constant, or is computed from "
                    "scalar inputs an .npz feeds, such as a sample rate; 'srop-onnx layers MODEL' lists them)")
        volumes = [s for s in skipped if "3-D feature map" in str(s.get("reason", ""))]
        if volumes and len(volumes) == len(skipped):
            raise ModelError(f"model has no layer srop-onnx can measure: its {len(volumes)} tapped layer(s) are 3-D "
                             "feature maps (rank 5: volumes or clips), and SROPs are defined here for 1-D and 2-D "
                             "maps ('srop-onnx layers MODEL' lists them)")
        raise ModelError(f"model has no tappable layers ({what}){hint}")
    axes = propagate_layouts(proto, {} if spec.channel_axis is None else {spec.name: spec.channel_axis})
    for t in taps:
        if t.tensor in axes:
            t.channel_axis = axes[t.tensor]
    return taps, skipped


@dataclass
class ModelPlan:
    """A model and what will be measured on it: the input fed, its preprocessing, the taps."""

    loaded: LoadedModel
    spec: InputSpec
    pre: "Preprocess | AudioPrep | None"  # images (rank 4) or WAV files (rank 2/3)
    taps: list[Tap]
    skipped_taps: list[dict]
    notes: list[str] = field(default_factory=list)  # one line each, for the user (e.g. an inlined If)


def plan_model(loaded: LoadedModel, measure: Measurement, require_taps: bool = True, inputs=None) -> ModelPlan:
    """Pick the input, resolve preprocessing and find the taps (no run). An If with a constant
    condition is first replaced by the branch that runs, so its layers can be tapped. Among several
    model inputs, the arrays an .npz in ``inputs`` names pick the one to feed."""
    from dataclasses import replace

    from ..model.subgraphs import inline_constant_ifs

    known, where = {}, None
    if inputs is not None and any(n.op_type == "If" for n in loaded.proto.graph.node):
        from ..inputs.inputset import npz_scalars  # an If may branch on an input fed whole: a sample rate

        known, where = npz_scalars(inputs, {i.name for i in loaded.proto.graph.input})
    proto, notes = inline_constant_ifs(loaded.proto, known, where or "")
    if proto is not loaded.proto:
        loaded = replace(loaded, proto=proto)
    spec = input_spec(loaded.proto, measure.input_name, measure.layout,
                      named=(lambda: npz_names(inputs)) if inputs is not None else None)
    if spec.rank == 5 or spec.integer:  # volumes, and integer inputs (ids, bytes, int8): arrays as they are
        pre = None
    elif spec.rank == 4 or spec.layout == "NHW":  # images (a one-channel image has no channel axis)
        pre = make_preprocess(spec, measure.preprocess, measure.mean, measure.std, measure.size, measure.crop)
    else:  # raw waveforms and 1-D signals: WAV files become inputs this way
        from ..inputs.audio import make_audio_prep

        pre = make_audio_prep(spec, measure.sample_rate, measure.size)
    taps, skipped = prepare_taps(loaded.proto, spec, ops=measure.ops, all_tensors=measure.all_tensors,
                                 layers=measure.layers, require=require_taps)
    from ..model.naming import MAX_METADATA_CHARS, unreadable_metadata

    odd = unreadable_metadata(loaded.proto.graph.node)
    if odd:
        notes.append(f"{odd} node(s) carry name-scope metadata (pkg.torch.onnx.name_scopes) that is not read "
                     f"(over {MAX_METADATA_CHARS} characters, deeply nested or not a list): named from their node names")
    return ModelPlan(loaded, spec, pre, taps, skipped, notes)


@dataclass
class RunState:
    """Everything a run accumulates; saved to and restored from checkpoints."""

    plan: ModelPlan
    measure: Measurement
    keep_bins: bool = False
    direct: bool = False  # inputs are the rows of an in-memory batch, not files
    digest: object = None  # srop_onnx.run.checkpoint.InputDigest of the files read, when checkpointing
    reducer: LayerReducer | None = None
    base_acc: object = None
    sources: list[str] = field(default_factory=list)
    labels: list | None = None  # one class (or None) per source, when the run labels its samples
    position: tuple[int, int] = (0, 0)
    first_shape: tuple | None = None
    log: InputLog = field(default_factory=InputLog)

    def start(self, arr: np.ndarray) -> None:
        """Create the reducer from the first batch (its spatial size fixes ``m_input``)."""
        if self.reducer is None:
            spatial = tuple(arr.shape[a] for a in self.plan.spec.spatial_axes)
            self.reducer = LayerReducer(self.plan.taps, spatial, self.measure.kappa, self.keep_bins,
                                        baseline=self.base_acc)
            self.first_shape = tuple(arr.shape[1:])

    def add_baseline(self, proto, sample: np.ndarray):
        """``proto`` (a copy the caller owns: changed in place) with the input's pooling chain as
        outputs (docs/baseline-and-twin.md), for inputs shaped like ``sample`` (one sample, no batch axis). The
        accumulator is created unless a checkpoint restored it (the restored reducer already
        holds that same object)."""
        from ..model.baseline import BaselineAccumulator
        from ..model.chain import add_pooling_chain

        spec = self.plan.spec
        if self.base_acc is None:
            self.base_acc = BaselineAccumulator(spec, self.measure.kappa)
        levels = self.base_acc.start(tuple(sample.shape[a - 1] for a in spec.spatial_axes))
        if levels == 0:
            return proto
        proto, self.base_acc.outputs = add_pooling_chain(proto, spec.name, spec.channel_axis, levels, copy=False)
        return proto

    def advance(self, batch: list[Sample]) -> None:
        """Record a fully counted batch: its sources and the resume position after it."""
        self.sources.extend(s.key for s in batch)  # identities, the same from any folder or spelling
        if self.labels is not None:
            self.labels.extend(s.label for s in batch)
        self.position = (0, self.position[1] + len(batch)) if self.direct else batch[-1].position_after
        if self.digest is not None:
            self.digest.cover(self.position[0] + (1 if self.position[1] else 0), self.log.digests)

    def state(self, profile: Profile, complete: bool) -> dict:
        return {"position": list(self.position), "first_shape": list(self.first_shape or ()),
                "inputs_read": self.digest.state() if self.digest is not None else None,
                "input_spatial": list(self.reducer.input_spatial) if self.reducer else None,
                "partial": profile.to_dict(), "baseline": self.base_acc.state() if self.base_acc else None,
                "complete": complete}

    def restore(self, state: dict) -> None:
        from ..model.baseline import BaselineAccumulator

        partial = Profile.from_dict(state["partial"], "checkpoint")
        self.position = tuple(state["position"])
        self.first_shape = tuple(state["first_shape"]) or None
        self.sources = list(partial.sources)
        if self.labels is not None:
            self.labels = list(partial.labels or [None] * len(partial.sources))
        self.log.skipped = list(partial.skipped_inputs)
        self.log.skipped_at = [-1] * len(self.log.skipped)
        if state.get("baseline") is not None:
            self.base_acc = BaselineAccumulator.from_states([state["baseline"]], self.plan.spec, self.measure.kappa)
        if state.get("input_spatial"):
            self.reducer = LayerReducer(self.plan.taps, tuple(state["input_spatial"]), self.measure.kappa,
                                        self.keep_bins, baseline=self.base_acc)
            self.reducer.restore(partial)


@dataclass
class Session:
    """The running tapped model: its runner, the provider it runs on, the outputs it fetches."""

    runner: object  # srop_onnx.run.runtime.Runner
    choice: object  # srop_onnx.run.runtime.ProviderChoice


def start_session(plan: ModelPlan, run: RunState, first: Sample | None, how: Execution,
                  measure: Measurement, hooks: Hooks, extra_outputs: tuple[str, ...] = ()) -> Session:
    """Expose the taps (and the baseline's pooling chain) as outputs and start ONNX Runtime;
    ``extra_outputs`` (graph outputs of the model) are fetched with them."""
    from ..core._xp import beside, preload, threads_note
    from .runtime import RunnerOptions, choose_provider, start_runner

    choice = choose_provider(how.provider)
    (hooks.notify if choice.notable else hooks.detail)(f"provider: {choice.note}")
    if threads_note() is not None:
        hooks.notify(threads_note())
    light, heavy = split_weights(plan.loaded.proto)  # the graph is copied and serialized without its weights
    tapped = expose_outputs(light, plan.taps)
    if measure.baseline and first is not None:
        tapped = run.add_baseline(tapped, first.array)
    graph_bytes, folder = runnable_model(plan.loaded, tapped)
    del tapped, light
    outputs = [t.tensor for t in plan.taps] + (run.base_acc.outputs if run.base_acc is not None else [])
    outputs += [name for name in extra_outputs if name not in outputs]
    options = RunnerOptions(external_folder=folder, iobinding=how.iobinding, memory_budget=how.memory_budget,
                            tf32=measure.tf32, notify=hooks.notify, weights=weight_arrays(heavy),
                            feeds=first.extras if first is not None else None,
                            row_inputs=tuple(first.rows_of) if first is not None else ())
    if first is not None and (first.rows_of or first.extras):
        _say_feeds(first, plan.spec.name, hooks.notify)
    # ONNX Runtime builds the session (GIL released) while the CPU kernels' modules are imported here
    (runner, choice), _ = beside(lambda: start_runner(graph_bytes, choice, how.provider, plan.spec, outputs, options),
                                 preload)
    return Session(runner, choice)


def _say_feeds(first: Sample, name: str, notify) -> None:
    """One line on how an .npz feeds the model's inputs: split with the samples, or whole."""
    split_names, whole_names = [name] + sorted(first.rows_of), sorted(first.extras)
    split, whole = ", ".join(split_names), ", ".join(whole_names)
    said = f"inputs {split} are" if len(split_names) > 1 else f"input {split} is"
    goes = "go" if len(whole_names) > 1 else "goes"
    notify(f"note: {said} split with the samples" + (f"; {whole} {goes} whole with every run" if whole else ""))


def default_batch(device: str) -> "int | str":
    """The batch when the user gives none: ``CPU_DEFAULT_BATCH`` on the CPU; on CUDA the
    largest that fits the device (``auto``), since a GPU wants large batches."""
    return "auto" if device == "cuda" else CPU_DEFAULT_BATCH


def choose_batch(session: Session, first: Sample | None, how: Execution, hooks: Hooks) -> tuple[int, list | None]:
    """``(batch size, tap groups or None)``: the user's batch, the device default, ``auto``
    sizing from one probe run, and ``--max-memory`` tap groups. Under an address-space limit
    (``ulimit -v``) without ``--max-memory``, a share of what is left under the limit bounds the
    tap outputs the same way, so the run fits the limit instead of running out of it."""
    from .execution import auto_batch, probe, tap_groups
    from .limits import address_space_budget

    runner = session.runner
    batch = how.batch_size if how.batch_size is not None else default_batch(runner.device)
    if first is None:
        return (1 if batch == "auto" else int(batch)), None
    limited = address_space_budget() if how.max_memory is None and runner.device == "cpu" else None
    per = probe(runner, first.array, first.rows_of) if batch == "auto" or how.max_memory is not None or limited else None
    if batch == "auto":
        batch, text = auto_batch(per, first.array, runner.device)
        hooks.notify(text)
    groups = None
    if how.max_memory is not None:
        groups, batch = tap_groups(per, runner.output_names, int(batch), int(how.max_memory), hooks.notify)
    elif limited is not None:  # the whole network's activations grow with the batch: bound the batch
        fits = max(1, limited // max(1, sum(per.values()) + int(first.array.nbytes)))
        if fits < int(batch):
            hooks.notify(f"the address-space limit (ulimit -v) leaves {limited / 2**20:.0f} MiB for tap outputs: "
                         f"using a batch of {fits} instead of {batch}")
            batch = fits
    return int(batch), groups


@dataclass
class Checkpointer:
    """Saves the run every ``every`` batches under ``path`` (nothing when ``path`` is None)."""

    path: "str | os.PathLike | None"
    ident: str | None
    every: int = 10

    def due(self, batches: int) -> bool:
        return self.path is not None and batches % self.every == 0

    def save(self, run: RunState, profile: Profile, complete: bool) -> None:
        from .checkpoint import save_checkpoint

        save_checkpoint(self.path, {"fingerprint": self.ident, **run.state(profile, complete)})


def open_checkpoint(plan: ModelPlan, inputs: InputSet, settings: dict, run: RunState, how: Execution,
                    hooks: Hooks) -> Checkpointer:
    """The run's checkpointer; restores ``run`` from an existing checkpoint of the same run."""
    if how.checkpoint is None:
        return Checkpointer(None, None)
    from .checkpoint import InputDigest, fingerprint, load_checkpoint

    ident = fingerprint(plan.loaded.sha256, settings, inputs.list_digest, {
        "shard": how.shard, "limit": how.limit, "input": plan.spec.name, "layout": plan.spec.layout,
        "keep_bins": how.keep_bins, "baseline": run.measure.baseline,
        # rows in memory: how many, and what they are (the files' bytes are verified as they are read)
        "direct": None if inputs.direct is None else [len(inputs.direct), inputs.list_digest],
        **({"labels": how.labels.fingerprint()} if how.labels is not None else {})})
    saved = load_checkpoint(how.checkpoint, ident)
    run.digest = InputDigest(inputs.paths)
    if saved is not None:
        changed = run.digest.verify(saved.get("inputs_read"))
        if changed:
            raise UsageError(f"{option('checkpoint')} {how.checkpoint}: {changed}; delete the checkpoint to start over")
        run.restore(saved)
        hooks.notify(f"resuming from {how.checkpoint}: {len(run.sources)} sample(s) already done")
    return Checkpointer(how.checkpoint, ident, int(how.checkpoint_every))


@dataclass
class ProfileMaker:
    """Builds the profile of what a run has accumulated so far (for checkpoints and the end)."""

    plan: ModelPlan
    settings: dict
    shard: tuple[int, int] | None
    session: Session | None = None
    batch_size: int = 1
    shard_proof: dict | None = None  # InputSet.shard_proof of a sharded run
    record_run: bool = False  # write the run's facts (memory, time, host) into the profile
    auto: bool = False  # the batch was sized to the free memory (recorded as "auto": it varies)
    started: float = field(default_factory=time.monotonic)

    def run_facts(self) -> dict:
        """Facts about this run (``Profile.run``): they change from run to run."""
        from .execution import peak_memory

        runner = self.session.runner
        facts = {"batch_size": self.batch_size, "run_batch": runner.max_batch or self.batch_size,
                 "iobinding": runner.iobinding, **peak_memory()}
        if self.record_run:
            import platform
            from datetime import datetime, timezone

            facts.update(wall_seconds=round(time.monotonic() - self.started, 3), host=platform.node(),
                          date=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        return facts

    def __call__(self, run: RunState, partial: bool = False) -> Profile:
        return build_profile(run, self, partial)

    def size(self, first: Sample | None, how: Execution, hooks: Hooks) -> list | None:
        """Choose the batch (and ``--max-memory`` tap groups) for this session; returns the groups."""
        self.batch_size, groups = choose_batch(self.session, first, how, hooks)
        asked = how.batch_size if how.batch_size is not None else default_batch(self.session.runner.device)
        self.auto, self.record_run = asked == "auto", how.record_run
        return groups


def batch_loop(samples: Iterator[Sample], run: RunState, make: ProfileMaker, groups: list | None,
               ckpt: Checkpointer, hooks: Hooks, total: int | None) -> None:
    """Run every batch through the session and count it; save checkpoints; report progress.
    Ctrl-C or SIGTERM stops the loop at the next batch boundary, after a checkpoint is saved."""
    from .execution import feed
    from ..inputs.samples import batched, prefetch, stack_rows
    from .signals import BatchBoundary

    done, batches = len(run.sources), 0
    if hooks.progress:
        hooks.progress(done, total)
    with BatchBoundary() as stop:
        for batch in prefetch(batched(samples, make.batch_size)):
            arr = np.stack([s.array for s in batch])
            run.start(arr)
            feed(make.session.runner, run.reducer, arr, hooks.notify, groups, rows=stack_rows(batch))
            run.advance(batch)
            done += len(batch)
            batches += 1
            if ckpt.path is not None and (ckpt.due(batches) or stop.stopping):
                ckpt.save(run, make(run, partial=True), complete=False)
            if hooks.progress:
                hooks.progress(done, total)
            stop.check()


def no_inputs_error(run: RunState) -> InputDataError:
    """Why a run counted nothing: the first skipped input, or no inputs at all."""
    return nothing_usable(run.log.skipped)


def build_profile(run: RunState, make: ProfileMaker, partial: bool = False) -> Profile:
    """The profile of what ``run`` has accumulated (``partial``: for a checkpoint)."""
    layer_list, skipped_run = run.reducer.layers() if run.reducer else ([], [])
    if run.reducer is not None and not layer_list and make.shard is None and not partial:
        said = [f"{s['name']}: {s['reason']}" for s in skipped_run]
        reasons = "; ".join(said[:4]) + (f"; and {len(said) - 4} more" if len(said) > 4 else "")
        raise ModelError(f"no tapped layer could be analysed ({reasons})")
    facts = make.run_facts()
    extra: dict = {"run": facts} if make.record_run else {}
    if run.base_acc is not None and layer_list:
        run.base_acc.attach(layer_list)
        extra["baseline"] = run.base_acc.summary(layer_list, run.measure.units)
    if make.shard is not None:
        extra["shard"] = make.shard_proof
    spec, loaded = make.plan.spec, make.plan.loaded
    return Profile(
        model={"path": loaded.shown, "sha256": loaded.sha256,
               "input": {"name": spec.name, "shape": list(spec.shape), "layout": spec.layout}},
        settings={**make.settings, "provider": make.session.choice.name,
                  "batch_size": "auto" if make.auto else make.batch_size},
        analyzed=len(run.sources),
        # a checkpoint keeps only skips of files before its position (the prefetcher may be ahead)
        skipped_inputs=run.log.before(run.position[0]) if partial else list(run.log.skipped),
        layers=layer_list, skipped_layers=make.plan.skipped_taps + skipped_run, tool_version=version(),
        sources=list(run.sources), extra=extra, run=facts,
        labels=None if run.labels is None else list(run.labels),
    )
