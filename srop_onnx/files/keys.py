"""Inputs that share an identity.

An input's identity is its path inside the folder (or bucket prefix) argument it was found under, or
its name when it was given directly, plus its row in a multi-row array: short, and the same whatever
the working directory or the spelling of the path (sweeps seed each sample's noise with it). Two
different files can have the same one - ``val/cat/0.png`` and ``val/dog/0.png`` given one by one by
a shell's glob are both ``0.png``, two folders of one layout give ``cat/0.png`` twice - and then a
profile's sources, a labels table and outliers cannot tell them apart, and a sweep gives them the
same noise. The run says so in one line, with the fix: give the folder above them, so that each is
known by its path inside it.
"""

from __future__ import annotations

import os
from collections import defaultdict

__all__ = ["shared_identities", "identity_note"]


def _location(f) -> str:
    """Where a file is (absolute, ``..`` and ``.`` folded) or an object (its URL)."""
    if isinstance(f, (str, os.PathLike)):
        return os.path.abspath(f)
    return str(f)


def shared_identities(found: list[tuple[object, str]]) -> dict[str, list[object]]:
    """``{identity: files}`` for every identity that different files share (the same file listed
    twice shares nothing), in input order."""
    where: dict[str, dict[str, object]] = defaultdict(dict)
    for f, key in found:
        where[key].setdefault(_location(f), f)
    return {key: list(places.values()) for key, places in where.items() if len(places) > 1}


def identity_note(found: list[tuple[object, str]]) -> str | None:
    """One line on the identities that different inputs share, and the fix; None when none do."""
    shared = shared_identities(found)
    if not shared:
        return None
    key, files = next(iter(shared.items()))
    more = f" and {len(shared) - 1} more identit{'y' if len(shared) == 2 else 'ies'}" if len(shared) > 1 else ""
    shown = ", ".join(map(str, files[:3]))
    return (f"note: {len(files)} inputs share the identity {key} ({shown}){more}: sources, labels and sweep noise "
            "cannot tell them apart; give the folder above them, so that each is known by its path inside it")
