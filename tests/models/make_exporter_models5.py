"""Real exporter outputs for issue 39 (exports, fifth round), committed; regenerate with

    pip install tensorflow-cpu tf-keras tf2onnx onnxruntime
    python tests/models/make_exporter_models5.py

Writes next to this file (tiny, seeded weights; the tests need the exporters' graph conventions):
  tf2onnx_fused_pad.onnx  Keras 2 (tf-keras) blocks shaped like OpenNSFW's (ZeroPadding2D, Conv2D,
                          BatchNormalization; conv_stage0_block0_branch2b, bn_stage0_block0_branch2b)
                          through tf2onnx at opset 9: tf2onnx folds each BatchNorm into its conv and
                          fuses the Pad into it, and the fused conv is renamed ``Conv__NN`` while its
                          output keeps the Keras name (``model/bn_stage0_block0_branch2b/...:0``)
  tflite_k3_separable.onnx a Keras 3 mini-Xception (SeparableConv2D + BatchNormalization blocks, as
                          the fer model) converted to a weight-quantized TFLite model and through
                          tf2onnx: ';'-joined names whose last segment is a BatchNorm's op
                          (``.../batch_normalization_2_1/batchnorm/sub``), Keras 3's ``_1`` scopes
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _randomize(model, seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for w in layer.weights:
            v = rng.standard_normal(tuple(w.shape)).astype(np.float32) * 0.2
            w.assign(np.abs(v) + 1 if "variance" in w.name else v)


def fused_pad() -> None:
    """OpenNSFW-like blocks through tf2onnx (Keras 2 API, as OpenNSFW's graph)."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import onnx
    import tensorflow as tf
    import tf2onnx
    import tf_keras as keras

    layers = keras.layers
    x = inp = keras.Input((32, 32, 3), name="input")
    x = layers.ZeroPadding2D(((3, 3), (3, 3)), name="conv_1_pad")(x)
    x = layers.Conv2D(8, 7, strides=2, padding="valid", name="conv_1")(x)
    x = layers.BatchNormalization(name="bn_1")(x)
    x = layers.Activation("relu")(x)
    x = layers.MaxPooling2D(3, 2, padding="same", name="pool1")(x)
    shortcut = x
    x = layers.Conv2D(8, 1, name="conv_stage0_block0_branch2a")(x)
    x = layers.BatchNormalization(name="bn_stage0_block0_branch2a")(x)
    x = layers.Activation("relu")(x)
    x = layers.ZeroPadding2D(((1, 1), (1, 1)), name="pad_stage0_block0_branch2b")(x)
    x = layers.Conv2D(8, 3, padding="valid", name="conv_stage0_block0_branch2b")(x)
    x = layers.BatchNormalization(name="bn_stage0_block0_branch2b")(x)
    x = layers.Add()([x, shortcut])
    model = keras.Model(inp, x)
    _randomize(model, 0)
    spec = [tf.TensorSpec((None, 32, 32, 3), tf.float32, name="input")]
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=9)
    onnx.save(proto, HERE / "tf2onnx_fused_pad.onnx")


def k3_separable() -> None:
    """A Keras 3 mini-Xception through a weight-quantized TFLite model and tf2onnx."""
    os.environ.pop("TF_USE_LEGACY_KERAS", None)
    import keras
    import onnx
    import tensorflow as tf
    import tf2onnx

    layers = keras.layers
    x = inp = keras.Input((48, 48, 1))
    x = layers.Conv2D(8, 3, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    for filters in (16, 32):
        residual = layers.BatchNormalization()(layers.Conv2D(filters, 1, strides=2, padding="same", use_bias=False)(x))
        x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.Activation("relu")(layers.BatchNormalization()(x))
        x = layers.BatchNormalization()(layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)(x))
        x = layers.add([layers.MaxPooling2D(3, strides=2, padding="same")(x), residual])
    x = layers.Conv2D(7, 3, padding="same")(x)
    x = layers.Activation("softmax")(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inp, x)
    _randomize(model, 1)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]  # weights int8, activations float
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fer.tflite"
        path.write_bytes(converter.convert())
        proto, _ = tf2onnx.convert.from_tflite(str(path), opset=13)
    onnx.save(proto, HERE / "tflite_k3_separable.onnx")


if __name__ == "__main__":
    import subprocess
    import sys

    if len(sys.argv) > 1:  # one model per process: Keras 2 and Keras 3 do not share one
        {"fused_pad": fused_pad, "k3_separable": k3_separable}[sys.argv[1]]()
    else:
        for name in ("fused_pad", "k3_separable"):
            subprocess.run([sys.executable, __file__, name], check=True)
