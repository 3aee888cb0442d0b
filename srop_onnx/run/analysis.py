"""``analyze``: tap a model, run it over inputs, reduce every tap to exact statistics.

Streaming: each batch's tap outputs are reduced to roll-off bins (a few bytes
per map) and dropped before the next batch, so memory does not grow with the
number of inputs. :func:`analyze` is the keyword facade; :func:`run_analysis`
runs the named stages of :mod:`srop_onnx.run.stages` over two values,
:class:`~srop_onnx.config.settings.Measurement` (what is measured) and
:class:`~srop_onnx.config.settings.Execution` (how it runs).
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from typing import TYPE_CHECKING, Any, Callable, Protocol, Sequence

import numpy as np

from ..model.modelio import LoadedModel
from ..results.profile import Profile
from .reducer import LayerReducer
from ..config.labels import label_notes
from ..config.settings import Execution, Hooks, Measurement
from .stages import (ProfileMaker, RunState, batch_loop, build_profile, load_stage, no_inputs_error,
                     open_checkpoint, open_inputs, plan_model, prepare_taps, start_session)

if TYPE_CHECKING:
    import onnx
    import PIL.Image

__all__ = ["analyze", "analyze_vs_random", "run_analysis", "vs_random", "split_options", "prepare_taps", "LayerReducer"]

ProgressFn = Callable[[int, "int | None"], None]


class ArrayLike(Protocol):
    """What NumPy can read as an array: a framework's tensor (PyTorch, TensorFlow, JAX)."""

    def __array__(self) -> np.ndarray: ...


