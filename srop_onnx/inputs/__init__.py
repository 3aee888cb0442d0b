"""The model's input and the samples fed to it.

- :mod:`.inputspec`: the model input, its layout and shape;
- :mod:`.preprocess`: image preprocessing (resize, scale, normalise);
- :mod:`.samples`: sample streams decoded on threads, with their identity keys;
- :mod:`.audio`: waveforms;
- :mod:`.inputset`: the input set of a run (the files, the other model inputs, the shard).

May import: srop_onnx.errors, files, core, model, config.
"""
