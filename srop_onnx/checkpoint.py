"""Checkpoints of long runs: running statistics saved atomically every K batches.

A checkpoint records how far the run got (files fully consumed, rows of the
next file) and the exact statistics up to there, as a partial profile. A rerun
with the same arguments loads it, skips what was done without reading it, and
goes on; nothing is counted twice because a checkpoint is only written after a
batch is fully reduced.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import UsageError

__all__ = ["FORMAT", "fingerprint", "save_checkpoint", "load_checkpoint"]

FORMAT = "srop-onnx-checkpoint"


def fingerprint(model_sha: str, settings: dict, files: list[Path] | None, extra: dict) -> str:
    """Identity of a run: model, number-changing settings, the input list, shard and limits."""
    listing = None
    if files is not None:
        listing = [(str(f), f.stat().st_size if f.exists() else -1) for f in files]
    doc = {"model": model_sha, "settings": settings, "files": listing, **extra}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def save_checkpoint(path: str | Path, state: dict) -> None:
    from .modelio import atomic_write_text

    atomic_write_text(path, json.dumps({"format": FORMAT, "version": 1, **state}, allow_nan=False) + "\n")


def load_checkpoint(path: str | Path, expected: str) -> dict | None:
    """The saved state, None when there is no checkpoint yet; refuses another run's checkpoint."""
    p = Path(path)
    if not p.exists():
        return None
    try:
        state = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"--checkpoint {p}: unreadable checkpoint ({exc}); delete it to start over") from exc
    if state.get("format") != FORMAT:
        raise UsageError(f"--checkpoint {p}: not a srop-onnx checkpoint; choose another path")
    if state.get("fingerprint") != expected:
        raise UsageError(f"--checkpoint {p}: saved by a run with other arguments (model, settings or inputs); "
                         "delete it or choose another path")
    return state
