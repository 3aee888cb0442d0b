"""Inputs held in memory as a list: PIL images, or arrays and framework tensors.

From Python (a notebook, a dataset loaded by another library) inputs often are objects, not files:
``[Image.open(p) for p in paths]``, the images of a Hugging Face dataset, ``[x for x, _ in
loader]``. A list of PIL images is preprocessed exactly as image files are (EXIF orientation
included, so an opened file gives what its path gives); a list of arrays is the concatenation of its
items, each one sample or a batch of them. Each sample is known by its place in the list:
``image[i]`` or ``array[i]``.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputDataError
from .samples import Sample, image_array

__all__ = ["InMemory", "ImageRows", "is_pil_image", "images_digest"]


@dataclass(frozen=True)
class InMemory:
    """A list of in-memory inputs: ``kind`` ``'images'`` (PIL images) or ``'arrays'`` (NumPy arrays)."""

    kind: str
    items: tuple


def is_pil_image(x) -> bool:
    """Whether ``x`` is a PIL image (without importing Pillow: a program that made one has)."""
    mod = sys.modules.get("PIL.Image")
    return mod is not None and isinstance(x, mod.Image)


def images_digest(images: Sequence) -> str:
    """What a list of images is, pixel for pixel: their modes, sizes and bytes (a checkpoint of a run
    over them resumes only over the same images)."""
    h = hashlib.sha256()
    for i, img in enumerate(images):
        h.update(f"{img.mode} {img.size}\n".encode())
        h.update(_readable(lambda: img.tobytes(), i))
    return h.hexdigest()


def _readable(read, row: int):
    """``read()``, with an image opened lazily from a file closed or cut since named by its place."""
    try:
        return read()
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputDataError(f"image[{row}]: cannot read image ({type(exc).__name__}: {exc})") from exc


class ImageRows(Sequence):
    """The samples of in-memory images ``images`` (rows ``start..start+len`` of ``total``), each
    preprocessed when it is taken, once :meth:`bind` has said how; ``labels``: each row's class or None."""

    def __init__(self, images: Sequence, start: int, total: int, labels: Sequence | None = None):
        self.images, self.start, self.total = tuple(images), start, total
        self.labels = tuple(labels) if labels is not None else (None,) * len(self.images)
        self.spec = self.pre = None

    def bind(self, spec, pre) -> "ImageRows":
        """Preprocess for the model input ``spec`` with ``pre`` (the plan's)."""
        self.spec, self.pre = spec, pre
        return self

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        if isinstance(i, slice):
            lo, hi, step = i.indices(len(self))
            if step != 1:
                raise ValueError("ImageRows slices take every row")
            part = ImageRows(self.images[lo:hi], self.start + lo, self.total, self.labels[lo:hi])
            return part.bind(self.spec, self.pre)
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        from PIL import ImageOps

        row = self.start + i
        where = f"image[{row}]"
        img = _readable(lambda: ImageOps.exif_transpose(self.images[i]), row)  # as an image file is read
        s = Sample(where, image_array(img, where, self.spec, self.pre), 0, row, self.total)
        s.label = self.labels[i]
        return s


def stack_arrays(items: Sequence[np.ndarray], spec, check) -> np.ndarray:
    """One batch of in-memory arrays, each a sample or a batch of them (``check``: samples.check_array)."""
    return np.concatenate([check(a, spec, f"inputs[{i}]") for i, a in enumerate(items)])
