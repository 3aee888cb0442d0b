"""Thin callbacks that put a :class:`srop_onnx.Tracker` into training loops.

- :mod:`srop_onnx.integrations.keras`: ``SropCallback`` for ``model.fit`` (Keras 3);
- :mod:`srop_onnx.integrations.lightning`: ``SropCallback`` for a Lightning ``Trainer``.

Each module imports its framework; importing this package imports neither.

May import: every layer below (``srop_onnx.errors``, ``files``, ``core``, ``model``, ``config``,
``inputs``, ``results``, ``run``, ``show``): these are faces, like the command line.
"""

__all__: list[str] = []
