"""Tracks: one model's SROP profile at many training steps (docs/training.md).

A track is a folder: ``profiles/step-00000005.json`` (one ordinary profile per step, so ``compare``,
``check``, ``plot`` and ``report`` work on each) and ``track.json``, an index (format
``srop-onnx-track``, version 1, schema ``srop_onnx/schemas/track.schema.json``): the steps in
ascending order with each model's sha256, the settings every step shares, the input list's digest,
the architecture, and per step and layer the summary statistics and the 1-Wasserstein distance to
the previous step's histogram (in the track's units).

The index is a pure function of the profiles and the order of steps: a track built in two calls is
byte-identical to one built in one call. Each step's profile names, in ``extra.track``, its step, the
architecture, the input list's digest and the exporter it was measured with, so the index follows
from the profiles alone (:func:`index_of`). Reading a track (:func:`verify`: ``Track.load``,
``plot``, ``report``) refuses an index that says anything else - an entry pointing at another
step's profile, a renumbered step, an edited sha256 or number, a profile the index does not list.
A ``track`` run instead reads the profiles that are there (:func:`read_profiles`: an unreadable
one is left out with a note, and its checkpoint runs again) and rewrites the index from them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .._version import version
from ..core.stats import wasserstein1
from ..errors import InputDataError, UsageError
from .profile import Profile
from .validate import short_text

if TYPE_CHECKING:
    import pandas

__all__ = ["Track", "TRACK_FORMAT", "TRACK_VERSION", "INDEX_NAME", "profile_file", "step_entry", "build_index",
           "architecture_digest", "third_groups", "profile_thirds", "is_track", "MAX_STEP", "check_step", "stamp",
           "profile_steps", "read_profiles", "index_of", "verify", "same_index", "read_index", "in_track"]

TRACK_FORMAT = "srop-onnx-track"
TRACK_VERSION = 1
INDEX_NAME = "track.json"
_STATS = ("mean", "std", "median", "q1", "q3")


def profile_file(step: int) -> str:
    """The profile's path inside the track folder (sorts in step order for steps below 10**8)."""
    return f"profiles/step-{step:08d}.json"


def _num(x) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def shared_settings(of: "Profile | dict") -> dict:
    """What every step of a track must have measured alike (:data:`MEASURED_KEYS`, the defaults
    filled in), as JSON holds it (so a setting read back equals the one in memory)."""
    from ..config.settings import MEASURED_KEYS

    settings = of.settings if isinstance(of, Profile) else of
    return json.loads(json.dumps({k: settings.get(k, MEASURED_KEYS[k]) for k in MEASURED_KEYS}))


#: ops an exporter may add, drop or fold for one model depending on its weights' values (an Add of
#: a zero bias, a Mul by ones, a BatchNormalization folded into its Conv), and bookkeeping ops: not
#: part of what makes two steps the same model (:func:`same_architecture`)
FOLDABLE_OPS = frozenset({"Identity", "Constant", "Add", "Sub", "Mul", "Div", "BatchNormalization"})


def same_architecture(a: dict, b: dict) -> bool:
    """Two steps are the same model when their input (name, shape, layout, dtype), their tapped
    layers (names, ops, inferred shapes, in order) and their op types' counts - :data:`FOLDABLE_OPS`
    aside - are the same."""
    def core(arch: dict) -> tuple:
        ops = {k: v for k, v in (arch.get("ops") or {}).items() if k not in FOLDABLE_OPS}
        return arch.get("input"), arch.get("layers"), ops

    return core(a) == core(b)


def architecture_digest(arch: dict) -> str:
    return hashlib.sha256(json.dumps(arch, sort_keys=True).encode()).hexdigest()


def step_entry(step: int, profile: Profile, previous: Profile | None, units: str) -> dict:
    """The index entry of one step: its model, its profile file and per layer the statistics and
    the W1 distance to ``previous`` (the step before it; None for the first step, or a layer the
    previous step could not measure)."""
    before = {lay.name: lay for lay in previous.layers} if previous is not None else {}
    rows = []
    for lay in profile.layers:
        s, st = lay.summary(units), lay.stats
        prev = before.get(lay.name)
        w1 = None
        if prev is not None and prev.stats.count and st.count:
            w1 = _num(wasserstein1(prev.stats.histogram, prev.stats.denom(units), st.histogram, st.denom(units)))
        rows.append({"name": lay.name, **{k: _num(getattr(s, k)) for k in _STATS}, "count": int(st.count),
                     "w1_prev": w1})
    metrics = (profile.extra.get("track") or {}).get("metrics")
    return {"step": int(step), "model": {"path": str(profile.model.get("path")), "sha256": profile.model.get("sha256")},
            "profile": profile_file(step), "provider": profile.settings.get("provider"), "layers": rows,
            **({"metrics": dict(metrics)} if metrics else {})}


