"""Preprocessing of images into model inputs: the presets, and the conversion of one decoded
image (mode, resize of the shorter side, centre crop, scale, mean/std, layout) into an array.

Images are read by :mod:`srop_onnx.model.modelio`; this module takes the decoded PIL image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import UsageError, option
from .inputspec import InputSpec

__all__ = ["PRESETS", "Preprocess", "make_preprocess", "image_to_input"]


#: the longest image side ``--size`` takes
MAX_IMAGE_SIDE = 16384

PRESETS: dict[str, dict] = {
    # scale: multiply 0..255 pixels; mean/std after scaling; crop: centre-crop ratio
    "imagenet": {"scale": 1 / 255, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225), "crop": 0.875, "bgr": False},
    "unit": {"scale": 1 / 255, "mean": (0.0,), "std": (1.0,), "crop": 1.0, "bgr": False},
    "symmetric": {"scale": 1 / 255, "mean": (0.5,), "std": (0.5,), "crop": 1.0, "bgr": False},
    "raw": {"scale": 1.0, "mean": (0.0,), "std": (1.0,), "crop": 1.0, "bgr": False},
    "caffe": {"scale": 1.0, "mean": (103.939, 116.779, 123.68), "std": (1.0,), "crop": 0.875, "bgr": True},
}


@dataclass(frozen=True)
class Preprocess:
    """How images become model inputs: ``((pixels * scale) - mean) / std`` after
    resizing the shorter side to ``size / crop`` and centre-cropping ``size``."""

    preset: str
    size: tuple[int, int]
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    crop: float
    bgr: bool

    def to_dict(self) -> dict:
        d = asdict(self)
        d["size"] = list(self.size)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


def _floats(vals, what: str, channels: int) -> tuple[float, ...]:
    vals = tuple(float(v) for v in vals)
    if len(vals) == 1:
        return vals * channels
    if len(vals) == 3 and channels == 1:
        return (float(np.mean(vals)),)
    if len(vals) != channels:
        raise UsageError(f"--{what} needs 1 or {channels} values for a {channels}-channel model, got {len(vals)}")
    return vals


def make_preprocess(
    spec: InputSpec,
    preset: str | None = None,
    mean=None,
    std=None,
    size: tuple[int, int] | None = None,
    crop: float | None = None,
) -> Preprocess | None:
    """Preprocessing for image inputs, or None for models images cannot feed (1-D); ``crop``
    overrides the preset's centre-crop ratio (1: the whole image)."""
    if spec.rank != 4 and spec.layout != "NHW":
        return None
    channels = spec.channels or 3
    if preset is None:
        preset = "imagenet" if channels == 3 else "unit"
    if preset not in PRESETS:
        raise UsageError(f"{option('preprocess')} must be one of {', '.join(PRESETS)}, got {preset!r}")
    p = PRESETS[preset]
    static = spec.spatial
    if size is not None and max(size) > MAX_IMAGE_SIDE:
        raise UsageError(f"{option('size', f'{size[0]}x{size[1]}', py=tuple(size))}: sides above {MAX_IMAGE_SIDE} pixels are refused (one such "
                         "input would take gigabytes); give the size the model was made for")
    if size is None:
        if any(d is None for d in static):
            size = None
        else:
            size = (int(static[0]), int(static[1]))
    elif all(d is not None for d in static) and tuple(size) != tuple(static):
        raise UsageError(f"{option('size', f'{size[0]}x{size[1]}', py=tuple(size))} does not match the model's fixed input size {static[0]}x{static[1]}")
    return Preprocess(
        preset=preset,
        size=size if size else (0, 0),
        scale=float(p["scale"]),
        mean=_floats(mean if mean is not None else p["mean"], "mean", channels),
        std=_floats(std if std is not None else p["std"], "std", channels),
        crop=float(crop if crop is not None else p["crop"]),
        bgr=bool(p["bgr"]) and channels == 3,
    )


def _image_to_hwc(img, channels: int) -> tuple[np.ndarray, object]:
    """(float32 H x W x C array in 0..255, resizable PIL image or None)."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float32)
        arr = arr * (255.0 / 65535.0) if arr.max(initial=0) > 255 or mode.startswith("I;16") else arr
        return arr[..., None], None
    if mode == "F":
        return np.asarray(img, dtype=np.float32)[..., None], None
    target = {1: "L", 3: "RGB", 4: "RGBA"}[channels]
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    return None, img.convert(target)


#: an image is resized to at most this many times the pixels of the model input before its crop
_MAX_RESIZE_FACTOR = 64


def _resize_crop(arr_or_img, size: tuple[int, int], crop: float) -> np.ndarray:
    from PIL import Image

    th, tw = size
    if isinstance(arr_or_img, np.ndarray):
        h, w = arr_or_img.shape[:2]
    else:
        w, h = arr_or_img.size
    scale = max(th / crop / h, tw / crop / w)
    nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
    if nh * nw > _MAX_RESIZE_FACTOR * th * tw:  # a 400000 x 1 image would become 1.5 GB before its crop
        raise ValueError(f"a {w}x{h} image would be resized to {nw}x{nh} for a {tw}x{th} crop; it is too elongated "
                         f"for this model (more than {_MAX_RESIZE_FACTOR}x the pixels it needs)")
    top, left = (nh - th) // 2, (nw - tw) // 2
    box = (left, top, left + tw, top + th)
    if isinstance(arr_or_img, np.ndarray):
        chans = [
            np.asarray(Image.fromarray(arr_or_img[..., c], "F").resize((nw, nh), Image.BILINEAR).crop(box))
            for c in range(arr_or_img.shape[2])
        ]
        return np.stack(chans, axis=-1).astype(np.float32)
    out = np.asarray(arr_or_img.resize((nw, nh), Image.BILINEAR).crop(box), dtype=np.float32)
    return out if out.ndim == 3 else out[..., None]


def image_to_input(img, spec: InputSpec, pre: Preprocess) -> np.ndarray:
    """One decoded image as a model-ready sample (no batch axis, model layout and dtype)."""
    channels = spec.channels or 3
    if channels not in (1, 3, 4):
        raise UsageError(
            f"model input '{spec.name}' has {channels} channels; images give 1, 3 or 4 - feed .npy arrays instead"
        )
    arr, pil = _image_to_hwc(img, channels)
    hwc = _resize_crop(arr if arr is not None else pil, pre.size, pre.crop)
    if hwc.shape[2] != channels:
        hwc = np.repeat(hwc[..., :1], channels, axis=2) if hwc.shape[2] == 1 else hwc[..., :channels]
    if pre.bgr:
        hwc = hwc[..., ::-1]
    # ((pixels * scale) - mean) / std, in place (the same float32 rounding, a third of the allocations)
    x = np.multiply(hwc, pre.scale, dtype=np.float32)
    x -= np.asarray(pre.mean, np.float32)
    x /= np.asarray(pre.std, np.float32)
    if spec.layout == "NCHW":
        x = np.transpose(x, (2, 0, 1))
    elif spec.layout == "NHW":  # one channel, no channel axis
        x = x[..., 0]
    return np.ascontiguousarray(x, dtype=spec.dtype)