def analyze(
    model: "str | os.PathLike[str] | bytes | LoadedModel | onnx.ModelProto | object",
    inputs: "str | os.PathLike[str] | Sequence[object] | np.ndarray | ArrayLike | PIL.Image.Image",
    *,
    ops: Sequence[str] | None = None,
    all_tensors: bool = False,
    layers: str | None = None,
    provider: str | None = None,
    batch_size: int | str | None = None,
    input_name: str | None = None,
    preprocess: str | None = None,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    size: tuple[int, int] | None = None,
    crop: float | None = None,
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
    tf32: bool = False,
    sample_rate: int | None = None,
    record_run: bool = False,
    storage_options: "dict | None" = None,
    labels: Any = None,
    example: Any = None,
) -> Profile:
    """SROP profile of every tapped layer of ``model`` over ``inputs``.

    Parameters
    ----------
    model : path of an .onnx file (never written), or an in-memory model: ONNX bytes, an
        ``onnx.ModelProto`` (weights inside), or a ``torch.nn.Module`` or Keras model, exported to
        ONNX in memory first (PyTorch's exporter runs it on ``example``).
    inputs : image files, .npy/.npz files, folders of them, an array batch already shaped for the
        model input (or a framework's tensor), a list of PIL images (preprocessed as image
        files are) or of arrays (each a sample or a batch), or a data loader or data set
        (``(input, target)`` batches or items, or rows as dicts; read once, as far as ``limit``;
        targets that are one class per sample become the labels), or ``(path, label)`` pairs
        (``ImageFolder(...).samples``: the files, each labelled by its pair).
    ops, all_tensors, layers : which tensors to tap (docs/models.md); ``layers`` is a regex.
    provider : ``auto`` (CUDA when usable, else CPU), ``cpu`` or ``cuda``; default:
        ``SROP_ONNX_PROVIDER`` when set, else ``auto``.
    batch_size : samples per run, or ``"auto"`` (the largest that fits the free memory).
        Default: 8 on the CPU, ``auto`` on CUDA. A fixed batch dim in the model is honoured;
        out-of-memory halves the run and retries.
    input_name : the model input to feed when it has several.
    preprocess, mean, std, size, layout : how images become inputs (see ``srop-onnx analyze --help``).
    crop : the centre-crop ratio of images, overriding the preset's (1: the whole image, resized:
        for detection, OCR and segmentation models, whose inputs' borders matter).
    limit : analyse at most this many samples (a data loader is read only that far).
    kappa : energy fraction of the roll-off (Eq. 2).
    units : ``band`` or ``input`` for the summary numbers (docs/method.md).
    strict : a bad input file is an error instead of being skipped.
    keep_bins : keep per-map roll-off bins (inputs x channels) per layer.
    baseline : add the pooling baseline of docs/baseline-and-twin.md per layer resolution.
    shard : ``(I, N)``: analyse only the I-th of N contiguous slices of the inputs (a partial
        profile for :func:`srop_onnx.results.merge.merge_profiles`).
    checkpoint, checkpoint_every : save the running statistics every K batches; a rerun with
        the same arguments resumes from there.
    max_memory : bytes the tap outputs of one run may take; taps are split into groups run
        in several passes (and the batch reduced) to stay under it.
    progress : called as ``progress(samples_done, samples_total_or_None)``; by default nothing in
        a script and a text bar on standard error in a Jupyter notebook.
    notify : called with one-line notes (provider choice, skipped inputs).
    iobinding : bind inputs/outputs with ONNX Runtime's IOBinding (default: on CUDA only).
    memory_budget : simulated limit in bytes on one run's tap outputs (tests OOM recovery).
    tf32 : let ONNX Runtime's CUDA provider compute in TF32 (recorded in the settings;
        off by default, docs/method.md).
    sample_rate : the rate WAV inputs must have (default: the first WAV file's); ``size``
        gives raw-waveform models their length in samples.
    record_run : also write the facts of this run (peak memory, wall time, host, date) into the
        profile (``extra.run``); they are always in ``Profile.run``, never in the file by default,
        so two runs of the same command give byte-identical files.
    storage_options : settings for ``s3://`` and ``gs://`` URLs (the command line's
        ``--storage-option``): ``{"endpoint_url": "http://127.0.0.1:9000", "region_name": ...,
        "read_timeout": 30}``; never credentials (they come from the environment or a profile).
    labels : the class of each sample, recorded beside its source (docs/datasets.md):
        ``"folders"`` (the first folder under the input argument), a CSV file with columns
        ``path,label``, ``"npz:KEY"`` (an array of every .npz input), a mapping ``{source: label}``,
        or one label per row of an in-memory batch (``labels=y``) or per input file, in order;
        default: a data loader's targets when they are one class per sample, or the labels of
        ``(path, label)`` pairs.
    example : for a ``torch.nn.Module`` model, the batch its export runs it on (default: the first
        sample of ``inputs`` when they are arrays or a data loader; needed for files).

    Returns
    -------
    Profile
    """
    measure = Measurement(kappa=kappa, units=units, ops=ops, all_tensors=all_tensors, layers=layers,
                          input_name=input_name, layout=layout, preprocess=preprocess, mean=mean, std=std, size=size, crop=crop,
                          baseline=baseline, tf32=tf32, sample_rate=sample_rate)
    how = Execution(provider=provider, batch_size=batch_size, limit=limit, strict=strict, keep_bins=keep_bins,
                    shard=shard, checkpoint=checkpoint, checkpoint_every=checkpoint_every, max_memory=max_memory,
                    iobinding=iobinding, memory_budget=memory_budget, record_run=record_run, labels=labels)
    from ..files.remote import using_storage_options
    from .progress import default_progress

    from .stages import exported

    progress = default_progress(progress)  # a text bar in a notebook
    with using_storage_options(storage_options):
        model, inputs = exported(model, inputs, example, how.limit, progress, measure.input_name)
        return run_analysis(model, inputs, measure, how, Hooks(progress, notify))


