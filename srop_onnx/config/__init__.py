"""What a run is asked to do: the two frozen values every run is built from.

- :mod:`.settings`: ``Measurement`` (everything that changes a number) and ``Execution`` (how the
  run goes), their validation, comparison and fingerprints, and the ``Hooks`` a face passes in
  (progress, notes) so the run layer never imports a display;
- :mod:`.options`: checks of option values (finite, in range, whole).

May import: srop_onnx.errors, files, core, model.
"""
