"""The shipped example: a small CNN trained on synthetic shapes and eight images to analyse it over.

A wheel installs them under ``<prefix>/share/srop-onnx/example/`` (``data-files`` in
pyproject.toml); a source checkout has them in ``models/``. :func:`example_files` finds either.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

from ..errors import UsageError

__all__ = ["example_files"]


def _candidates() -> list[Path]:
    roots = [Path(sysconfig.get_path("data")), Path(sys.prefix)]
    out = [r / "share" / "srop-onnx" / "example" for r in roots]
    out.append(Path(__file__).resolve().parents[2] / "models")  # a source checkout (and editable installs)
    return out


def example_files() -> tuple[Path, Path]:
    """``(model, images folder)`` of the shipped example, or one line saying it is missing."""
    for folder in _candidates():
        model, images = folder / "example.onnx", folder / "images"
        if model.is_file() and images.is_dir():
            return model, images
    raise UsageError("the shipped example is missing from this installation (looked in "
                     f"{', '.join(str(c) for c in _candidates())}); reinstall srop-onnx")
