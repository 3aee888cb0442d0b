"""Real exporter outputs for issue 32 (inputs of every kind, layouts read from the graph, names),
committed; regenerate with

    pip install torch==2.13.0 onnxscript tensorflow-cpu tf-keras tf2onnx onnxruntime
    python tests/models/make_exporter_models4.py

Writes next to this file (tiny, seeded weights; the tests need the exporters' graph conventions):
  torch_mel_nlc.onnx     PyTorch (TorchScript exporter) on a channels-last mel input (N, 40, 16) whose
                         first node transposes it (0, 2, 1) into Conv1d layers, a functional pool
  torch_two_inputs.onnx  PyTorch: inputs x and mask (N, 2, 12, 12), each with its own batch symbol
                         (dynamic_axes as lists), and a table (12,) without a sample axis
  torch_int_bytes.onnx   PyTorch: int32 bytes (N, 64) through an Embedding into Conv1d layers
  torch_pools_dynamo.onnx, torch_pools_legacy.onnx
                         PyTorch's two exporters on convs followed by functional max pools
                         (node_max_pool2d_1, /MaxPool_1)
  keras_spec_nhw.onnx    Keras 2 (tf-keras) through tf2onnx: a rank-3 spectrogram (N, 40, 12)
                         expanded to (N, 40, 12, 1) before its Conv2D layers
  tflite_int8.onnx       a Keras 3 MobileNet-style model (Keras's own layer names, BatchNorm after each
                         conv) converted to a full-int8 TFLite model and through tf2onnx (int8
                         input; ';'-joined names that end in _prequant)
  keras3_export.onnx     the same Keras 3 model through model.export(format="onnx")
  keras3_qop.onnx        keras3_export.onnx through onnxruntime quantize_static (QOperator)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).parent
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _torch_export(model, args, name: str, **kw) -> None:
    import torch

    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, args, str(HERE / name), dynamo=kw.pop("dynamo", False), opset_version=17, **kw)


def torch_mel_nlc() -> None:
    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(0)

    class Mel(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv1d(16, 8, 3, padding=1)
            self.conv2 = nn.Conv1d(8, 8, 3, padding=1)

        def forward(self, mel):
            x = F.relu(self.conv1(mel.transpose(1, 2)))
            return self.conv2(F.max_pool1d(x, 2)).mean(-1)

    _torch_export(Mel(), (torch.randn(2, 40, 16),), "torch_mel_nlc.onnx", input_names=["mel"],
                  dynamic_axes={"mel": {0: "batch"}})


def torch_two_inputs() -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1)
            self.head = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x, mask, table):
            return self.head(torch.relu(self.conv(x * mask + table))).mean((2, 3))

    args = (torch.randn(2, 2, 12, 12), torch.ones(2, 2, 12, 12), torch.zeros(12))
    _torch_export(Masked(), args, "torch_two_inputs.onnx", input_names=["x", "mask", "table"],
                  dynamic_axes={"x": [0], "mask": [0]})


def torch_int_bytes() -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Bytes(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(256, 8)
            self.conv1 = nn.Conv1d(8, 8, 5, padding=2)
            self.conv2 = nn.Conv1d(8, 8, 5, padding=2)

        def forward(self, data):
            x = self.embed(data.long()).transpose(1, 2)
            return self.conv2(torch.relu(self.conv1(x))).mean(-1)

    _torch_export(Bytes(), (torch.randint(0, 256, (2, 64), dtype=torch.int32),), "torch_int_bytes.onnx",
                  input_names=["data"], dynamic_axes={"data": {0: "batch"}})


def _pool_net():
    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(0)

    class Pools(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU())
            self.conv = nn.Conv2d(4, 4, 3, padding=1)

        def forward(self, x):
            x = F.max_pool2d(self.features(x), 2)
            return F.max_pool2d(torch.relu(self.conv(x)), 2).mean((2, 3))

    return Pools()


def torch_pools() -> None:
    import torch

    x = torch.randn(2, 3, 16, 16)
    _torch_export(_pool_net(), (x,), "torch_pools_legacy.onnx", input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    batch = torch.export.Dim("batch", min=1, max=64)
    _torch_export(_pool_net(), (x,), "torch_pools_dynamo.onnx", dynamo=True, input_names=["x"],
                  dynamic_shapes=({0: batch},))


def keras_spec_nhw() -> None:
    import tensorflow as tf
    import tf2onnx
    import tf_keras as keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((40, 12), name="spec")
    x = keras.layers.Lambda(lambda t: tf.expand_dims(t, -1), name="add_channel")(inp)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x))
    spec = (tf.TensorSpec((None, 40, 12), tf.float32, name="spec"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(HERE / "keras_spec_nhw.onnx"))


def _keras3_mobile():
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3), name="image")
    x = inp
    for _ in range(2):  # the layers keep Keras's own names (conv2d, depthwise_conv2d, conv2d_1 ...)
        x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU(6.0)(x)
        x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU(6.0)(x)
        x = keras.layers.Conv2D(8, 1, use_bias=False)(x)
        x = keras.layers.BatchNormalization()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(8, 3, padding="same")(x)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(x), name="mobile")
    model(np.zeros((1, 16, 16, 3), np.float32))  # built and called once (the ONNX export needs it)
    for layer in model.layers:  # BatchNorm statistics that change the folded weights
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([g * 1.5, b + 0.1, m + 0.05, v * 2])
    return model


def tflite_int8() -> None:
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    model = _keras3_mobile()
    rng = np.random.default_rng(0)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.random((1, 16, 16, 3), np.float32)] for _ in range(16))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    path = HERE / "tflite_int8.tflite"
    path.write_bytes(conv.convert())
    try:
        tf2onnx.convert.from_tflite(str(path), opset=17, output_path=str(HERE / "tflite_int8.onnx"))
    finally:
        path.unlink()


def keras3_export() -> None:
    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    _keras3_mobile().export(str(HERE / "keras3_export.onnx"), format="onnx")

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.data = iter([{"image": rng.random((1, 16, 16, 3), np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.data, None)

    quantize_static(str(HERE / "keras3_export.onnx"), str(HERE / "keras3_qop.onnx"), Reader(),
                    quant_format=QuantFormat.QOperator)


if __name__ == "__main__":
    actions = {"torch_mel_nlc": torch_mel_nlc, "torch_two_inputs": torch_two_inputs,
               "torch_int_bytes": torch_int_bytes, "torch_pools": torch_pools, "keras_spec_nhw": keras_spec_nhw,
               "tflite_int8": tflite_int8, "keras3_export": keras3_export}
    for name in sys.argv[1:] or actions:
        actions[name]()
        print(f"made {name}")
