"""Sample identities that tell every input apart.

An input's key is its path inside the folder (or bucket prefix) argument it was found under, or its
name when it was given directly: short, and the same whatever the working directory or the spelling
of the path. Two different files can have the same key - ``val/cat/0.png`` and ``val/dog/0.png``
given by a shell's glob, or two folders of one layout - and a profile that lists both as ``0.png``
says nothing of which sample is which (labels, outliers and noise seeds go by key). Such keys are
lengthened, each by its own parent folders, one at a time, until they differ (``cat/0.png``,
``dog/0.png``); keys that are already unique are left as they are.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

__all__ = ["unique_keys"]


def _parts(f) -> tuple[str, ...]:
    """The location of a local file (absolute, ``..`` and ``.`` folded) or of an object (its URL
    after the scheme), as path components."""
    if isinstance(f, (str, os.PathLike)):
        return Path(os.path.abspath(f)).parts[1:]
    url = str(f)
    return tuple(p for p in url.split("://", 1)[-1].split("/") if p)


def unique_keys(found: list[tuple[object, str]]) -> list[tuple[object, str]]:
    """``found`` (``(file, key)`` pairs, in order) with keys shared by different files lengthened
    by their parent folders until no two different files share one; the same file listed twice
    keeps one key."""
    keys = [k for _, k in found]
    if len(set(keys)) == len(keys):
        return found
    parts = [_parts(f) for f, _ in found]
    while True:
        where = defaultdict(set)
        for k, p in zip(keys, parts):
            where[k].add(p)
        shared = {k for k, places in where.items() if len(places) > 1}
        longer = [("/".join(p[-(k.count("/") + 2):]) if k in shared and k.count("/") + 1 < len(p) else k)
                  for k, p in zip(keys, parts)]
        if longer == keys:  # nothing left to lengthen (one path ends another): as unique as they get
            break
        keys = longer
    return [(f, k) for (f, _), k in zip(found, keys)]
