"""Validating profile and sweep files once, on load, against the documented format.

The structure is checked against the JSON Schemas shipped with the package
(``srop_onnx/schemas/profile.schema.json`` and ``sweep.schema.json``, docs/format.md); the exact
integer statistics are then checked
to add up (a histogram of ``m + 1`` counts, ``count`` = its sum = the per-sample and per-channel
live counts, bins summed the same three ways). A hand-edited or corrupt profile is refused in one
line naming the file and the first problem, before ``check``, ``compare``, ``report``, ``plot`` or
``merge`` reads a number of it.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np

from ..errors import InputDataError

__all__ = ["profile_schema", "sweep_schema", "track_schema", "validate_profile", "validate_sweep", "validate_track",
           "short_text"]

_MAX_COUNT = 2**53 - 1


def _schema(name: str) -> dict:
    return json.loads(resources.files("srop_onnx").joinpath(f"schemas/{name}.schema.json").read_text("utf-8"))


@functools.lru_cache(maxsize=1)
def profile_schema() -> dict:
    """The JSON Schema of a profile file (format version 1, docs/format.md)."""
    return _schema("profile")


@functools.lru_cache(maxsize=1)
def sweep_schema() -> dict:
    """The JSON Schema of a sweep file (format version 1, docs/format.md)."""
    return _schema("sweep")


@functools.lru_cache(maxsize=1)
def track_schema() -> dict:
    """The JSON Schema of a track index, ``track.json`` (format version 1, docs/training.md)."""
    return _schema("track")


@functools.lru_cache(maxsize=3)
def _validator(name: str = "profile"):
    from jsonschema import Draft202012Validator

    return Draft202012Validator({"profile": profile_schema, "sweep": sweep_schema, "track": track_schema}[name]())


def validate_track(d: dict, where: str) -> None:
    """A track index as the schema says, with distinct ascending steps."""
    _first_error(d, "track", where, "rebuild it with 'srop-onnx track'")
    steps = [e["step"] for e in d["steps"]]
    if steps != sorted(set(steps)):
        raise InputDataError(f"{where}: not a valid srop-onnx track: steps {steps} are not distinct and ascending; "
                             "rebuild it with 'srop-onnx track'")


@functools.lru_cache(maxsize=3)
def _fast_validator(name: str = "profile"):
    """The same schema compiled to Python by fastjsonschema (a tenth of jsonschema's start-up cost),
    or None where it is not installed or cannot compile it."""
    try:
        import fastjsonschema
    except ImportError:
        return None
    try:
        schema = {"profile": profile_schema, "sweep": sweep_schema, "track": track_schema}[name]()
        return fastjsonschema.compile(schema, use_default=False)  # never fills defaults into the document
    except Exception:  # noqa: BLE001 - a schema it cannot compile: jsonschema alone judges
        return None


def _first_error(d, name: str, where: str, fix: str) -> None:
    """The first problem of ``d`` against the schema ``name``: a valid document is passed by the fast
    validator alone; any other is judged by jsonschema, which names its shallowest problem."""
    fast = _fast_validator(name)
    if fast is not None:
        try:
            fast(d)
            return
        except Exception:  # noqa: BLE001 - jsonschema below judges and words the problem
            pass
    error = next(iter(sorted(_validator(name).iter_errors(d), key=lambda e: len(list(e.absolute_path)))), None)
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputDataError(f"{where}: not a valid srop-onnx {name} at {at}: {short_text(error.message)}; {fix}")


def short_text(text, limit: int = 160) -> str:
    """``text`` (or an error) on one line, at most ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ints(values, what: str) -> np.ndarray:
    try:
        a = np.asarray(values)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{what} is not a flat list of counts") from exc
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise ValueError(f"{what} must be a flat list of whole numbers")
    if a.size and (int(a.min()) < 0 or int(a.max()) > _MAX_COUNT):
        raise ValueError(f"{what} holds a count below 0 or above 2^53")
    return a.astype(np.int64)


def _check_layer(lay: dict, analyzed: int, units: str = "band") -> None:
    """The exact statistics of one layer add up (docs/method.md)."""
    hist = _ints(lay["histogram"], "histogram")
    if hist.size != lay["m"] + 1:
        raise ValueError(f"histogram has {hist.size} counts for m = {lay['m']} (needs m + 1)")
    sample_sum, sample_count = _ints(lay["per_sample_bin_sum"], "per_sample_bin_sum"), _ints(
        lay["per_sample_count"], "per_sample_count")
    kernel_sum, kernel_count = _ints(lay["kernel_bin_sum"], "kernel_bin_sum"), _ints(lay["kernel_count"], "kernel_count")
    channels = lay["shape"][0]
    if kernel_sum.size != channels or kernel_count.size != channels:
        raise ValueError(f"kernel sums and counts need one entry per channel ({channels})")
    if sample_sum.size != sample_count.size or sample_count.size != analyzed:
        raise ValueError(f"per-sample sums and counts need one entry per analysed input ({analyzed})")
    live = int(hist.sum())
    if "count" in lay and lay["count"] != live:
        raise ValueError(f"count {lay['count']} is not the histogram's total {live}")
    if int(sample_count.sum()) != live or int(kernel_count.sum()) != live:
        raise ValueError("per-sample and per-channel live counts do not add up to the histogram")
    bins = int(np.dot(hist, np.arange(hist.size, dtype=np.int64)))
    if int(sample_sum.sum()) != bins or int(kernel_sum.sum()) != bins:
        raise ValueError("per-sample and per-channel bin sums do not add up to the histogram")
    if sample_count.size and int(sample_count.max()) > channels:
        raise ValueError(f"a sample has more live maps than the layer's {channels} channels")
    _check_summary(lay, hist, units)


def _check_summary(lay: dict, hist: np.ndarray, units: str) -> None:
    """The summary numbers written beside the histogram (mean, std, quartiles, min, max) are the
    histogram's own: a NaN, an infinity or an edited number is refused, never read past."""
    import math

    from ..core.stats import summarize_histogram

    denom = lay.get("m_input") if units == "input" else lay["m"]
    if not isinstance(denom, int) or isinstance(denom, bool) or denom <= 0:
        return  # the schema speaks for m; m_input may be absent in older files
    expected = summarize_histogram(hist, denom)
    for name in ("mean", "std", "median", "q1", "q3", "min", "max"):
        if name not in lay:
            continue
        got, want = lay[name], getattr(expected, name)
        if got is None:
            if not math.isnan(want):
                raise ValueError(f"{name} is null but the histogram gives {want:.6g}")
            continue
        if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(got):
            raise ValueError(f"{name} is {got!r}, not a finite number")
        if math.isnan(want) or abs(got - want) > 1e-6 * max(1.0, abs(want)):
            raise ValueError(f"{name} {got!r} is not the histogram's {want:.6g}")


def _check_document(d, name: str, where: str, fix: str) -> None:
    """The format tag, a version this srop-onnx reads (1), and the shipped schema of ``name``."""
    if not isinstance(d, dict) or d.get("format") != f"srop-onnx-{name}":
        raise InputDataError(f"{where}: not a srop-onnx {name} (no \"format\": \"srop-onnx-{name}\"); {fix}")
    version = d.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > 1:
        raise InputDataError(f"{where}: {name} format version {version} is newer than this srop-onnx reads (1); "
                             "upgrade srop-onnx")
    _first_error(d, name, where, fix)


def validate_profile(d, where: str = "profile") -> None:
    """Raise InputDataError (one line) unless ``d`` is a well-formed profile document."""
    fix = "regenerate it with 'srop-onnx analyze --json'"
    _check_document(d, "profile", where, fix)
    if not d["layers"] and not d.get("extra", {}).get("shard"):
        raise InputDataError(f"{where}: the profile has no layers; {fix}")
    units = d["settings"].get("units", "band") if isinstance(d.get("settings"), dict) else "band"
    for i, lay in enumerate(d["layers"]):
        try:
            _check_layer(lay, d["inputs"]["analyzed"], units)
        except ValueError as exc:
            raise InputDataError(f"{where}: layer {i} ('{short_text(lay.get('name'), 60)}'): {exc}; {fix}") from None


def validate_sweep(d, where: str = "sweep") -> None:
    """Raise InputDataError (one line) unless ``d`` is a well-formed sweep document: its schema,
    levels distinct, ascending, from 0 and those of its points, and every level's profile valid."""
    fix = "regenerate it with 'srop-onnx sweep -o'"
    _check_document(d, "sweep", where, fix)
    levels = [p["level"] for p in d["points"]]
    if levels != d["levels"]:
        raise InputDataError(f"{where}: the points' levels {levels} are not the sweep's levels {d['levels']}; {fix}")
    if any(b <= a for a, b in zip(levels, levels[1:])) or levels[0] != 0:
        raise InputDataError(f"{where}: levels must be distinct, ascending and start at 0, got {levels}; {fix}")
    for p in d["points"]:
        validate_profile(p["profile"], f"{where} (level {p['level']:g})")