def build_index(steps: list[int], profiles: list[Profile], architecture: dict, list_digest: str,
                exporter: str | None, entries: list[dict] | None = None, name: str | None = None) -> dict:
    """The whole ``track.json`` from the steps' profiles (ascending steps); ``entries``: the steps'
    entries when the caller already has them (:func:`step_entry`, in the first profile's units)."""
    first = profiles[0]
    units = first.units
    if entries is None:
        entries = [step_entry(s, p, profiles[i - 1] if i else None, units)
                   for i, (s, p) in enumerate(zip(steps, profiles))]
    return {"format": TRACK_FORMAT, "version": TRACK_VERSION, "tool": {"name": "srop-onnx", "version": version()},
            "settings": shared_settings(first), "units": units,
            "inputs": {"list_digest": list_digest, "analyzed": first.analyzed,
                       "skipped": len(first.skipped_inputs)},
            "architecture": {**architecture, "digest": architecture_digest(architecture)},
            "exporter": exporter, **({"name": name} if name else {}), "steps": entries}


#: a third's mean that moved less than this (in the track's units) did not move: the verdicts call
#: 0.644 -> 0.643 unchanged, and "lower at N steps" counts steps lower by at least this much
SAME_WITHIN = 0.005


def third_groups(names: list[str]) -> list[tuple[str, list[str]]]:
    """The layers in depth thirds (shallow, middle, deep) by position, or one group ("all layers")
    when there are fewer than three (as sweeps group them)."""
    n = len(names)
    if n < 3:
        return [("all layers", list(names))]
    return [(label, names[i * n // 3:(i + 1) * n // 3]) for i, label in enumerate(("shallow", "middle", "deep"))]


def profile_thirds(profile: Profile, names: list[str], units: str) -> list[tuple[str, float]]:
    """One step's depth thirds (of the track's ``names``): the mean of the layer means of each
    third over its layers with live maps; NaN for a third without any."""
    means = {lay.name: lay.summary(units).mean for lay in profile.layers if lay.stats.count}
    out = []
    for label, group in third_groups(names):
        values = [means[n] for n in group if n in means]
        out.append((label, float(np.mean(values)) if values else math.nan))
    return out


@dataclass
class Track:
    """A track read back: ``steps`` (ints, ascending), ``profiles`` (one per step, same order) and
    the index (``track.json``) they were listed in."""

    index: dict
    profiles: list[Profile] = field(repr=False)
    folder: "Path | str | None" = None  # a local folder, or a prefix in a bucket

    @property
    def steps(self) -> list[int]:
        return [int(e["step"]) for e in self.index["steps"]]

    @property
    def units(self) -> str:
        return self.index.get("units", "band")

    @property
    def layer_names(self) -> list[str]:
        return [lay["name"] for lay in self.index["architecture"]["layers"]]

    def __repr__(self) -> str:
        steps = self.steps
        span = f"steps {steps[0]}..{steps[-1]}" if steps else "no steps"
        return f"<Track {self.folder or ''}: {len(steps)} steps ({span}), {len(self.layer_names)} layers>"

    @classmethod
    def load(cls, where: "str | Path", *, storage_options: dict | None = None) -> "Track":
        """Read a track folder (or its ``track.json``; a prefix in a bucket too, with
        ``storage_options`` as :func:`srop_onnx.analyze` takes them) and every step's profile, and
        check that the index is what the profiles make (see the module docstring)."""
        from ..files.remote import using_storage_options

        with using_storage_options(storage_options):
            return cls._load(where)

    @classmethod
    def _load(cls, where: "str | Path") -> "Track":
        index_path, folder = _index_location(where)
        index = read_index(index_path)
        profiles = []
        for entry in index.get("steps", []):
            try:
                profiles.append(Profile.load(in_track(folder, entry["profile"])))  # read and validated as every profile file is
            except InputDataError as exc:
                raise InputDataError(f"step {entry['step']} of the track is missing or unreadable ({exc}); "
                                     f"{REBUILD}") from None
        verify(index, profiles, folder, str(index_path))
        return cls(index, profiles, folder)

    # -- views --------------------------------------------------------------------------------
    def entries(self, units: str | None = None) -> list[dict]:
        """The index entry of every step (:func:`step_entry`) in ``units`` (the index holds the
        track's own units)."""
        units = units or self.units
        return [step_entry(s, p, self.profiles[i - 1] if i else None, units)
                for i, (s, p) in enumerate(zip(self.steps, self.profiles))]

    def _per_layer(self, field: str, units: str | None) -> np.ndarray:
        """One summary number (``mean``, ``std``) of every layer at every step, shape (layers,
        steps); NaN where a step has no live map of a layer."""
        units = units or self.units
        names = self.layer_names
        out = np.full((len(names), len(self.profiles)), np.nan)
        for j, prof in enumerate(self.profiles):
            by = {lay.name: lay for lay in prof.layers}
            for i, name in enumerate(names):
                lay = by.get(name)
                if lay is not None and lay.stats.count:
                    out[i, j] = getattr(lay.summary(units), field)
        return out

    def means(self, units: str | None = None) -> np.ndarray:
        """Mean SROP, shape (layers, steps), NaN where a step has no live map of a layer."""
        return self._per_layer("mean", units)

    def stds(self, units: str | None = None) -> np.ndarray:
        """Standard deviation of each layer's SROP, shape (layers, steps)."""
        return self._per_layer("std", units)

    def thirds(self, units: str | None = None) -> list[tuple[str, np.ndarray]]:
        """Per depth third, the mean of its layers' means at each step."""
        units = units or self.units
        per_step = [profile_thirds(p, self.layer_names, units) for p in self.profiles]
        return [(label, np.array([row[k][1] for row in per_step], dtype=np.float64))
                for k, (label, _) in enumerate(third_groups(self.layer_names))]

    def verdicts(self, units: str | None = None) -> list[str]:
        """One line per depth third: first and last step's mean, whether it fell, rose or stayed
        (a change under :data:`SAME_WITHIN` is no change), and at how many steps it was lower than at
        the first step by at least that much (``deep third: 0.812 -> 0.745 (step 0 -> 20), fell by
        0.067; lower at 17 of 20 steps``)."""
        steps = self.steps
        if len(steps) < 2:
            return [f"one step ({steps[0] if steps else '-'}): nothing to compare yet"]
        lines = []
        for label, series in self.thirds(units):
            a, b = series[0], series[-1]
            if not (math.isfinite(a) and math.isfinite(b)):
                lines.append(f"{label}: no live maps at step {steps[0] if not math.isfinite(a) else steps[-1]}")
                continue
            digits = 3
            while digits < 6 and f"{a:.{digits}f}" == f"{b:.{digits}f}" and a != b:
                digits += 1
            change = b - a
            trend = (f"fell by {-change:.3f}" if change <= -SAME_WITHIN else f"rose by {change:.3f}"
                     if change >= SAME_WITHIN else f"unchanged (within {SAME_WITHIN:g})")
            lower = int(np.sum(series[1:] <= a - SAME_WITHIN))
            name = f"{label} third" if label != "all layers" else label
            lines.append(f"{name}: {a:.{digits}f} -> {b:.{digits}f} (step {steps[0]} -> {steps[-1]}), {trend}; "
                         f"lower at {lower} of {len(steps) - 1} steps")
        return lines

    @property
    def metric_names(self) -> list[str]:
        """The names of the user's metrics recorded at any step (``Tracker.add(..., metrics=)``)."""
        return sorted({k for e in self.index["steps"] for k in (e.get("metrics") or {})})

    def metrics(self) -> dict[str, np.ndarray]:
        """Each metric's value at every step (NaN where a step did not record it)."""
        return {name: np.array([float((e.get("metrics") or {}).get(name, math.nan)) for e in self.index["steps"]])
                for name in self.metric_names}

    def to_dataframe(self, units: str | None = None, *, per: str = "layer") -> "pandas.DataFrame":
        """``per="layer"``: one row per step and layer: step, layer, depth, mean, std, median, q1,
        q3, count, w1_prev, units; ``per="metric"``: one row per step and metric the user recorded:
        step, metric, value (needs pandas: ``pip install 'srop-onnx[pandas]'``)."""
        from .frames import track_frame, track_metrics_frame

        if per == "metric":
            return track_metrics_frame(self)
        if per != "layer":
            raise UsageError(f"per must be 'layer' or 'metric', got {per!r}")
        return track_frame(self, units or self.units)

    def _repr_html_(self) -> str:
        from ..show.trackview import track_html

        return track_html(self)


def _index_location(where: "str | Path") -> "tuple[Path | str, Path | str]":
    """``(track.json, its folder)`` of a track folder or index file, local or in a bucket."""
    from ..files.remote import exists, is_url

    if is_url(str(where)):
        url = str(where).rstrip("/")
        index = url if url.lower().endswith(".json") else f"{url}/{INDEX_NAME}"
        if not exists(index):
            raise InputDataError(f"{url}: no {INDEX_NAME} there; give a prefix written by 'srop-onnx track -o URL'")
        return index, index.rsplit("/", 1)[0]
    path = Path(where)
    index_path = path / INDEX_NAME if path.is_dir() else path
    if not index_path.is_file():
        raise InputDataError(f"{path}: no {INDEX_NAME} there; give a folder written by 'srop-onnx track -o DIR'")
    return index_path, index_path.parent


def is_track(path: "str | Path") -> bool:
    """A track folder, or a JSON file whose format is a track's (read only as far as needed); in a
    bucket, a prefix holding a track.json or that object itself."""
    from ..files.remote import exists, is_url, read_bytes

    if is_url(str(path)):
        url = str(path).rstrip("/")
        try:
            if not url.lower().endswith(".json"):
                return exists(f"{url}/{INDEX_NAME}")
            return url.endswith("/" + INDEX_NAME) and \
                f'"format": "{TRACK_FORMAT}"'.encode() in read_bytes(url)[:4096]
        except InputDataError:
            return False
    p = Path(path)
    if p.is_dir():
        return (p / INDEX_NAME).is_file()
    if not p.is_file() or p.suffix.lower() != ".json":
        return False
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return f'"format": "{TRACK_FORMAT}"'.encode() in head


def load_index(folder: Path) -> dict | None:
    """The ``track.json`` of ``folder``, or None when it has none yet."""
    path = Path(folder) / INDEX_NAME
    if not path.exists():
        return None
    return Track.load(path).index


# -- a track folder read for what it holds: the step profiles are the truth, the index follows -------
#: the largest step: TensorBoard and every logger keep steps as signed 64-bit integers
MAX_STEP = 2**63 - 1
_STEP_FILE = re.compile(r"^step-(\d{1,19})\.json$")


def check_step(step) -> int:
    """``step`` as a step: a whole number from 0 to 2^63 - 1 (a bool, a fraction, a string or a
    negative number is refused in one line, a :class:`srop_onnx.UsageError`)."""
    import numbers

    ok = isinstance(step, numbers.Integral) and not isinstance(step, bool)
    if ok and 0 <= int(step) <= MAX_STEP:
        return int(step)
    shown = repr(step) if len(repr(step)) <= 40 else repr(step)[:37] + "..."
    raise UsageError(f"step {shown}: steps are whole numbers from 0 to 2^63-1 (the trainer's global step or epoch)")


def stamp(profile: Profile, step: int, architecture: dict, list_digest: str, exporter: str | None,
          name: str | None = None, metrics: dict | None = None, content: str | None = None) -> None:
    """What a track's step profile says of itself (``extra.track``; ``name``: the run's, if named;
    ``metrics``: the user's numbers at this step, :func:`check_metrics`; ``content``: the model's
    content digest, names aside, ``srop_onnx.run.tracking.content_digest``)."""
    profile.extra["track"] = {"step": int(step), "list_digest": list_digest, "exporter": exporter,
                              "architecture": architecture, **({"name": name} if name else {}),
                              **({"metrics": metrics} if metrics else {}), **({"content": content} if content else {})}


def same_model(profile: Profile, sha256: str, content: str | None) -> bool:
    """Whether the step ``profile`` measured this model: the same file bytes, or the same content
    (an exporter that numbers its node names per export, tf2onnx, gives other bytes for it)."""
    held = (profile.extra.get("track") or {}).get("content")
    return profile.model.get("sha256") == sha256 or (content is not None and held == content)


#: the most metrics a step keeps, and the longest name
MAX_METRICS, MAX_METRIC_NAME = 256, 200


def check_metrics(metrics) -> dict[str, float]:
    """The user's metrics of a step (``{"val_acc": 0.93}``: names to finite numbers; a framework's
    scalar tensor is read as its number) in name order; anything else refused in one line."""
    if metrics is None:
        return {}
    if not hasattr(metrics, "items"):
        raise UsageError(f"metrics must be a mapping of names to numbers ({{'val_acc': 0.93}}), got "
                         f"{type(metrics).__name__}")
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name or len(name) > MAX_METRIC_NAME:
            raise UsageError(f"metrics: {name!r} is not a metric name (text of 1 to {MAX_METRIC_NAME} characters)")
        number = _metric_number(value)
        if number is None:
            raise UsageError(f"metrics: {name} is {short_text(repr(value))}, not a finite number; log numbers only")
        out[name] = number
    if len(out) > MAX_METRICS:
        raise UsageError(f"metrics: {len(out)} given, at most {MAX_METRICS} per step")
    return dict(sorted(out.items()))


def _metric_number(value) -> float | None:
    import numbers

    if hasattr(value, "detach"):  # a torch tensor (on any device)
        value = value.detach().cpu()
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            return None
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def in_track(folder: "Path | str", name: str) -> "Path | str":
    """``name`` (``track.json``, ``profiles/step-00000005.json``) in a track folder, or under a track
    prefix in a bucket."""
    return folder / name if isinstance(folder, Path) else f"{folder}/{name}"


def profile_steps(folder: "Path | str") -> dict[int, "Path | str"]:
    """``{step: profile file}`` of the step profiles in a track folder (or under a prefix)."""
    found: dict[int, Path | str] = {}
    if isinstance(folder, Path):
        where = folder / "profiles"
        names = [p.name for p in where.iterdir()] if where.is_dir() else []
    else:
        from ..files.remote import list_objects

        try:
            names = [key for _f, key in list_objects(f"{folder}/profiles/", {".json"}) if "/" not in key]
        except InputDataError:
            names = []
    for name in names:
        m = _STEP_FILE.match(name)
        if m and int(m.group(1)) <= MAX_STEP:
            found[int(m.group(1))] = in_track(folder, f"profiles/{name}")
    return found


def read_profiles(folder: "Path | str", known: dict[int, Profile], notify: Callable[[str], None]) -> dict[int, Profile]:
    """The step profiles in ``folder`` (those in ``known`` are not read again); a profile that is
    unreadable, or that holds another step, is left out with a note."""
    out: dict[int, Profile] = {}
    for step, where in sorted(profile_steps(folder).items()):
        if step in known:
            out[step] = known[step]
            continue
        try:
            profile = Profile.load(where)
        except InputDataError as exc:
            notify(f"note: {where}: cannot be used ({short_text(exc)}); step {step} is left out of the track: give its "
                   "checkpoint again to measure it")
            continue
        own = (profile.extra.get("track") or {}).get("step")
        if own is not None and own != step:
            notify(f"note: {where}: holds step {own}'s profile, not step {step}'s; left out of the track")
            continue
        out[step] = profile
    return out


def _meta(step: int, profile: Profile, fallback: dict | None, where: str) -> tuple[dict, str, str | None]:
    """``(architecture, list digest, exporter)`` a step was measured with: its own ``extra.track``,
    else (a track written by srop-onnx 0.2) the index's."""
    meta = profile.extra.get("track")
    if isinstance(meta, dict) and {"architecture", "list_digest", "exporter"} <= set(meta):
        return meta["architecture"], meta["list_digest"], meta["exporter"]
    if fallback is None:
        raise InputDataError(f"{where}: step {step}'s profile does not say what it was measured with, and there is no "
                             f"readable {INDEX_NAME}; write the track anew into another folder")
    arch = {k: v for k, v in fallback["architecture"].items() if k != "digest"}
    return arch, fallback["inputs"]["list_digest"], fallback.get("exporter")


def index_of(profiles: dict[int, Profile], fallback: dict | None, where: str = "track",
             keep: list[dict] | None = None) -> dict | None:
    """The index the step profiles make (None without any); steps measured on another
    architecture, input list, exporter or settings than the first are refused in one line.
    ``keep``: entries already made for the first steps (a step appended to a track costs one
    entry, not one per step)."""
    if not profiles:
        return None
    steps = sorted(profiles)
    first = _meta(steps[0], profiles[steps[0]], fallback, where)
    settings = shared_settings(profiles[steps[0]])
    for step in steps[1:]:
        meta, mine = _meta(step, profiles[step], fallback, where), shared_settings(profiles[step])
        what = ("architecture" if not same_architecture(meta[0], first[0]) else "input set" if meta[1] != first[1]
                else "exporter" if meta[2] != first[2] else "settings" if mine != settings
                else "units" if profiles[step].units != profiles[steps[0]].units else None)
        if what is not None:
            raise InputDataError(f"{where}: step {step} was measured with another {what} than step {steps[0]}; one "
                                 "track holds one model, input set and settings: move one of them to another folder")
    ordered = [profiles[s] for s in steps]
    entries = None
    if keep and [int(e["step"]) for e in keep] == steps[:len(keep)]:
        units = ordered[0].units
        entries = list(keep) + [step_entry(s, p, ordered[i - 1] if i else None, units)
                                for i, (s, p) in enumerate(zip(steps, ordered)) if i >= len(keep)]
    names = [(p.extra.get("track") or {}).get("name") for p in ordered]
    name = next((n for n in names if n), None) or (fallback or {}).get("name")
    return build_index(steps, ordered, first[0], first[1], first[2], entries, name)


def _normal(index: dict | None) -> dict | None:
    """An index as JSON holds it, without the tool that wrote it."""
    if index is None:
        return None
    return {k: v for k, v in json.loads(json.dumps(index, allow_nan=False)).items() if k != "tool"}


def same_index(a: dict | None, b: dict | None) -> bool:
    return _normal(a) == _normal(b)


def read_index(path: "Path | str") -> dict:
    """``track.json`` parsed and checked against the schema (one-line errors)."""
    from ..files.reading import MAX_JSON_BYTES, read_checked
    from .validate import validate_track

    try:
        index = json.loads(read_checked(path, "track", MAX_JSON_BYTES, InputDataError, "give a track.json"))
    except json.JSONDecodeError as exc:
        raise InputDataError(f"{path}: not JSON ({exc.msg} at line {exc.lineno}); rebuild the track") from exc
    if not isinstance(index, dict) or index.get("format") != TRACK_FORMAT:
        raise InputDataError(f"{path}: not a srop-onnx track (no \"format\": \"{TRACK_FORMAT}\")")
    version = index.get("version", 0)
    if isinstance(version, int) and version > TRACK_VERSION:
        raise InputDataError(f"{path}: track format version {version} is newer than this srop-onnx reads "
                             f"({TRACK_VERSION}); upgrade srop-onnx")
    validate_track(index, str(path))
    return index


REBUILD = "run 'srop-onnx track' again with the same checkpoints, inputs and -o to rebuild it"


def verify(index: dict, profiles: list[Profile], folder: "Path | str", index_path: str) -> None:
    """Refuse an index that is not the function of its folder's profiles (see the module docstring)."""
    listed = [int(e["step"]) for e in index["steps"]]
    for entry, profile in zip(index["steps"], profiles):
        step = int(entry["step"])
        own = (profile.extra.get("track") or {}).get("step")
        if entry["profile"] != profile_file(step) or (own is not None and own != step):
            raise InputDataError(f"{index_path}: step {step} is listed with {entry['profile']}, which is not its own "
                                 f"profile; {REBUILD}")
    unlisted = sorted(set(profile_steps(folder)) - set(listed))
    if unlisted:
        raise InputDataError(f"{index_path}: the profiles of step(s) {', '.join(map(str, unlisted[:5]))} are in the "
                             f"folder but not in the index; {REBUILD}")
    rebuilt = index_of(dict(zip(listed, profiles)), index, index_path)
    if not same_index(rebuilt, index):
        wrong = next((str(e["step"]) for e, r in zip(index["steps"], rebuilt["steps"])  # type: ignore[index]
                      if _normal({"s": e}) != _normal({"s": r})), None)
        what = f"step {wrong}'s entry" if wrong else "its settings, inputs or architecture"
        raise InputDataError(f"{index_path}: the index does not match the step profiles ({what} differs from what "
                             f"the profiles hold); {REBUILD}")
