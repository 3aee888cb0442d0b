"""SROPs across training: :func:`track` over checkpoint files and :class:`Tracker` for training loops.

The inputs are decoded once for every checkpoint; each checkpoint gets its own session and an ordinary profile.
A track folder (:mod:`srop_onnx.results.track`) holds one architecture, one set of measured settings and one input
list: a checkpoint that differs in any is refused, in one line, before anything is written. Steps already there
with the same model sha256 are skipped, so a track resumes after Ctrl-C, SIGTERM or a kill with nothing counted
twice (a step is written, profile then index, each atomically, only when it is complete).
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..config.settings import Execution, Hooks, Measurement
from ..errors import UsageError, on_command_line, option
from ..inputs.samples import Sample
from ..results.profile import Profile
from ..results.track import (FOLDABLE_OPS, INDEX_NAME, Track, check_metrics, check_step, in_track,
                              same_architecture, same_model, index_of, profile_file, profile_thirds,
                              read_index, read_profiles, same_index, shared_settings, stamp)
from .steps import checkpoint_steps
from .stages import (ModelPlan, ProfileMaker, RunState, batch_loop, build_profile, load_stage, no_inputs_error,
                     open_inputs, plan_model, start_session, Checkpointer, read_before_model,
                     read_inputs, torch_sample_rank)

__all__ = ["track", "Tracker", "checkpoint_steps", "architecture_of"]

#: bookkeeping ops an exporter adds or drops between two exports of one model (not architecture)
_BOOKKEEPING = frozenset({"Identity", "Constant"})


def architecture_of(plan: ModelPlan) -> dict:
    """What must be the same at every step: the input, the op types (bookkeeping ops aside) and the
    tapped layers with their ops and inferred shapes."""
    from collections import Counter

    spec = plan.spec
    ops = Counter(n.op_type for n in plan.loaded.proto.graph.node if n.op_type not in _BOOKKEEPING)
    return {"input": {"name": spec.name, "shape": [d for d in spec.shape], "layout": spec.layout, "dtype": spec.dtype},
            "ops": dict(sorted(ops.items())),
            "layers": [{"name": t.name, "op": t.op,
                        "shape": None if t.shape_hint is None else [d if isinstance(d, int) else None
                                                                   for d in t.shape_hint]}
                       for t in plan.taps]}


def content_digest(proto) -> str:
    """What a model computes, names aside: its op types in order with their attributes, and its
    weights' values (dtype, shape, bytes) in order. Two exports of one model by an exporter that
    numbers its names per export (tf2onnx) have other bytes and the same content digest."""
    import hashlib

    from onnx import numpy_helper

    h = hashlib.sha256()
    for node in proto.graph.node:
        h.update(node.op_type.encode())
        for attr in sorted(node.attribute, key=lambda a: a.name):
            kept = type(attr)()
            kept.CopyFrom(attr)
            if kept.HasField("t"):
                kept.t.name = ""
            h.update(kept.SerializeToString(deterministic=True))
    for init in proto.graph.initializer:
        arr = numpy_helper.to_array(init)
        h.update(f"{arr.dtype}{arr.shape}".encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _difference(old: dict, new: dict) -> str:
    """What differs between two architectures, in a few words."""
    if old["input"] != new["input"]:
        return f"input {new['input']} instead of {old['input']}"
    changed = sorted(k for k in set(old["ops"]) | set(new["ops"])
                     if old["ops"].get(k) != new["ops"].get(k) and k not in FOLDABLE_OPS)
    if changed:
        return f"other op types ({', '.join(changed)})"
    a, b = [x["name"] for x in old["layers"]], [x["name"] for x in new["layers"]]
    if a != b:
        extra, missing = sorted(set(b) - set(a)), sorted(set(a) - set(b))
        return f"other tapped layers ({'+' + ', +'.join(extra) if extra else ''}{' ' if extra and missing else ''}" \
               f"{'-' + ', -'.join(missing) if missing else ''})".replace("( ", "(")
    return "other layer shapes"


@dataclass
class _Decoded:
    """The inputs decoded once for every checkpoint of a track."""

    samples: list[Sample]
    skipped: list[dict]
    skipped_at: list[int]
    inputset: Any  # srop_onnx.inputs.inputset.InputSet
    plan: ModelPlan


def _decode(plan: ModelPlan, inputs, how: Execution, told=None) -> _Decoded:
    inputset = open_inputs(inputs, plan.spec, None, how.labels, told)  # each sample's class, read once for every step
    inputset.adopt_audio_rate(plan)
    run = RunState(plan, Measurement())
    samples, _total = inputset.samples(plan, run, how)
    kept = list(samples)
    return _Decoded(kept, list(run.log.skipped), list(run.log.skipped_at), inputset, plan)


def _run_decoded(plan: ModelPlan, decoded: _Decoded, measure: Measurement, how: Execution, hooks: Hooks) -> Profile:
    """One checkpoint's profile over inputs decoded before (the stages of ``run_analysis``)."""
    plan.pre = decoded.plan.pre  # the same preprocessing (and audio rate) for every step
    settings = decoded.inputset.settings(plan, measure)
    labelled = how.labels is not None or decoded.inputset.labels is not None  # labels=, or a data loader's targets
    run = RunState(plan, measure, keep_bins=how.keep_bins, labels=[] if labelled else None)
    run.log.skipped, run.log.skipped_at = list(decoded.skipped), list(decoded.skipped_at)
    samples = iter(decoded.samples)
    first = next(samples, None)
    make = ProfileMaker(plan, settings, None, start_session(plan, run, first, how, measure, hooks))
    groups = make.size(first, how, hooks)
    if first is not None:
        samples = itertools.chain([first], samples)
    batch_loop(samples, run, make, groups, Checkpointer(None, None), hooks, len(decoded.samples))
    if run.reducer is None:
        raise no_inputs_error(run)
    return build_profile(run, make)


