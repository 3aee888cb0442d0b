"""Checkpoints as the steps of a track: the ONNX files (or a framework's own checkpoints) one
argument names, a folder of them or their URLs, in natural order, each with its step number."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

from ..errors import UsageError, option
from ..results.track import check_step
from ..results.validate import short_text

__all__ = ["checkpoint_steps"]

_DIGITS = re.compile(r"\d+")


def _name(f) -> str:
    """A checkpoint's file name: a path's, or an object URL's last part."""
    return f.name if isinstance(f, Path) else str(f).rstrip("/").rsplit("/", 1)[-1]


def _natural(f) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", _name(f))]


def _checkpoint_files(m) -> list:
    """The checkpoints one argument names: an ONNX file, a folder of them, or their URLs (an object,
    or the ``.onnx`` objects directly under a prefix, listed once)."""
    from ..files.remote import is_url, list_objects

    if is_url(str(m)):
        url = str(m)
        if url.lower().endswith(".onnx"):
            return [url]
        found = sorted((f.url for f, key in list_objects(url.rstrip("/") + "/", {".onnx"}) if "/" not in key),
                       key=_natural)
        if not found:
            raise UsageError(f"{url}: no .onnx checkpoints under this prefix")
        return found
    p = Path(m)
    if p.is_dir():
        from ..model.frameworks import NATIVE_SUFFIXES

        found = sorted((f for f in p.iterdir() if f.suffix.lower() == ".onnx" and f.is_file()), key=_natural)
        if not found:  # a folder of a framework's own checkpoints
            found = sorted((f for f in p.iterdir() if f.suffix.lower() in NATIVE_SUFFIXES and f.is_file()),
                           key=_natural)
        if not found:
            raise UsageError(f"{p}: no .onnx checkpoints (nor .pt, .pth, .ckpt or .keras ones) in this folder")
        return found
    if not p.exists():
        raise UsageError(f"{p}: no such checkpoint; give ONNX files or folders of them")
    return [p]


def checkpoint_steps(models: Sequence["str | os.PathLike"], steps: Sequence[int] | None = None) -> list[tuple[int, Path]]:
    """``(step, path)`` of each checkpoint, ascending: ONNX files, or folders of them (natural order:
    ``e2`` before ``e10``), or their URLs. A step is the last integer in the file's name, or the
    matching entry of ``steps``. Duplicate or unreadable steps are refused in one line."""
    files: list = [f for m in models for f in _checkpoint_files(m)]
    if steps is not None:
        if len(steps) != len(files):
            raise UsageError(f"{option('steps')} gives {len(steps)} step(s) for {len(files)} checkpoint(s); give one per checkpoint")
        numbered = [(int(s), f) for s, f in zip(steps, files)]
    else:
        numbered = []
        for f in files:
            found = _DIGITS.findall(_name(f).rsplit(".", 1)[0])
            if not found:
                raise UsageError(f"{f}: no step number in the file name; name checkpoints like epoch_5.onnx or pass "
                                 f"{option('steps', '0,1,5,...', py='[0, 1, 5, ...]')}")
            numbered.append((int(found[-1]), f))
    seen: dict[int, Path] = {}
    for s, f in numbered:
        try:
            check_step(s)
        except UsageError as exc:
            raise UsageError(f"{short_text(f, 80)}: {exc}; name checkpoints like epoch_5.onnx or pass {option('steps')} "
                             "0,1,5,...") from None
        if s in seen:
            raise UsageError(f"step {s} is given twice ({seen[s]} and {f}); give each checkpoint its own step "
                             f"({option('steps')})")
        seen[s] = f
    return sorted(numbered)
