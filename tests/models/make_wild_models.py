"""Real exporter outputs for issue 15 (names, waveforms, extra inputs), committed; regenerate with

    pip install torch==2.13.0 onnxscript tensorflow-cpu tf-keras tf2onnx paddlepaddle paddle2onnx
    python tests/models/make_wild_models.py torch keras2 tflite paddle2 audio
    # paddle2onnx 1.x needs an older Paddle, in its own environment:
    pip install paddlepaddle==2.6.2 paddle2onnx==1.3.1 && python tests/models/make_wild_models.py paddle1

Writes next to this file (tiny, random weights; the tests need their graph conventions):
  torch_dynamo_resnet.onnx  PyTorch's default (dynamo) exporter: BatchNorm fused into the convs, names
                            in metadata that point at the BN (layer1.0.bn2)
  torch_legacy_resnet.onnx  the same network through the legacy exporter (/layer2/layer2.0/downsample/
                            downsample.0/Conv): both exports must give the same names
  keras2_auto.onnx          Keras 2 (tf-keras) layers auto-named conv2d, conv2d_1, conv2d_2 via tf2onnx
  tflite_small.onnx         a Keras model converted to TFLite, then through tf2onnx (';'-joined names)
  paddle2_small.onnx        paddle2onnx 2.x (generic node names Conv.0, Paddle parameters conv2d_0.w_0)
  paddle1_small.onnx        paddle2onnx 1.x (generic node names, weights named after their layer)
  audio_vad.onnx            a voice-activity-like model: raw waveform (N, samples), a float state and an
                            int64 sample rate as extra inputs, Conv1d layers
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent


def _torch_resnet():
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                               if stride != 1 or cin != cout else None)

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            return torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))) + idt)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.layer1 = nn.Sequential(Block(8, 8, 1))
            self.layer2 = nn.Sequential(Block(8, 16, 2))
            self.fc = nn.Linear(16, 4)

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            return self.fc(self.layer2(self.layer1(x)).mean(dim=(2, 3)))

    torch.manual_seed(0)
    net = Net().eval()
    with torch.no_grad():  # non-trivial BN statistics, so fusing them changes the weights
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
    return net


def torch_exports() -> None:
    import torch

    net = _torch_resnet()
    x = torch.randn(1, 3, 32, 32)
    torch.onnx.export(net, (x,), str(HERE / "torch_legacy_resnet.onnx"), dynamo=False, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}}, opset_version=17)
    prog = torch.onnx.export(net, (x,), dynamo=True, input_names=["x"], output_names=["y"],
                             dynamic_shapes=({0: torch.export.Dim("N")},), optimize=True)
    prog.model.ir_version = 10
    prog.save(str(HERE / "torch_dynamo_resnet.onnx"))


def keras2_auto() -> None:
    import numpy as np
    import tf_keras as keras
    import tensorflow as tf
    import tf2onnx

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.layers.InputLayer(input_shape=(32, 32, 3)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3),
    ])
    model(np.zeros((1, 32, 32, 3), np.float32))
    spec = (tf.TensorSpec((None, 32, 32, 3), tf.float32, name="image"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17, output_path=str(HERE / "keras2_auto.onnx"))


def tflite_small() -> None:
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    tf.random.set_seed(0)
    inp = tf.keras.Input((32, 32, 3), batch_size=1, name="image")
    x = tf.keras.layers.Conv2D(8, 3, padding="same", name="conv2d")(inp)
    x = tf.keras.layers.BatchNormalization(name="bn")(x)
    x = tf.keras.layers.ReLU()(x)
    x = tf.keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(x)
    x = tf.keras.layers.Conv2D(8, 1, name="project")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(3, name="dense")(x), name="model")
    model(np.zeros((1, 32, 32, 3), np.float32))
    lite = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    path = HERE / "tflite_small.tflite"
    path.write_bytes(lite)
    try:
        tf2onnx.convert.from_tflite(str(path), opset=17, output_path=str(HERE / "tflite_small.onnx"))
    finally:
        path.unlink()


def _paddle_net(named_weights: bool):
    import paddle
    from paddle import nn

    globals()["nn"] = nn  # Paddle 2.x's dy2static looks names up in the module's globals
    paddle.seed(0)

    def attr(name):
        return paddle.ParamAttr(name=name) if named_weights else None

    class Net(nn.Layer):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2D(3, 8, 3, padding=1, weight_attr=attr("conv1_weights"), bias_attr=False)
            self.bn1 = nn.BatchNorm2D(8)
            self.dw = nn.Conv2D(8, 8, 3, padding=1, groups=8, weight_attr=attr("dw_weights"), bias_attr=False)
            self.pool = nn.MaxPool2D(2)
            self.conv2 = nn.Conv2D(8, 8, 1, weight_attr=attr("conv2_weights"), bias_attr=False)
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            x = nn.functional.relu(self.bn1(self.conv1(x)))
            x = self.pool(nn.functional.relu(self.dw(x)))
            return self.fc(nn.functional.relu(self.conv2(x)).mean(axis=[2, 3]))

    net = Net()
    net.eval()
    return net


def paddle_export(name: str, named_weights: bool) -> None:
    import paddle

    spec = [paddle.static.InputSpec(shape=[None, 3, 32, 32], dtype="float32", name="x")]
    paddle.onnx.export(_paddle_net(named_weights), str(HERE / name), input_spec=spec, opset_version=13)


def audio_vad() -> None:
    import torch
    from torch import nn

    class Vad(nn.Module):
        def __init__(self):
            super().__init__()
            self.stft = nn.Sequential(nn.Conv1d(1, 16, 64, stride=16, bias=False))
            self.encoder = nn.Sequential(nn.Conv1d(16, 16, 3, padding=1), nn.ReLU(), nn.Conv1d(16, 16, 3, padding=1))
            self.head = nn.Linear(32, 1)

        def forward(self, x, state, sr):
            feat = self.encoder(torch.relu(self.stft(x.unsqueeze(1))))
            pooled = feat.mean(dim=2) * (sr.float() / 16000.0)
            new_state = state * 0.5 + pooled.unsqueeze(0).mean(dim=-1, keepdim=True)
            return torch.sigmoid(self.head(torch.cat([pooled, new_state[0]], dim=1))), new_state

    torch.manual_seed(0)
    net = Vad().eval()
    args = (torch.randn(1, 1024), torch.zeros(2, 1, 16), torch.tensor(16000, dtype=torch.int64))
    torch.onnx.export(net, args, str(HERE / "audio_vad.onnx"), dynamo=False, input_names=["input", "state", "sr"],
                      output_names=["output", "stateN"], dynamic_axes={"input": {0: "N", 1: "samples"},
                                                                      "state": {1: "N"}}, opset_version=17)


if __name__ == "__main__":
    which = sys.argv[1:]
    actions = {"torch": torch_exports, "keras2": keras2_auto, "tflite": tflite_small,
               "paddle2": lambda: paddle_export("paddle2_small", False), "paddle1": lambda: paddle_export(
                   "paddle1_small", True), "audio": audio_vad}
    for name in which or actions:
        actions[name]()
