"""Input arguments that are glob patterns: ``images/*.png``, ``val/*/*.jpg``, ``data/**/*.npy``.

A POSIX shell expands a pattern before the program sees it; Windows' Command Prompt and PowerShell
pass it as it was typed, and so does a path in Python (``analyze(model, "images/*.png")``). An input
argument that names no file or folder and holds ``*``, ``?`` or ``[`` is expanded here, in sorted
order (``**`` spans folders), so the same command works in every shell. A folder it matches is
searched as a folder argument is; a file counts when it has an input suffix, as in a folder. Each
sample is known by its path under the pattern's fixed folders (``val/*/*.jpg`` gives ``cat/0.jpg``
and ``dog/0.jpg``), where the shell's expansion would name both ``0.jpg``.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Callable

from ..errors import InputDataError

__all__ = ["is_pattern", "pattern_entries"]

_MAGIC = re.compile(r"[*?[]")


def is_pattern(raw) -> bool:
    """Whether an input argument is a glob pattern: it holds ``*``, ``?`` or ``[`` and names no
    file or folder (a file really named ``a[1].png`` is that file)."""
    text = os.fspath(raw) if isinstance(raw, os.PathLike) else raw
    return isinstance(text, str) and bool(_MAGIC.search(text)) and not os.path.lexists(text)


def _fixed_base(text: str) -> Path:
    """The folders of a pattern before its first part with a wildcard (``.`` when it starts with one)."""
    fixed = []
    for part in Path(text).parts:
        if _MAGIC.search(part):
            break
        fixed.append(part)
    return Path(*fixed) if fixed else Path(".")


def pattern_entries(raw, walk: Callable[[Path], list[Path]], suffixes) -> list[tuple[Path, str]]:
    """``(file, key)`` of every input a pattern matches, sorted: folders through ``walk``, files with
    one of ``suffixes``; the key is the path under the pattern's fixed folders. A pattern that
    matches nothing usable is an :class:`InputDataError` that says so."""
    text = os.fspath(raw)
    base = _fixed_base(text)
    matches = sorted(glob.glob(text, recursive=True))
    found: list[tuple[Path, str]] = []
    for match in map(Path, matches):
        if match.is_dir():
            found.extend((f, f.relative_to(base).as_posix()) for f in walk(match))
        elif match.suffix.lower() in suffixes:
            found.append((match, match.relative_to(base).as_posix()))
    if not found:
        exts = ", ".join(sorted(suffixes))
        what = (f"matches {len(matches)} path(s), none of them an image or array ({exts})" if matches
                else "matches no file or folder")
        raise InputDataError(f"{text}: {what}; give image files, .npy/.npz arrays or folders of them")
    return found
