"""Real exporter outputs for issue 22 (TFLite and Keras names, 1-D layers in 2-D convs), committed;
regenerate with

    pip install tensorflow-cpu tf-keras tf2onnx
    python tests/models/make_exporter_models.py

Writes next to this file (tiny, seeded weights; the tests need the exporters' graph conventions):
  keras_separable.onnx  Keras 2 (tf-keras) SeparableConv2D layers through tf2onnx: a depthwise and a
                        1x1 pointwise conv under one scope (separable_conv2d/separable_conv2d/depthwise)
  keras_conv1d.onnx     Keras 2 Conv1D layers through tf2onnx on a channels-last waveform (N, 64, 1):
                        convs of shape (N, C, 1, L), a MaxPooling1D of shape (N, C, L, 1), and two
                        nested models whose convs share the name 'conv'
  tflite_folded.onnx    a Keras 3 MobileNet-style block converted to TFLite (BatchNorm folded into the
                        conv, the depthwise and the pointwise convs: ';'-joined names) and through tf2onnx
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def keras_separable() -> None:
    import tensorflow as tf
    import tf2onnx
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.SeparableConv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.SeparableConv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(3)(x))
    spec = (tf.TensorSpec((None, 32, 32, 3), tf.float32, name="image"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(HERE / "keras_separable.onnx"))


def keras_conv1d() -> None:
    import tensorflow as tf
    import tf2onnx
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((64, 1), name="audio")
    x = keras.layers.Conv1D(4, 9, padding="same", activation="relu")(inp)
    x = keras.layers.MaxPooling1D(2)(x)
    for branch in ("branch_a", "branch_b"):  # two nested models, each with a layer named 'conv'
        sub_in = keras.Input((32, 4))
        x = keras.Model(sub_in, keras.layers.Conv1D(4, 3, padding="same", name="conv")(sub_in), name=branch)(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    spec = (tf.TensorSpec((None, 64, 1), tf.float32, name="audio"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(HERE / "keras_conv1d.onnx"))


def tflite_folded() -> None:
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((32, 32, 3), batch_size=1, name="image")
    x = tf.keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(inp)
    x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.ReLU(6.0)(x)
    for _ in range(2):
        x = tf.keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = tf.keras.layers.BatchNormalization()(x)
        x = tf.keras.layers.ReLU(6.0)(x)
        x = tf.keras.layers.Conv2D(8, 1, use_bias=False)(x)
        x = tf.keras.layers.BatchNormalization()(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3)(x), name="model")
    model(np.zeros((1, 32, 32, 3), np.float32))
    for layer in model.layers:  # BatchNorm statistics that change the folded weights
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([g * 1.5, b + 0.1, m + 0.05, v * 2])
    path = HERE / "tflite_folded.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    try:
        tf2onnx.convert.from_tflite(str(path), opset=17, output_path=str(HERE / "tflite_folded.onnx"))
    finally:
        path.unlink()


if __name__ == "__main__":
    actions = {"keras_separable": keras_separable, "keras_conv1d": keras_conv1d, "tflite_folded": tflite_folded}
    for name in sys.argv[1:] or actions:
        actions[name]()
        print(f"wrote {HERE / (name + '.onnx')}")