def run_analysis(model, inputs, measure: Measurement, how: Execution, hooks: Hooks = Hooks()) -> Profile:
    """The analysis as its stages (:mod:`srop_onnx.run.stages`): load, plan, open the inputs,
    restore a checkpoint, start the session, size the batch, loop, build the profile."""
    plan = plan_model(load_stage(model), measure, inputs=inputs)
    for note in plan.notes:
        hooks.notify(note)
    inputs = open_inputs(inputs, plan.spec, how.shard, how.labels, hooks.notify)
    if how.labels is None and inputs.labels is not None:
        how = dataclasses.replace(how, labels=inputs.labels)  # the classes a data loader gave with its inputs
    for note in inputs.notes:
        hooks.notify(note)
    inputs.adopt_audio_rate(plan)
    settings = inputs.settings(plan, measure)
    run = RunState(plan, measure, keep_bins=how.keep_bins, direct=inputs.direct is not None,
                   labels=None if how.labels is None else [])
    ckpt = open_checkpoint(plan, inputs, settings, run, how, hooks)
    samples, total = inputs.samples(plan, run, how)
    first = next(samples, None)
    make = ProfileMaker(plan, settings, how.shard, start_session(plan, run, first, how, measure, hooks),
                        shard_proof=inputs.shard_proof(how.shard) if how.shard else None)
    groups = make.size(first, how, hooks)
    if first is not None:
        samples = itertools.chain([first], samples)
    batch_loop(samples, run, make, groups, ckpt, hooks, total)
    for s in run.log.skipped:
        hooks.notify(f"skipped: {s['reason']}")
    if run.reducer is None and how.shard is None:
        raise no_inputs_error(run)
    profile = build_profile(run, make)
    if ckpt.path is not None:
        ckpt.save(run, profile, complete=True)
    if how.labels is not None and how.shard is None:
        for note in label_notes(how.labels, profile.sources, profile.labels):
            hooks.notify(note)
    return profile


def split_options(options: dict) -> tuple[Measurement, Execution, Hooks]:
    """The keyword options of :func:`analyze` as its three values (unknown keywords: TypeError)."""
    from dataclasses import fields

    groups = [{f.name for f in fields(cls)} for cls in (Measurement, Execution, Hooks)]
    unknown = set(options) - set().union(*groups)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    from .progress import default_progress

    measure, how, hooks = ({k: v for k, v in options.items() if k in g} for g in groups)
    hooks["progress"] = default_progress(hooks.get("progress"))  # a text bar in a notebook
    return Measurement(**measure), Execution(**how), Hooks(**hooks)


def analyze_vs_random(model: Any, inputs: Any, *, seed: int = 0, **options: Any) -> tuple[Profile, Profile, dict[str, Any]]:
    """Analyse ``model`` and its randomized twin (docs/baseline-and-twin.md) on the same inputs.

    ``options`` are :func:`analyze`'s keywords. Returns ``(trained, twin, verdict)``; the
    trained profile's ``extra["vs_random"]`` holds the twin's profile and the verdict, so one
    JSON file carries both.
    """
    from ..files.remote import using_storage_options

    from .stages import exported

    storage, example = options.pop("storage_options", None), options.pop("example", None)
    with using_storage_options(storage):
        measure, how, hooks = split_options(options)
        model, inputs = exported(model, inputs, example, how.limit, hooks.progress, measure.input_name)  # read once, for both
        return vs_random(model, inputs, measure, how, hooks, seed=seed)


def vs_random(model, inputs, measure: Measurement, how: Execution, hooks: Hooks = Hooks(), *,
              seed: int = 0) -> tuple[Profile, Profile, dict]:
    """:func:`analyze_vs_random` over the values of :mod:`srop_onnx.config.settings`."""
    from ..results.comparison import random_verdict
    from ..model.modelio import in_memory_model, load_model_with_weights
    from ..config.options import check_seed
    from ..model.twin import randomize, require_changed

    seed = check_seed(seed)
    loaded = load_model_with_weights(model)
    twin_proto, report = randomize(loaded.proto, seed=seed)
    require_changed(report, str(loaded.path))  # before any run: a twin equal to the model is no check
    for left in report.left:
        hooks.notify(f"randomized twin: left as it was: {left}")
    trained = run_analysis(loaded, inputs, measure, how, hooks)
    twin_loaded = in_memory_model(twin_proto, f"{loaded.path} (randomized twin, seed {seed})")
    twin = run_analysis(twin_loaded, inputs, measure, how, Hooks(hooks.progress))  # notes were given once
    verdict = random_verdict(trained, twin)
    verdict["seed"] = seed
    verdict["reinitialised"] = report.to_dict()
    verdict["summary"] = verdict.get("summary", verdict.get("reason", "")) + f"; the twin: {report.describe()}"
    trained.extra["vs_random"] = {"verdict": verdict, "twin": twin.to_dict()}
    return trained, twin, verdict
