"""Input arguments that are glob patterns: ``images/*.png``, ``val/*/*.jpg``, ``data/**/*.npy``.

A POSIX shell expands a pattern before the program sees it; Windows' Command Prompt and PowerShell
pass it as it was typed, and so does a path in Python (``analyze(model, "images/*.png")``). An input
argument that names no file or folder and holds ``*``, ``?`` or ``[`` is expanded here, in sorted
order (``**`` spans folders), so the same command works in every shell. A folder it matches is
searched as a folder argument is; a file counts when it has an input suffix, as in a folder. Each
sample is known by its path under the pattern's fixed folders (``val/*/*.jpg`` gives ``cat/0.jpg``
and ``dog/0.jpg``), where the shell's expansion would name both ``0.jpg``.

A bucket URL with a wildcard after its bucket (``s3://bucket/val/*/0*.jpg``) is the objects under
its fixed prefix (``s3://bucket/val/``, listed once) whose keys below it match the rest, ``*`` and
``?`` within one folder and ``**`` across folders, as locally.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Callable

from ..errors import InputDataError, UsageError

__all__ = ["is_pattern", "fixed_part", "pattern_entries", "pattern_covers", "is_remote_pattern", "remote_pattern_entries"]

_MAGIC = re.compile(r"[*?[]")


def is_pattern(raw) -> bool:
    """Whether an input argument is a glob pattern: it holds ``*``, ``?`` or ``[`` and names no
    file or folder (a file really named ``a[1].png`` is that file)."""
    text = os.fspath(raw) if isinstance(raw, os.PathLike) else raw
    return isinstance(text, str) and bool(_MAGIC.search(text)) and not os.path.lexists(text)


def _split(text: str) -> tuple[Path, str]:
    """A pattern as its fixed folders (before its first part with a wildcard; ``.`` when it starts with
    one) and the rest, ``/``-joined."""
    parts = Path(text).parts
    n = next((i for i, part in enumerate(parts) if _MAGIC.search(part)), len(parts))
    return (Path(*parts[:n]) if n else Path(".")), "/".join(parts[n:])


def fixed_part(key: str) -> str:
    """The ``/``-joined folders of a pattern written as a key before its first wildcard ("" if none)."""
    base = _split(key)[0]
    return "" if str(base) == "." else base.as_posix()


def pattern_entries(raw, walk: Callable[[Path], list[Path]], suffixes) -> list[tuple[Path, str]]:
    """``(file, key)`` of every input a pattern matches, sorted: folders through ``walk``, files with
    one of ``suffixes``; the key is the path under the pattern's fixed folders. A pattern that
    matches nothing usable is an :class:`InputDataError` that says so."""
    text = os.fspath(raw)
    base = _split(text)[0]
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


def pattern_covers(raw, path) -> bool:
    """Whether a run over the pattern ``raw`` would read ``path`` (there or not yet): the path, or a
    folder above it, matches the pattern (a matched folder is searched)."""
    base, rest = _split(os.fspath(raw))
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(base))
    if rel == os.curdir or rel.split(os.sep, 1)[0] == os.pardir:
        return False
    parts, wanted = Path(rel).parts, _key_regex(rest)
    return any(wanted.fullmatch("/".join(parts[:i])) for i in range(1, len(parts) + 1))


def is_remote_pattern(url: str) -> bool:
    """Whether a bucket URL holds a wildcard (``*``, ``?``, ``[``) in its path (a web URL's ``?``
    starts its query: web servers are not listed)."""
    scheme, _, rest = url.partition("://")
    return scheme.lower() not in ("http", "https") and bool(_MAGIC.search(rest))


def _key_regex(pattern: str) -> "re.Pattern[str]":
    """A pattern over object keys as a regular expression: ``*`` and ``?`` within one folder, ``**``
    across folders (``**/`` also none), ``[...]`` (``[!...]``) a class of characters."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**", i):
            slash = pattern.startswith("**/", i)
            out.append("(?:.*/)?" if slash else ".*")
            i += 3 if slash else 2
            continue
        if c == "[":
            j = i + 1 + (pattern[i + 1:i + 2] == "!")
            j += pattern[j:j + 1] == "]"  # a ']' first in the class is one of its characters
            end = pattern.find("]", j)
            if end > 0:
                body = pattern[i + 1:end]
                out.append("[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]")
                i = end + 1
                continue
        out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out))


def remote_pattern_entries(url: str, suffixes, told=None) -> list[tuple[object, str]]:
    """``(object, key)`` of the objects a bucket URL's pattern matches: its fixed prefix listed once
    (:func:`~srop_onnx.files.remote.list_objects`), the keys below it matched against the rest. An
    object whose key really holds the wildcard is that object."""
    from .remote import list_objects

    scheme, _, rest = url.partition("://")
    first = _MAGIC.search(rest).start()
    cut = rest.rfind("/", 0, first)
    if cut < 0:
        raise InputDataError(f"{url}: a pattern picks objects, not buckets; give the bucket by name "
                             f"({scheme}://bucket/val/*.jpg)")
    prefix, pattern = f"{scheme}://{rest[:cut + 1]}", rest[cut + 1:]
    wanted = _key_regex(pattern)
    try:
        listed = list_objects(prefix, suffixes, told)
    except UsageError as exc:  # a missing extra, a storage option: said of the argument as typed
        msg = str(exc)
        raise UsageError(url + msg[len(prefix):] if msg.startswith(prefix + ":") else msg) from None
    found = [(f, key) for f, key in listed if wanted.fullmatch(key)]
    if found:
        return found
    try:  # an object named with a wildcard in its key
        return list_objects(url, suffixes, told)
    except InputDataError:
        raise InputDataError(f"{url}: no image or array object under {prefix} matches {pattern}; give objects, "
                             "prefixes or a pattern that matches some") from None
