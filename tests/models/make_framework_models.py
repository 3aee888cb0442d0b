"""Real exporter outputs for the naming and layout tests (committed; regenerate with this script).

    pip install torch==2.13.0 tensorflow-cpu tf2onnx paddlepaddle paddle2onnx
    python tests/models/make_framework_models.py

Writes next to this file:
  torch_legacy.onnx   PyTorch's legacy TorchScript exporter (dynamo=False): names like /layer1/layer1.0/conv1/Conv
  keras_small.onnx    a Keras functional model "small" (NHWC input) converted by tf2onnx
  paddle_small.onnx   a Paddle model exported with paddle.onnx.export (paddle2onnx)
Both are tiny (random weights); the tests only need their graph conventions.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent


def torch_legacy() -> None:
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, ch):
            super().__init__()
            self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(ch)
            self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)

        def forward(self, x):
            return torch.relu(x + self.conv2(torch.relu(self.bn1(self.conv1(x)))))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
            self.layer1 = nn.Sequential(Block(8), Block(8))
            self.head = nn.Linear(8, 3)

        def forward(self, x):
            return self.head(self.layer1(self.stem(x)).mean(dim=(2, 3)))

    torch.manual_seed(0)
    net = Net().eval()
    torch.onnx.export(net, (torch.randn(1, 3, 32, 32),), str(HERE / "torch_legacy.onnx"), dynamo=False,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}}, opset_version=17)


def keras_small() -> None:
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    tf.random.set_seed(0)
    inp = tf.keras.Input((32, 32, 3), name="image")
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_a")(inp)
    x = tf.keras.layers.BatchNormalization(name="bn_a")(x)
    x = tf.keras.layers.MaxPooling2D(2, name="pool_a")(x)
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv_b")(x)
    x = tf.keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = tf.keras.layers.Dense(3, name="dense")(x)
    model = tf.keras.Model(inp, out, name="small")
    model(np.zeros((1, 32, 32, 3), np.float32))
    spec = (tf.TensorSpec((None, 32, 32, 3), tf.float32, name="image"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(HERE / "keras_small.onnx"))


def paddle_small() -> None:
    import paddle
    from paddle import nn

    paddle.seed(0)

    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2D(3, 8, 3, padding=1)
            self.bn1 = nn.BatchNorm2D(8)
            self.pool = nn.MaxPool2D(2)
            self.conv2 = nn.Conv2D(8, 8, 3, padding=1)
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            x = self.pool(nn.functional.relu(self.bn1(self.conv1(x))))
            x = nn.functional.relu(self.conv2(x))
            return self.fc(x.mean(axis=[2, 3]))

    net = Net()
    net.eval()
    spec = [paddle.static.InputSpec(shape=[None, 3, 32, 32], dtype="float32", name="x")]
    paddle.onnx.export(net, str(HERE / "paddle_small"), input_spec=spec, opset_version=13)


if __name__ == "__main__":
    which = sys.argv[1:] or ["torch", "keras", "paddle"]
    if "torch" in which:
        torch_legacy()
    if "keras" in which:
        keras_small()
    if "paddle" in which:
        paddle_small()
