"""Results handed to the public functions: the objects, or the paths of their files.

``srop_onnx.check(profile, "golden.json")``, ``srop_onnx.compare("a.json", "b.json")`` and
``srop_onnx.plot.depth(["trained.json", "random.json"])`` read the files they are given (local
paths or URLs), as the command line does; the objects pass as they are. Anything else is one line
saying what was expected.
"""

from __future__ import annotations

import os

from ..errors import UsageError

__all__ = ["given", "given_many"]


_NAMES = {"profile": "Profile", "sweep": "Sweep", "track": "Track"}


def _class(kind: str) -> type:
    if kind == "profile":
        from .profile import Profile

        return Profile
    if kind == "sweep":
        from .sweepresult import Sweep

        return Sweep
    from .track import Track

    return Track


def given(x, kind: str, what: str, storage_options: dict | None = None):
    """``x`` as a result of ``kind`` (``profile``, ``sweep`` or ``track``): itself, or read from the
    file, folder or URL it names (``storage_options`` for a URL, as ``Profile.load`` takes them)."""
    cls = _class(kind)
    if isinstance(x, cls):
        return x
    if isinstance(x, (str, os.PathLike)):
        return cls.load(x, storage_options=storage_options)
    raise UsageError(f"{what}: a {_NAMES[kind]} or the path of its file, got {type(x).__name__}")


def given_many(xs, kind: str, what: str, storage_options: dict | None = None) -> list:
    """One result or path, or a sequence of them, as a list of results of ``kind``."""
    if isinstance(xs, (str, os.PathLike, _class(kind))):
        return [given(xs, kind, what, storage_options)]
    try:
        items = list(xs)
    except TypeError:
        raise UsageError(f"{what}: {_NAMES[kind]}s or the paths of their files, got {type(xs).__name__}") from None
    return [given(x, kind, f"{what}[{i}]", storage_options) for i, x in enumerate(items)]
