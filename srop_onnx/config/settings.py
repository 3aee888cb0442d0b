"""What an analysis measures, and how it runs: two frozen values, validated once.

:class:`Measurement` is everything that changes the numbers (kappa, units, taps,
preprocessing, TF32, the baseline). It is validated on construction with the
CLI's one-line errors, written into a profile as its ``settings``
(:meth:`Measurement.settings`), compared by :func:`settings_differences` (which
``check``, ``compare`` and ``merge`` share) and fingerprinted for checkpoints
from the same dictionary.

:class:`Execution` is how a run goes (provider, batch, limit, shard, checkpoint,
memory): it never changes a number, so profiles made with different executions
compare and merge.

>>> Measurement(kappa=0.9).settings(None)["kappa"]
0.9
"""

from __future__ import annotations

import math
import os
import re

import numpy as np
from dataclasses import dataclass, field
from typing import Callable, Sequence

from ..errors import UsageError, option, spell

__all__ = [
    "UNITS",
    "LAYOUTS",
    "PRESET_NAMES",
    "MEASURED_KEYS",
    "RUN_KEYS",
    "Measurement",
    "Execution",
    "Hooks",
    "settings_differences",
    "describe_differences",
]

UNITS = ("band", "input")
LAYOUTS = ("NCHW", "NHWC", "NCL", "NLC", "NHW", "NL", "NCDHW")
PRESET_NAMES = ("imagenet", "unit", "symmetric", "raw", "caffe")
PROVIDERS = ("auto", "cpu", "cuda")

#: profile ``settings`` keys that change numbers, with the value a profile that lacks one means
MEASURED_KEYS: dict[str, object] = {"kappa": 0.85, "units": "band", "taps": None, "layers": None,
                                    "preprocess": None, "tf32": False}
#: profile ``settings`` keys that describe the run only (never compared)
RUN_KEYS = ("provider", "batch_size")


