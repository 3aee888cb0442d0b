"""The file suffixes srop-onnx reads as inputs (the lowest layer: no imports of its own)."""

from __future__ import annotations

__all__ = ["IMAGE_SUFFIXES", "ARRAY_SUFFIXES", "AUDIO_SUFFIXES", "INPUT_SUFFIXES"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
ARRAY_SUFFIXES = frozenset({".npy", ".npz"})
AUDIO_SUFFIXES = frozenset({".wav", ".wave"})
INPUT_SUFFIXES = IMAGE_SUFFIXES | ARRAY_SUFFIXES | AUDIO_SUFFIXES
