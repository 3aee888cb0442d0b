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
import os
from pathlib import Path

from ..errors import UsageError, option
from ..files.remote import is_remote

__all__ = ["FORMAT", "fingerprint", "save_checkpoint", "load_checkpoint", "InputDigest"]

FORMAT = "srop-onnx-checkpoint"
#: 4: a run's identity holds its inputs' identity keys, not their paths as typed
VERSION = 4


def fingerprint(model_sha: str, settings: dict, list_digest: str, extra: dict) -> str:
    """Identity of a run: model, number-changing settings, the input list (by its samples' identity
    keys and sizes, so a run resumes from any working directory or folder that holds the same
    inputs; their bytes are checked as they are read), shard and limits."""
    doc = {"model": model_sha, "settings": settings, "inputs": list_digest, **extra}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def _canonical(state: dict) -> str:
    return json.dumps(state, sort_keys=True, separators=(",", ":"), allow_nan=False)


def save_checkpoint(path: str | Path, state: dict) -> None:
    """Write ``state`` atomically with a digest of its content (an edit or a flipped digit is
    refused on resume instead of resuming into wrong histograms)."""
    from ..files.writes import atomic_write_text

    doc = {"format": FORMAT, "version": VERSION, **state}
    doc["digest"] = hashlib.sha256(_canonical(doc).encode()).hexdigest()
    atomic_write_text(path, json.dumps(doc, allow_nan=False) + "\n")


def load_checkpoint(path: str | Path, expected: str) -> dict | None:
    """The saved state, None when there is no checkpoint yet; refuses a corrupt or edited
    checkpoint and another run's."""
    import stat

    from ..files.bucket_writes import check_output_urls
    from ..files.remote import exists, is_url
    from ..files.writes import remove_stale_temporaries, writable_file

    if is_url(str(path)):  # a checkpoint in a bucket: one object, written whole by each save
        check_output_urls({"--checkpoint": str(path)})  # a bucket that is not there: before the first batch
        if not exists(str(path)):
            return None
        return _checked_state(str(path), expected)
    p = Path(path)
    remove_stale_temporaries(p)  # what an interrupted save left beside the checkpoint
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        writable_file("--checkpoint", p)  # saved every few batches: an unwritable place is refused now
        return None
    except OSError as exc:
        raise UsageError(f"{option('checkpoint')} {p}: cannot read it ({exc.strerror or exc}); choose another path") from exc
    if not stat.S_ISREG(mode):
        raise UsageError(f"{option('checkpoint')} {p}: not a regular file (a device, FIFO or folder); give the path of a "
                         "checkpoint file (it is created when missing)")
    state = _checked_state(p, expected)
    writable_file("--checkpoint", p)  # saved again as the run goes on: a read-only disk now, not then
    return state


def _checked_state(p, expected: str) -> dict:
    """The state of the checkpoint at ``p`` (a path or a URL), checked: format, version, digest,
    fingerprint."""
    from ..files.reading import MAX_JSON_BYTES, read_checked

    data = read_checked(p, "checkpoint", MAX_JSON_BYTES, UsageError,
                        f"give {option('checkpoint')} the path of a checkpoint file (it is created when missing)")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(f"{option('checkpoint')} {p}: unreadable checkpoint ({type(exc).__name__}); delete it to start over") \
            from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise UsageError(f"{option('checkpoint')} {p}: not a srop-onnx checkpoint; choose another path")
    if doc.get("version") != VERSION:
        raise UsageError(f"{option('checkpoint')} {p}: written by another srop-onnx version; delete it to start over")
    state = {k: v for k, v in doc.items() if k != "digest"}
    if hashlib.sha256(_canonical(state).encode()).hexdigest() != doc.get("digest"):
        raise UsageError(f"{option('checkpoint')} {p}: corrupt or edited (its content does not match its digest); "
                         "delete it to start over")
    if state.get("fingerprint") != expected:
        raise UsageError(f"{option('checkpoint')} {p}: saved by a run with other arguments (model, settings or inputs); "
                         "delete it or choose another path")
    return state


class InputDigest:
    """A running digest of every byte of the input files a run has read, in file order: the
    decoders hash each file as they read it (:func:`srop_onnx.inputs.samples.iter_samples`), and the
    digests of the files fully counted are chained here. On resume the saved prefix is read
    and hashed again, so an input changed in any way before the resume is refused."""

    def __init__(self, files: list[Path] | None):
        self.files = files
        self.count = 0
        self._hash = hashlib.sha256()

    def cover(self, upto: int, digests: dict[int, str]) -> None:
        """Chain the digests of ``files[:upto]`` (``digests``: by file index, consumed)."""
        if self.files is None:
            return
        while self.count < min(upto, len(self.files)):
            self._hash.update(digests.pop(self.count).encode())
            self.count += 1

    def state(self) -> dict:
        return {"files": self.count, "digest": self._hash.hexdigest()}

    def verify(self, saved: dict | None) -> str | None:
        """Re-read and hash the saved prefix of the inputs (objects in a bucket are read again, not
        trusted by their listing); None when it matches, else why not."""
        if saved is None or self.files is None:
            return None
        upto = min(int(saved["files"]), len(self.files))
        self.cover(upto, {i: _digest(self.files[i]) for i in range(self.count, upto)})
        if self._hash.hexdigest() != saved["digest"]:
            return (f"an input read before the checkpoint (one of the first {saved['files']} files) changed since "
                    "(its content differs)")
        return None


def _digest(f) -> str:
    """SHA-256 of an input's bytes: a local file's, or an object's read again from its bucket."""
    if is_remote(f):
        return hashlib.sha256(f.read()).hexdigest()
    from ..model.modelio import content_digest

    return content_digest(f)
