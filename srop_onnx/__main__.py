"""``python -m srop_onnx`` is the ``srop-onnx`` command."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    main(prog_name="srop-onnx")
