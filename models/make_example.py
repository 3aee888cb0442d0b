"""Build the shipped example: a small CNN genuinely trained on synthetic shapes.

    pip install torch==2.13.0 onnxscript -e .   # torch is a build tool here, never a runtime dependency
    python models/make_example.py

Writes (all committed):
  models/example.onnx          the trained model (PyTorch's default exporter, dynamic batch)
  models/example-random.onnx   its randomized twin (SPEC 7, seed 0)
  models/images/*.png          sample inputs (two per class, unseen in training)
  models/example.json          classes, accuracy, training settings

The data are made here, seeded: 64x64 RGB images of one shape (disk, square,
triangle, cross) of random size, position, rotation and colour on a smooth
random background, with pixel noise. Normalisation is ImageNet's mean/std,
the default preprocessing of `srop-onnx analyze` for 3-channel models.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
CLASSES = ("disk", "square", "triangle", "cross")
SIZE = 64
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def render(rng: np.random.Generator, label: int, size: int = SIZE) -> np.ndarray:
    """One uint8 HxWx3 image of class ``label``."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    # smooth background: a random linear gradient between two colours
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ang = rng.uniform(0, 2 * np.pi)
    t = ((xx - size / 2) * np.cos(ang) + (yy - size / 2) * np.sin(ang)) / size + 0.5
    img = c0 + (c1 - c0) * np.clip(t, 0, 1)[..., None]
    # shape colour far enough from the background mean
    while True:
        fg = rng.uniform(0, 255, 3)
        if np.abs(fg - (c0 + c1) / 2).sum() > 150:
            break
    r = rng.uniform(9, 20)
    cx, cy = rng.uniform(r + 2, size - r - 2, 2)
    th = rng.uniform(0, np.pi)
    u = (xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)
    v = -(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)
    if label == 0:
        mask = u**2 + v**2 < r**2
    elif label == 1:
        mask = (np.abs(u) < r * 0.8) & (np.abs(v) < r * 0.8)
    elif label == 2:
        mask = np.ones_like(u, bool)
        for k in range(3):
            a = th + k * 2 * np.pi / 3
            mask &= (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a) < r * 0.5
    else:
        w = r * 0.3
        mask = ((np.abs(u) < r) & (np.abs(v) < w)) | ((np.abs(v) < r) & (np.abs(u) < w))
    img[mask] = fg
    img += rng.normal(0, 8, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def dataset(rng, n):
    labels = rng.integers(0, len(CLASSES), n)
    imgs = np.stack([render(rng, int(lab)) for lab in labels])
    x = ((imgs.astype(np.float32) / 255 - MEAN) / STD).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x), labels


def build_model():
    import torch
    from torch import nn

    def cbr(cin, cout, stride=1):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())

    class Residual(nn.Module):
        def __init__(self, ch):
            super().__init__()
            self.conv1 = nn.Conv2d(ch, ch, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(ch)
            self.conv2 = nn.Conv2d(ch, ch, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(ch)

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(x + self.bn2(self.conv2(y)))

    class SmallNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = cbr(3, 16)  # 64x64
            self.pool1 = nn.MaxPool2d(2)  # 32x32
            self.block1 = cbr(16, 32)
            self.pool2 = nn.MaxPool2d(2)  # 16x16
            self.block2 = Residual(32)
            self.down = cbr(32, 64, stride=2)  # 8x8
            self.block3 = cbr(64, 64)
            self.head = nn.Linear(64, len(CLASSES))

        def forward(self, x):
            x = self.pool1(self.stem(x))
            x = self.pool2(self.block1(x))
            x = self.block3(self.down(self.block2(x)))
            return self.head(x.mean(dim=(2, 3)))

    return SmallNet()


def main() -> None:
    import onnx
    import torch

    from srop_onnx.model.twin import randomize

    torch.manual_seed(0)
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x_train, y_train = dataset(rng, 6000)
    x_test, y_test = dataset(np.random.default_rng(1), 1000)
    model = build_model()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    epochs, bs = 8, 64
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), bs):
            idx = perm[i : i + bs]
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = float((model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean())
        print(f"epoch {epoch + 1}: loss {loss.item():.3f}  test accuracy {acc:.3f}")
    model.eval()
    with torch.no_grad():
        train_acc = float((model(xt[:1000]).argmax(1).numpy() == y_train[:1000]).mean())

    out = HERE / "example.onnx"
    dummy = torch.from_numpy(x_test[:2])
    batch = torch.export.Dim("batch", min=1, max=4096)
    torch.onnx.export(model, (dummy,), str(out), input_names=["image"], output_names=["logits"],
                      dynamic_shapes=({0: batch},), external_data=False)
    proto = onnx.load(str(out))
    twin, report = randomize(proto, seed=0)
    onnx.save(twin, str(HERE / "example-random.onnx"))

    img_dir = HERE / "images"
    img_dir.mkdir(exist_ok=True)
    from PIL import Image

    srng = np.random.default_rng(2)
    for c, name in enumerate(CLASSES):
        for k in range(2):
            Image.fromarray(render(srng, c)).save(img_dir / f"{name}_{k}.png")
    meta = {
        "classes": list(CLASSES), "input": [1, 3, SIZE, SIZE], "layout": "NCHW",
        "preprocess": "imagenet mean/std on [0,1] pixels (srop-onnx --preprocess imagenet)",
        "train_images": len(x_train), "test_images": len(x_test), "epochs": epochs, "seed": 0,
        "test_accuracy": round(acc, 4), "train_accuracy_first_1000": round(train_acc, 4),
        "training_seconds": round(time.time() - t0, 1), "torch": torch.__version__, "onnx_opset": proto.opset_import[0].version,
        "twin": {"seed": 0, "weights": len(report.weights), "biases": len(report.biases), "batchnorm": len(report.batchnorm)},
    }
    (HERE / "example.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