def _check_fraction(value, option: str, what: str = "") -> float:
    """``value`` as a number in (0, 1] (``--kappa``, ``--crop``), else one line naming ``option``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{spell(option)} must be a number in (0, 1]{what}, got {value!r}") from None
    if not (0.0 < number <= 1.0):
        raise UsageError(f"{spell(option)} must be in (0, 1]{what}, got {value}")
    return number


def _check_stats(values, option: str) -> tuple[float, ...] | None:
    if values is None:
        return None
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise UsageError(f"{spell(option)} expects numbers, got {values!r}") from None
    if not out or not all(math.isfinite(v) for v in out):
        raise UsageError(f"{spell(option)} expects finite numbers, got {values!r}")
    if option == "--std" and any(v <= 0 for v in out):
        raise UsageError(f"{spell(option)} values must be > 0 (they divide the pixels), got {values!r}")
    return out


def _check_flag(value, name: str, none: bool = False) -> "bool | None":
    """``value`` as True or False (None too when ``none``): ``baseline="no"`` would be true, so text,
    numbers other than 0 and 1 and other objects are refused in one line naming the keyword."""
    if value is None and none:
        return None
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value in (0, 1)):
        return bool(value)
    raise UsageError(f"{name} must be True or False{' (or None)' if none else ''}, got {value!r}")


def _check_regex(layers: str | None) -> str | None:
    if layers is None:
        return None
    try:
        re.compile(layers)
    except re.error as exc:
        raise UsageError(f"{option('layers')}: invalid regular expression {layers!r} ({exc})") from exc
    return layers


@dataclass(frozen=True)
class Measurement:
    """What is measured: every setting that changes a number of the profile.

    Parameters
    ----------
    kappa : energy fraction of the roll-off (Eq. 2), in (0, 1].
    units : ``band`` or ``input`` for the summary numbers (docs/method.md).
    ops, all_tensors, layers : which tensors are tapped (docs/models.md); ``layers`` is a regex.
    input_name, layout : the model input fed and its layout (detected when None).
    preprocess, mean, std, size : how images become inputs.
    crop : the centre-crop ratio of images (None: the preset's; 1: the whole image, resized).
    baseline : add the max-pooling baseline of docs/baseline-and-twin.md.
    tf32 : let ONNX Runtime's CUDA provider use TF32 (docs/method.md: off by default).
    sample_rate : the rate WAV inputs must have (None: the first audio file's).
    """

    kappa: float = 0.85
    units: str = "band"
    ops: tuple[str, ...] | None = None
    all_tensors: bool = False
    layers: str | None = None
    input_name: str | None = None
    layout: str | None = None
    preprocess: str | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    size: tuple[int, int] | None = None
    crop: float | None = None
    baseline: bool = True
    tf32: bool = False
    sample_rate: int | None = None

    def __post_init__(self):
        put = object.__setattr__
        put(self, "kappa", _check_fraction(self.kappa, "--kappa"))
        if self.units not in UNITS:
            raise UsageError(f"{option('units')} must be 'band' or 'input', got {self.units!r}")
        put(self, "ops", tuple(self.ops) if self.ops else None)
        put(self, "layers", _check_regex(self.layers))
        if self.layout is not None:
            if str(self.layout).upper() not in LAYOUTS:
                raise UsageError(f"{option('layout')} must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
            put(self, "layout", str(self.layout).upper())
        if self.preprocess is not None and self.preprocess not in PRESET_NAMES:
            raise UsageError(f"{option('preprocess')} must be one of {', '.join(PRESET_NAMES)}, got {self.preprocess!r}")
        put(self, "mean", _check_stats(self.mean, "--mean"))
        put(self, "std", _check_stats(self.std, "--std"))
        if self.crop is not None:
            put(self, "crop", _check_fraction(self.crop, "--crop", " (1: the whole image, no crop)"))
        if self.size is not None:
            put(self, "size", _check_size(self.size))
        put(self, "baseline", _check_flag(self.baseline, "baseline"))
        put(self, "tf32", _check_flag(self.tf32, "tf32"))
        if self.sample_rate is not None:
            if not isinstance(self.sample_rate, (int, np.integer)) or int(self.sample_rate) < 1:
                raise UsageError(f"{option('sample-rate')} must be a whole number of Hz >= 1, got {self.sample_rate!r}")
            put(self, "sample_rate", int(self.sample_rate))

    @property
    def taps(self) -> "str | list[str]":
        """The ``taps`` setting: ``"all"`` or the op types tapped."""
        from ..model.graph import DEFAULT_OPS

        return "all" if self.all_tensors else list(self.ops or DEFAULT_OPS)

    def settings(self, preprocess: dict | None) -> dict:
        """The profile's ``settings`` (docs/format.md) without run keys; ``preprocess`` is the resolved
        preprocessing (None when no image was fed)."""
        return {"kappa": self.kappa, "units": self.units, "taps": self.taps, "layers": self.layers,
                "preprocess": preprocess, "tf32": self.tf32}


def _normal(settings: dict, key: str):
    return settings.get(key, MEASURED_KEYS[key])


def settings_differences(a: dict, b: dict, *, ignore: Sequence[str] = ()) -> list[tuple[str, object, object]]:
    """``(key, a's value, b's value)`` for every measured setting (:data:`MEASURED_KEYS`) that
    differs between two profiles' ``settings``; a key a profile lacks takes its default.

    ``check`` and ``compare`` ignore ``units`` (numbers are recomputed exactly from the
    histograms); ``merge`` ignores nothing.
    """
    return [(k, _normal(a, k), _normal(b, k)) for k in MEASURED_KEYS
            if k not in ignore and _normal(a, k) != _normal(b, k)]


def describe_differences(diffs: list[tuple[str, object, object]]) -> str:
    """``"kappa: 0.85 vs 0.9; preprocess.mean: [0.485, 0.456, 0.406] vs [0.5, 0.5, 0.5]"``: only the
    keys that differ, nested settings (the preprocessing) down to the entries that differ, each
    value kept short."""
    return "; ".join(f"{k}: {_short_value(va)} vs {_short_value(vb)}" for k, va, vb in _leaves(diffs))


def _leaves(diffs) -> list[tuple[str, object, object]]:
    out = []
    for key, a, b in diffs:
        if isinstance(a, dict) and isinstance(b, dict):
            inner = [(f"{key}.{k}", a.get(k), b.get(k)) for k in sorted(set(a) | set(b), key=str)
                     if a.get(k) != b.get(k)]
            out.extend(_leaves(inner))
        else:
            out.append((key, a, b))
    return out


def _short_value(value, limit: int = 48) -> str:
    text = "none" if value is None else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_batch(batch_size) -> "int | str | None":
    if batch_size is None:
        return None
    if isinstance(batch_size, str) and batch_size.strip().lower() == "auto":
        return "auto"
    try:
        value = int(batch_size)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{option('batch-size')} must be a number >= 1 or 'auto', got {batch_size!r}") from None
    if not 1 <= value <= MAX_BATCH:
        raise UsageError(f"{option('batch-size')} must be from 1 to {MAX_BATCH} or 'auto', got {batch_size}")
    return value


#: the largest batch a run takes (a batch is stacked in memory)
MAX_BATCH = 1_000_000


def _check_size(size) -> tuple[int, int]:
    """``(H, W)``, or the command line's text (``"224"``, ``"224x320"``)."""
    from .options import parse_size

    if isinstance(size, str):
        return parse_size(size)  # type: ignore[return-value]
    try:
        hw = tuple(int(v) for v in size)
    except (TypeError, ValueError, OverflowError):
        hw = ()
    if len(hw) != 2 or min(hw) < 2:
        raise UsageError(f"{option('size')} must be H x W with both sides >= 2, got {size!r}")
    return hw  # type: ignore[return-value]


def _check_shard(shard) -> tuple[int, int] | None:
    if shard is None:
        return None
    if isinstance(shard, str):  # the command line's "2/7"
        from .options import parse_shard

        return parse_shard(shard)
    try:
        i, n = (int(v) for v in shard)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{option('shard')} must be (I, N), got {shard!r}") from None
    if not (n >= 1 and 1 <= i <= n):
        raise UsageError(f"{option('shard', f'{i}/{n}', py=(i, n))}: need 1 <= I <= N")
    return (i, n)


def _bytes(value, option: str):
    """A number of bytes, or the command line's text for one (``"2GB"``, ``"512MiB"``)."""
    from .options import parse_bytes

    return parse_bytes(value, option) if isinstance(value, str) else value


@dataclass(frozen=True)
class Execution:
    """How a run goes; nothing here changes a number of the profile.

    Parameters
    ----------
    provider : ``auto``, ``cpu`` or ``cuda``; None: ``SROP_ONNX_PROVIDER`` when set, else ``auto``.
    batch_size : samples per run, ``"auto"``, or None for the device's default.
    limit : analyse at most this many samples.
    strict : a bad input file is an error instead of being skipped.
    keep_bins : keep per-map roll-off bins (``--kernels``).
    shard : ``(I, N)``, the I-th of N contiguous slices of the inputs.
    checkpoint, checkpoint_every : save running statistics every K batches; rerunning resumes.
    max_memory : bytes one run's tap outputs may take (taps split into passes).
    iobinding : bind inputs/outputs with IOBinding (default: on CUDA only).
    memory_budget : simulated limit on one run's tap outputs (tests OOM recovery).
    record_run : write the facts of this run (peak memory, wall time, host, date) into the
        profile's ``extra.run``; off, two runs of the same command give byte-identical files.
    labels : where each sample's class comes from (``--labels``; :mod:`srop_onnx.config.labels`):
        recorded beside the sources, never a number of the statistics.
    """

    provider: str | None = None
    batch_size: "int | str | None" = None
    limit: int | None = None
    strict: bool = False
    keep_bins: bool = False
    shard: tuple[int, int] | None = None
    checkpoint: "str | os.PathLike | None" = None
    checkpoint_every: int = 10
    max_memory: int | None = None
    iobinding: bool | None = None
    memory_budget: int | None = None
    record_run: bool = False
    labels: object = None

    def __post_init__(self):
        from .labels import label_rule

        put = object.__setattr__
        put(self, "labels", label_rule(self.labels))
        provider = (self.provider or os.environ.get("SROP_ONNX_PROVIDER") or "auto").lower()
        if provider not in PROVIDERS:
            where = spell("--provider") if self.provider else "SROP_ONNX_PROVIDER"
            raise UsageError(f"{where} must be one of {', '.join(PROVIDERS)}, got {provider!r}")
        put(self, "provider", provider)
        put(self, "batch_size", _check_batch(self.batch_size))
        put(self, "shard", _check_shard(self.shard))
        self._check_combinations()

    def _check_combinations(self) -> None:
        from .options import MAX_BYTES, check_whole

        put = object.__setattr__
        for name in ("strict", "keep_bins", "record_run", "iobinding"):
            put(self, name, _check_flag(getattr(self, name), name, none=name == "iobinding"))
        put(self, "limit", check_whole(self.limit, "--limit"))
        put(self, "checkpoint_every", check_whole(self.checkpoint_every, "--checkpoint-every"))
        put(self, "max_memory", check_whole(_bytes(self.max_memory, "--max-memory"), "--max-memory", 1, MAX_BYTES))
        put(self, "memory_budget", check_whole(_bytes(self.memory_budget, "memory_budget"), "memory_budget", 1,
                                               MAX_BYTES))
        if self.limit is not None and self.shard is not None:
            raise UsageError(f"{option('limit')} and {option('shard')} cannot be combined (shards slice the whole input list)")
        if self.checkpoint is not None and self.keep_bins:
            raise UsageError(f"{option('kernels')} cannot be combined with {option('checkpoint')}: checkpoints keep statistics, "
                             "not per-map bins")

    @property
    def auto_batch(self) -> bool:
        return self.batch_size == "auto"


def _ignore(_msg: str) -> None:
    return None


@dataclass(frozen=True)
class Hooks:
    """Where a run reports: ``progress(done, total_or_None)``, one-line ``notify(text)`` notes, and
    ``detail(text)`` for notes only worth showing on request (``-v``)."""

    progress: Callable[[int, "int | None"], None] | None = None
    notify: Callable[[str], None] = field(default=_ignore)
    detail: Callable[[str], None] = field(default=_ignore)

    def __post_init__(self):
        for name in ("notify", "detail"):
            if getattr(self, name) is None:
                object.__setattr__(self, name, _ignore)
