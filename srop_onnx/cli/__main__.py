"""``python -m srop_onnx.cli`` is the ``srop-onnx`` command, as ``python -m srop_onnx`` is."""

from __future__ import annotations

from . import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    main(prog_name="srop-onnx")
