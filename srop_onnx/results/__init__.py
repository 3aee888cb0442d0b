"""What a run returns, and what is done with results alone (no model is run here).

- :mod:`.profile`: ``Profile`` and ``LayerProfile``, their files (JSON, CSV);
- :mod:`.validate`: profile files checked against the shipped schema and for consistency;
- :mod:`.sweepresult`: ``Sweep``, the result of an input sweep;
- :mod:`.comparison`: ``check`` and ``compare`` of profiles;
- :mod:`.merge`: shards merged into one profile;
- :mod:`.frames`: results as pandas DataFrames.

A result's ``_repr_html_`` calls :mod:`srop_onnx.show.notebook` at display time: the one call
upward, made by IPython's display protocol.

May import: srop_onnx.errors, files, core, model, config, inputs.
"""
