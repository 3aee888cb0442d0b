"""What the training callbacks share: how often they measure (a face's helper, no framework)."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

__all__ = ["every_option", "logged_metrics", "profile_file_of", "track_folder"]


def every_option(value, name: str) -> "int | None":
    """``every_n_epochs`` / ``every_n_steps``: a whole number >= 1, or None (never)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def logged_metrics(values) -> dict:
    """The numbers a trainer has logged (Lightning's ``callback_metrics``, Keras' ``logs``) as a
    step's metrics: scalar and finite values only, never this package's own ``srop/...`` ones."""
    from ..results.track import check_metrics

    out = {}
    for name, value in dict(values or {}).items():
        if not isinstance(name, str) or name.startswith("srop/"):
            continue
        try:
            out.update(check_metrics({name: value}))
        except Exception:  # noqa: BLE001 - a metric that is not one number is not kept (a trainer logs many kinds)
            continue
    return out


@contextlib.contextmanager
def profile_file_of(step: int, profile):
    """A context giving a local file holding ``profile`` as a track's step file (for loggers that
    upload files)."""
    from ..results.track import profile_file

    with tempfile.TemporaryDirectory(prefix="srop-onnx-log-") as tmp:
        path = Path(tmp) / Path(profile_file(step)).name
        profile.to_json(path)
        yield path


@contextlib.contextmanager
def track_folder(track):
    """A context giving a temporary local folder that holds the track as a track folder does
    (``track.json`` and ``profiles/``, nothing else: no lock file), from the track in memory
    (wherever its own folder is: local, a bucket, none)."""
    import json

    from ..results.track import INDEX_NAME, profile_file

    with tempfile.TemporaryDirectory(prefix="srop-onnx-track-") as tmp:
        root = Path(tmp) / "track"
        (root / "profiles").mkdir(parents=True)
        # the bytes a Tracker writes (UTF-8, "\n" line ends on every OS)
        (root / INDEX_NAME).write_bytes((json.dumps(track.index, indent=1, allow_nan=False) + "\n").encode())
        for step, profile in zip(track.steps, track.profiles):
            profile.to_json(root / profile_file(step))
        yield root
