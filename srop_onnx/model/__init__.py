"""ONNX models: reading them, naming their layers and rewriting their graphs.

- :mod:`.modelio`: reading models and finding input files (the read side of file I/O);
- :mod:`.graph`: graph passes (taps, layouts, outputs, the pooling chain);
- :mod:`.naming`: the author's layer names from what each exporter leaves in the graph;
- :mod:`.subgraphs`: control flow (``If`` with a constant condition, layers inside loops);
- :mod:`.twin`: the randomized twin (weights re-drawn, the graph unchanged);
- :mod:`.baseline`: the max-pooling baseline's statistics.

May import: srop_onnx.errors, files, core.
"""
