"""The installed version of srop-onnx, read once from the package metadata."""

from __future__ import annotations

from functools import lru_cache

__all__ = ["version"]


@lru_cache(maxsize=1)
def version() -> str:
    """``srop-onnx``'s version as installed (``0.0.0+unknown`` when run from a bare source tree)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("srop-onnx")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0+unknown"
