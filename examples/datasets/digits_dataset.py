"""A dataset through the model's eyes, on a model trained here (docs/datasets.md).

A small CNN (examples/training/train_digits.py's) is trained on half of scikit-learn's digits; the
other half is cut in two: ``benchmark/`` and ``same/`` (one distribution), written as 32x32 PNGs in
class folders. From ``same/`` two more sets are made: ``custom/`` lacks class '1' and has its '3's
blurred and its '8's noised; ``planted/`` is ``benchmark/`` with corrupted images among the clean
ones (listed in ``planted.json``).

    pip install srop-onnx torch scikit-learn
    python examples/datasets/digits_dataset.py build -o runs/data        # ~1 min on 2 CPU cores
    python examples/datasets/digits_dataset.py false-alarms -o runs/data # repeated same-distribution splits
    bash examples/datasets/commands.sh runs/data                         # the srop-onnx commands of the docs

Everything is seeded: the same machine gives the same numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from train_digits import SIDE, accuracy, make_net, train  # noqa: E402

#: which classes the custom set changes, and how
DROPPED, BLURRED, NOISED = "1", "3", "8"


def split(seed: int = 0):
    """``(x_train, y_train, x_held, y_held)``: the digits upsampled to 32x32 and quantised to 8-bit
    pixels (what a PNG holds), half to train on, half held out, stratified by a seeded shuffle."""
    import torch
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32)[:, None]
    x = torch.nn.functional.interpolate(x, size=(SIDE, SIDE), mode="bilinear", align_corners=False).numpy()
    x = np.round(np.clip(x, 0, 1) * 255) / 255
    x = x.astype(np.float32)
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    half = len(y) // 2
    return x[order[:half]], y[order[:half]], x[order[half:]], y[order[half:]]


def write_pngs(folder: Path, x: np.ndarray, y: np.ndarray, names: list[str] | None = None) -> None:
    """``folder/<class>/<name>.png``: one 8-bit grey PNG per sample."""
    from PIL import Image

    for i, (img, label) in enumerate(zip(x, y)):
        sub = folder / str(label)
        sub.mkdir(parents=True, exist_ok=True)
        name = names[i] if names else f"{i:04d}"
        Image.fromarray(np.round(img[0] * 255).astype(np.uint8)).save(sub / f"{name}.png")


def blur(img: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(img, sigma=(0, sigma, sigma)).astype(np.float32)


def custom_set(x, y, seed: int = 1):
    """``same`` without class DROPPED, class BLURRED blurred, class NOISED with Gaussian noise (sd 0.25)."""
    rng = np.random.default_rng(seed)
    keep = y != int(DROPPED)
    x, y = x[keep].copy(), y[keep]
    for i in np.flatnonzero(y == int(BLURRED)):
        x[i] = blur(x[i])
    for i in np.flatnonzero(y == int(NOISED)):
        x[i] = np.clip(x[i] + rng.normal(0, 0.25, x[i].shape), 0, 1).astype(np.float32)
    return np.round(x * 255) / 255, y


def planted_set(x, y, seed: int = 2):
    """``benchmark`` with 8 of its images corrupted in place (2 each: inverted, pure noise, blank,
    blurred hard); returns the set and the corrupted files' sources."""
    rng = np.random.default_rng(seed)
    x = x.copy()
    picks = rng.choice(len(y), 8, replace=False)
    kinds = ["inverted", "inverted", "noise", "noise", "blank", "blank", "blurred", "blurred"]
    names = [f"{i:04d}" for i in range(len(y))]
    planted = []
    for i, kind in zip(picks, kinds):
        if kind == "inverted":
            x[i] = 1 - x[i]
        elif kind == "noise":
            x[i] = rng.uniform(0, 1, x[i].shape).astype(np.float32)
        elif kind == "blank":
            x[i] = np.full_like(x[i], 0.5)
        else:
            x[i] = blur(x[i], 3.0)
        names[i] = f"{i:04d}-{kind}"
        planted.append({"source": f"{y[i]}/{names[i]}.png", "kind": kind})
    return np.round(x * 255) / 255, y, names, planted


def build(out: Path, epochs: int = 20, seed: int = 0) -> dict:
    """Train, export and write the image sets; returns the facts (accuracy, set sizes)."""
    import torch

    x, y, xh, yh = split(seed)
    net = make_net(seed)
    train(net, x, y, epochs, seed=seed)
    net.eval()
    out.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(net, (torch.from_numpy(x[:1]),), str(out / "digits.onnx"), dynamo=False, input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "N"}}, opset_version=17)
    half = len(yh) // 2
    bx, by, sx, sy = xh[:half], yh[:half], xh[half:], yh[half:]
    write_pngs(out / "benchmark", bx, by)
    write_pngs(out / "same", sx, sy)
    cx, cy = custom_set(sx, sy)
    write_pngs(out / "custom", cx, cy)
    px, py, names, planted = planted_set(bx, by)
    write_pngs(out / "planted", px, py, names)
    facts = {"train": int(len(y)), "held_out_accuracy": accuracy(net, xh, yh), "benchmark": int(len(by)),
             "same": int(len(sy)), "custom": int(len(cy)), "planted": planted}
    (out / "facts.json").write_text(json.dumps(facts, indent=1) + "\n")
    return facts


def false_alarms(out: Path, repeats: int = 20, seed: int = 0, permutations: int = 9999) -> dict:
    """Split the held-out digits in two at random ``repeats`` times and compare the halves class by
    class: one distribution, so every flag is a false alarm. Returns the rate and the timings."""
    import srop_onnx

    _, _, xh, yh = split(seed)
    model = str(out / "digits.onnx")
    rng = np.random.default_rng(1000 + seed)
    flagged, cells, tests, seconds = 0, 0, 0, []
    for r in range(repeats):
        order = rng.permutation(len(yh))
        a, b = order[: len(yh) // 2], order[len(yh) // 2:]
        pa = srop_onnx.analyze(model, xh[a], labels=yh[a])
        pb = srop_onnx.analyze(model, xh[b], labels=yh[b])
        t = time.perf_counter()
        result = srop_onnx.compare(pa, pb, by="class", permutations=permutations, seed=r)
        seconds.append(time.perf_counter() - t)
        flagged += result.differ  # DIFFERENT; a CANNOT TELL (none here: 45 a class) is no alarm
        cells += len(result.differences)
        tests += len(result.cells)
        print(f"split {r + 1}/{repeats}: {result.verdict()[:100]}", flush=True)
    facts = {"repeats": repeats, "flagged": flagged, "rate": flagged / repeats, "cells_flagged": cells,
             "cells_tested": tests, "compare_seconds_median": float(np.median(seconds)), "permutations": permutations}
    (out / "false_alarms.json").write_text(json.dumps(facts, indent=1) + "\n")
    return facts


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["build", "false-alarms"])
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=20)
    args = ap.parse_args(argv)
    if args.what == "build":
        print(json.dumps(build(args.out, args.epochs), indent=1))
    else:
        print(json.dumps(false_alarms(args.out, args.repeats), indent=1))


if __name__ == "__main__":
    main()