class Tracker:
    """SROP profiles of one model as it trains, into a track folder.

    ``tk = Tracker(DIR, inputs, **options)`` (``options``: :func:`srop_onnx.analyze`'s keywords;
    ``tensorboard=LOGDIR`` also writes TensorBoard events); then ``tk.add(step, model)`` after each
    epoch returns the step's :class:`Profile`. ``model`` is a path, ONNX bytes, an
    ``onnx.ModelProto``, a ``torch.nn.Module`` (exported with ``example``, an input batch) or a Keras
    3 model. ``out=None`` keeps the track in memory only; ``name`` names the run in the index and
    the report's title (a track has one name).

    ``loggers``: objects that record each new step elsewhere (``srop_onnx.integrations.mlflow.MlflowLogger``,
    ``srop_onnx.integrations.wandb.WandbLogger``, or any with the same two methods):
    ``log_step(step, profile, scalars, histograms, metrics)`` after a step is stored (``scalars``:
    ``srop/mean|std/<layer>`` and ``srop/third/<third>``; ``histograms``: ``{layer: (counts, edges)}``,
    :func:`srop_onnx.results.tensorboard.histograms`) and ``log_track(folder, track)`` at ``close()``.
    """

    def __init__(self, out: "str | os.PathLike | None", inputs, *, tensorboard: "str | os.PathLike | None" = None,
                 name: str | None = None, loggers: Sequence[Any] = (), **options: Any):
        from ..files.remote import is_url
        from .analysis import split_options

        self.out = None if out is None else (str(out).rstrip("/") if is_url(str(out)) else Path(out))
        self._storage = options.pop("storage_options", None)  # for a track or inputs in a bucket
        self.measure, self.how, hooks = split_options(options)
        # a data loader is read once, not once a step; batches alone (with limit) at the first step's model
        self.inputs, self._loader = read_before_model(inputs, self.how.limit, hooks.progress)
        said: set[str] = set()

        def once(note: str, say=hooks.notify) -> None:  # a note is said once per track, not once per step
            if note not in said:
                said.add(note)
                say(note)

        from dataclasses import replace

        self.hooks = replace(hooks, notify=once)
        if self.how.shard is not None or self.how.checkpoint is not None:
            raise UsageError(f"a track resumes by itself: {option('shard')} and {option('checkpoint')} do not apply to it")
        self._decoded: _Decoded | None = None
        self._steps: list[int] = []
        self._profiles: list[Profile] = []
        self._index: dict | None = None
        self._tb = None
        self._tb_dir = tensorboard
        self.loggers = list(loggers or ())
        for logger in self.loggers:
            if not all(callable(getattr(logger, m, None)) for m in ("log_step", "log_track")):
                raise UsageError(f"loggers: {type(logger).__name__} has no log_step and log_track methods; give "
                                 "MlflowLogger, WandbLogger or an object with both")
        from ..files.bucket_writes import check_output_urls

        if isinstance(self.out, Path):  # a bucket has no temporaries: objects are written in one PUT
            from ..files.writes import writable_folder

            writable_folder(self.out, "track folder")
            _remove_stale(self.out)
        with self._storing():  # a bucket that does not exist: refused now, not after the first step
            check_output_urls({"track folder": self.out, "--tensorboard": tensorboard})
        self.name = None if name is None else str(name)
        if self.out is not None:
            with self._storing():
                self._open_folder()
        held = (self._index or {}).get("name")
        if self.name and held and self.name != held:
            raise UsageError(f"the track in {self.out} is named {held!r}; give the same name or none (a track has one)")
        self.name = self.name or held

    def __repr__(self) -> str:
        last = f", last {self._steps[-1]}" if self._steps else ""
        n = len(self._steps)
        return f"<Tracker {self.out if self.out is not None else 'in memory'}: {n} step{'' if n == 1 else 's'}{last}>"

    def _repr_html_(self) -> str | None:  # a notebook shows the track so far (its repr before the first step)
        return self.track()._repr_html_() if self._index is not None else None

    def _storing(self):
        """This Tracker's ``storage_options`` for the calls inside (URLs of the track or inputs)."""
        from ..files.remote import using_storage_options

        return using_storage_options(self._storage)

    # -- the folder: its step profiles are the truth, the index follows them ----------------------
    def _refresh(self) -> dict | None:
        """Read the folder's step profiles (those this Tracker holds are not read again) and make
        the index from them; returns the index that was on disk (None when none could be read)."""
        from ..errors import InputDataError

        where = in_track(self.out, INDEX_NAME)
        on_disk = None
        if _exists(where):
            try:
                on_disk = read_index(where)
            except InputDataError as exc:
                self.hooks.notify(f"note: {exc}; the index is rebuilt from the step profiles")
        found = read_profiles(self.out, dict(zip(self._steps, self._profiles)), self.hooks.notify)
        self._index = index_of(found, on_disk if on_disk is not None else self._index, str(self.out))
        self._steps = sorted(found)
        self._profiles = [found[s] for s in self._steps]
        return on_disk

    def _open_folder(self) -> None:
        """The track already in the folder; an index that does not match its profiles is rewritten
        (a profile that was lost or spoiled is left out, and its step runs again when its checkpoint
        is given)."""
        if isinstance(self.out, Path) and not self.out.exists():
            return  # a new track: nothing to read, and nothing is created before the first step
        with self._lock():
            on_disk = self._refresh()
            if on_disk is not None:
                lost = sorted({int(e["step"]) for e in on_disk["steps"]} - set(self._steps))
                if lost:
                    self.hooks.notify(f"note: step(s) {', '.join(map(str, lost[:8]))} of {self.out} have no usable "
                                      "profile; they run again when their checkpoints are given")
            if self._index is not None and not same_index(self._index, on_disk):
                self.hooks.notify(f"note: {in_track(self.out, INDEX_NAME)} did not match its step profiles; rewritten "
                                  "from them")
                self._write_index()

    def _lock(self):
        """The folder's writer lock (two runs into one folder take turns); a bucket has none."""
        import contextlib

        from ..files.writes import folder_lock

        return folder_lock(self.out, "track folder") if isinstance(self.out, Path) else contextlib.nullcontext()

    def _write_index(self) -> None:
        import json

        from ..files.writes import atomic_write_text

        atomic_write_text(in_track(self.out, INDEX_NAME), json.dumps(self._index, indent=1, allow_nan=False) + "\n")

    # -- what a step must agree with ------------------------------------------------------------
    def _plan(self, step: int, model, example, source: str | None = None) -> tuple[ModelPlan, str]:
        from ..inputs.memory import example_of
        from ..model.frameworks import EXPORTERS, NO_TRACKER_EXAMPLE, framework_of, to_onnx
        from ..model.modelio import as_loaded

        if self._loader is not None and example is None and framework_of(model) == "torch":
            self._read_loader(lambda first: torch_sample_rank(first, NO_TRACKER_EXAMPLE))  # exported from its first row
        onnx_model, kind = to_onnx(model, example_of(self.inputs) if example is None else example)
        if not isinstance(onnx_model, (str, os.PathLike)):  # in memory: named after its checkpoint, or its step
            onnx_model = as_loaded(onnx_model, source or f"step-{step}.onnx")
        plan = plan_model(load_stage(onnx_model), self.measure, inputs=self.inputs)
        if self._loader is not None:  # now a model says what one of its samples is
            self._read_loader(lambda _first: len(plan.spec.shape) - 1)
        if self._index is not None and self._index.get("exporter") not in (None, EXPORTERS[kind]):
            raise UsageError(f"step {step}: exported by {EXPORTERS[kind]}, but the track holds models exported by "
                             f"{self._index['exporter']}; one track never mixes exporters")
        return plan, EXPORTERS[kind]

    def _read_loader(self, rank_of) -> None:
        """Read the loader that :func:`read_before_model` left, once, as far as ``limit`` samples of
        the rank ``rank_of(first input)`` says (None: each item one sample)."""
        loader, self._loader = self._loader, None
        self.inputs = read_inputs(loader, self.how.limit, self.hooks.progress, rank_of)

    def _check(self, step: int, plan: ModelPlan, settings: dict, digest: str, analyzed: int) -> None:
        """Refuse a step that does not belong to the track (nothing written yet): another architecture,
        other measured settings, another input list, or another number of samples (``limit``)."""
        where = f" in {self.out}" if self.out is not None else ""
        if self._index is None:
            return
        other = f"another folder ({'-o' if on_command_line() else 'out='})"
        arch = architecture_of(plan)
        old = {k: v for k, v in self._index["architecture"].items() if k != "digest"}
        if not same_architecture(old, arch):
            raise UsageError(f"step {step} ({plan.loaded.path}): another architecture than the track{where} "
                             f"({_difference(old, arch)}); write it to {other}")
        mine, held = shared_settings(settings), self._index["settings"]
        if mine != held:
            changed = sorted(k for k in set(held) | set(mine) if held.get(k) != mine.get(k))
            raise UsageError(f"step {step}: other settings than the track{where} ({', '.join(changed)}); use the "
                             f"track's settings or {other}")
        if digest != self._index["inputs"]["list_digest"]:
            raise UsageError(f"step {step}: another input set than the track{where} (the files or their sizes "
                             f"differ); use the same inputs or {other}")
        held_n = int(self._index["inputs"]["analyzed"])
        if analyzed != held_n:
            raise UsageError(f"step {step}: {analyzed} samples, but every step of the track{where} analysed "
                             f"{held_n} (another {option('limit')}?); use the track's inputs and limit or {other}")

    def prepare(self, step: int, model, example=None,
                source: str | None = None) -> "tuple[ModelPlan, str, str | None] | None":
        """Plan ``step`` and check that it belongs to the track: ``(plan, exporter, content digest of
        a model exported here)``; None when the track already holds this very model at this step
        (nothing to do)."""
        from ..model.frameworks import EXPORTERS

        plan, exporter = self._plan(step, model, example, source)
        content = content_digest(plan.loaded.proto) if exporter != EXPORTERS["onnx"] else None
        decoded = self._inputs(plan)  # a step already there is checked too: a rerun with other settings is refused
        self._check(step, plan, decoded.inputset.settings(plan, self.measure), decoded.inputset.list_digest,
                    len(decoded.samples))
        if step in self._steps:
            held = self._profiles[self._steps.index(step)]
            if same_model(held, plan.loaded.sha256, content):
                return None
            raise UsageError(f"step {step}: the track{' in ' + str(self.out) if self.out else ''} holds another model "
                             f"at this step (sha256 {str(held.model.get('sha256'))[:12]}...); give it another step")
        return plan, exporter, content

    def _inputs(self, plan: ModelPlan) -> _Decoded:
        if self._decoded is None:
            self._decoded = _decode(plan, self.inputs, self.how, self.hooks.notify)
            for note in self._decoded.inputset.notes:  # inputs that share an identity
                self.hooks.notify(note)
        elif plan.spec != self._decoded.plan.spec:
            raise UsageError(f"{plan.loaded.path}: input {plan.spec.name} {plan.spec.shape} differs from the first "
                             f"checkpoint's {self._decoded.plan.spec.name} {self._decoded.plan.spec.shape}")
        return self._decoded

    # -- steps ---------------------------------------------------------------------------------
    def add(self, step: int, model, example=None, *, metrics=None, source: str | None = None) -> Profile:
        """Analyse ``model`` as training step ``step`` (a whole number from 0 to 2^63 - 1) and add it to
        the track; returns its profile (the one already there when the track holds this very model
        at this step). ``metrics``: the user's numbers at this step (``{"val_acc": 0.93}``), kept
        with it (``Track.metrics()``, ``to_dataframe(per="metric")``, the thirds plot's second axis).
        ``source``: what the profile names a model exported here (default ``step-<step>.onnx``; a
        framework checkpoint's path when ``track`` loaded it)."""
        step = check_step(step)
        numbers = check_metrics(metrics)
        with self._storing():
            return self._add(step, model, example, numbers, source)

    def _add(self, step: int, model, example, metrics: dict | None = None, source: str | None = None) -> Profile:
        planned = self.prepare(step, model, example, source)
        if planned is None:
            self.hooks.notify(f"step {step}: already in the track (same model), skipped")
            return self._profiles[self._steps.index(step)]
        plan, exporter, content = planned
        next_pass = getattr(self.hooks.progress, "next_pass", None)
        if next_pass is not None:  # a bar per step
            next_pass(f"step {step}")
        profile = _run_decoded(plan, self._decoded, self.measure, self.how, self.hooks)
        self._store(step, profile, architecture_of(plan), exporter, metrics, content)
        return profile

    def _store(self, step: int, profile: Profile, arch: dict, exporter: str, metrics: dict | None = None,
               content: str | None = None) -> None:
        """Add the step: its profile, then the index made anew from every step's profile. In a
        folder, under its writer lock and after reading what another run may have added meanwhile."""
        stamp(profile, step, arch, self._decoded.inputset.list_digest, exporter, self.name, metrics, content)
        if self.out is None:
            self._add_step(step, profile)
        else:
            with self._lock():
                self._refresh()
                if step in self._steps:
                    held = self._profiles[self._steps.index(step)]
                    if not same_model(held, profile.model.get("sha256"),
                                      (profile.extra.get("track") or {}).get("content")):
                        raise UsageError(f"step {step}: another run wrote another model at this step into {self.out} "
                                         "meanwhile; give this one another step")
                    return
                self._add_step(step, profile)
                if isinstance(self.out, Path):
                    (self.out / "profiles").mkdir(parents=True, exist_ok=True)
                profile.to_json(in_track(self.out, profile_file(step)))  # the profile first: the index never lists a missing file
                self._write_index()
        if self._tb_dir is not None or self.loggers:  # the step's thirds, once for TensorBoard and the loggers
            names = [lay["name"] for lay in self._index["architecture"]["layers"]]
            thirds = profile_thirds(profile, names, profile.units)
            if self._tb_dir is not None:
                self._tensorboard(step, profile, thirds)
            if self.loggers:
                self._log_step(step, profile, thirds, metrics or {})

    def _log_step(self, step: int, profile: Profile, thirds: list, metrics: dict) -> None:
        from ..results.tensorboard import histograms, step_scalars

        values = step_scalars(profile, profile.units, thirds)
        hists = histograms(profile, profile.units)
        for logger in self.loggers:
            logger.log_step(step, profile, values, hists, metrics)

    def _add_step(self, step: int, profile: Profile) -> None:
        """``step`` among the steps, and the index of them all (refused in one line, nothing written,
        when another run put steps measured otherwise into the folder meanwhile)."""
        from ..errors import InputDataError

        steps = dict(zip(self._steps, self._profiles))
        steps[step] = profile
        appended = self._index is not None and step > max(self._steps, default=-1)
        try:
            index = index_of(steps, self._index, str(self.out or "track"), self._index["steps"] if appended else None)
        except InputDataError as exc:
            raise UsageError(f"step {step}: {exc}") from None
        self._steps = sorted(steps)
        self._profiles = [steps[s] for s in self._steps]
        self._index = index

    def _tensorboard(self, step: int, profile: Profile, thirds: list) -> None:
        from ..results.tensorboard import TensorBoardWriter

        if self._tb is None:
            self._tb = TensorBoardWriter(self._tb_dir)
        self._tb.add(step, profile, profile.units, thirds)

    def scalars(self, profile: Profile) -> dict[str, float]:
        """``{"srop/mean/<layer>": value, ...}`` of one step's profile, for any metrics logger."""
        from ..results.tensorboard import scalars

        return scalars(profile)

    def track(self) -> Track:
        """The track so far."""
        if self._index is None:
            raise UsageError("the track has no steps yet; add one with Tracker.add(step, model)")
        return Track(self._index, list(self._profiles), self.out)

    def close(self) -> None:
        """Close the TensorBoard file and hand the track to each logger (once)."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        loggers, self.loggers = self.loggers, []
        if loggers and self._index is not None:
            track = self.track()
            for logger in loggers:
                logger.log_track(self.out, track)

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _exists(where: "Path | str") -> bool:
    from ..files.remote import exists

    return where.exists() if isinstance(where, Path) else exists(where)


def _remove_stale(out: Path) -> None:
    """What a killed run left half-written in the track folder (temporaries of the index and of
    step profiles, never the files themselves): removed when provably stale."""
    from ..files.writes import remove_stale_temporaries

    remove_stale_temporaries(out / INDEX_NAME)
    folder = out / "profiles"
    if folder.is_dir():
        targets = {re.sub(r"^\.(.*)\.[a-z0-9_]{8}\.tmp$", r"\1", p.name) for p in folder.iterdir()
                   if p.name.startswith(".") and p.name.endswith(".tmp")}
        for name in targets:
            remove_stale_temporaries(folder / name)


def track(models, inputs, out: "str | os.PathLike | None" = None, *, steps: Sequence[int] | None = None,
          tensorboard: "str | os.PathLike | None" = None, name: str | None = None, model_factory=None,
          example=None, **options: Any) -> Track:
    """Profiles of checkpoints of one model (ONNX files, or folders of them) over the same inputs,
    decoded once, as a :class:`Track` (written to ``out`` when given; see :class:`Tracker`).
    ``steps``: the step of each checkpoint (default: the last integer in its file name). Every
    checkpoint is checked against the track before any is analysed.

    A framework's own checkpoints are taken too: ``.keras`` files (loaded by Keras), and PyTorch
    ``.pt``/``.pth`` state dicts or Lightning ``.ckpt`` files, loaded into the network that
    ``model_factory`` builds (a callable, or ``"module:function"``) and exported from ``example``
    (an input batch) as :class:`Tracker` exports a module."""
    from ..files.remote import using_storage_options

    if isinstance(models, (str, os.PathLike)):
        models = [models]
    with using_storage_options(options.get("storage_options")):
        return _track(checkpoint_steps(list(models), steps),
                      Tracker(out, inputs, tensorboard=tensorboard, name=name, **options), model_factory, example)


def _model_of(path, factory, example):
    """What a checkpoint gives the Tracker: an ONNX file as it is, a framework checkpoint as the
    model it holds (and the example it is exported from)."""
    from ..model.frameworks import NATIVE_SUFFIXES, load_native

    if not str(path).lower().endswith(NATIVE_SUFFIXES):
        return path, None
    model = load_native(path, factory)
    if example is None and str(path).lower().endswith((".pt", ".pth", ".ckpt")):
        raise UsageError(f"{path}: a PyTorch checkpoint is exported from an example input; give {option('example-shape')} "
                         "N,C,H,W (Python: example=)")
    return model, example


def _track(entries: list, tk: Tracker, factory=None, example=None) -> Track:
    try:
        todo, first = [], None
        for step, path in entries:  # every checkpoint is checked before the first one runs
            model, given = _model_of(path, factory, example)
            planned = tk.prepare(step, model, given, source=str(path))
            if planned is None:
                tk.hooks.notify(f"step {step}: already in the track (same model), skipped")
                continue
            arch = architecture_of(planned[0])
            if first is None:
                first = (path, arch)
            elif not same_architecture(arch, first[1]):
                raise UsageError(f"{path}: another architecture than {first[0]} ({_difference(first[1], arch)}); "
                                 "one track holds one model")
            todo.append((step, path))
        for step, path in todo:
            model, given = _model_of(path, factory, example)
            tk.add(step, model, given, source=str(path))
        return tk.track()
    finally:
        tk.close()
