"""The spectral math and its statistics: arrays in, arrays and numbers out, no files, no models.

- :mod:`._xp`: array namespaces (NumPy or CuPy through array-api-compat), thread pools, preloading;
- :mod:`.rings`: the radial rings of a map's spectrum;
- :mod:`.spectral`: the roll-off kernels (``srop``, ``rolloff_bins`` and friends);
- :mod:`.fused`: the fused device kernel's plan and its NumPy model;
- :mod:`.cuda`: the CUDA adapter, the one module that imports CuPy;
- :mod:`.stats`: exact histograms, summaries and distances of roll-off bins.

May import: srop_onnx.errors.
"""
