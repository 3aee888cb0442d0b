"""ONNX models: reading them, naming their layers and rewriting their graphs.

- :mod:`.modelio`: reading models and finding input files (the read side of file I/O);
- :mod:`.graph`: graph passes (taps, outputs, weights kept beside the graph, recurrent states);
- :mod:`.chain`: the baseline's pooling chain as graph outputs, valid at the model's opset;
- :mod:`.naming`: the author's layer names from what each exporter leaves in the graph;
- :mod:`.subgraphs`: control flow (``If`` with a condition fixed before the run, layers inside loops);
- :mod:`.twin`: the randomized twin (weights re-drawn, the graph unchanged);
- :mod:`.baseline`: the max-pooling baseline's statistics.

May import: srop_onnx.errors, files, core.
"""
