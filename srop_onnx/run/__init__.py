"""Running models: the stages of an analysis, ONNX Runtime, batches, checkpoints, sweeps, Ray.

- :mod:`.stages`: the named stages (load, plan, open inputs, start the session, batches, profile);
- :mod:`.analysis`: ``analyze`` and ``analyze_vs_random``, the keyword facades over the stages;
- :mod:`.sweeps`: input sweeps;
- :mod:`.runtime`: ONNX Runtime sessions and providers;
- :mod:`.execution`: batches, probing and out-of-memory handling;
- :mod:`.reducer`: tap outputs to statistics;
- :mod:`.checkpoint`: saving and resuming a run;
- :mod:`.limits`, :mod:`.signals`: machine limits; stopping cleanly on signals;
- :mod:`.distributed`: the same analysis over a Ray cluster.

Progress and notes go through the ``Hooks`` the caller passes in; this layer never imports a display.

May import: srop_onnx.errors, files, core, model, config, inputs, results.
"""
