"""SROPs across training, on a model trained here: a small CNN on scikit-learn's digits (8x8,
upsampled to 32x32), trained with Adam at 1e-3 for 20 epochs, with a srop_onnx.Tracker in the
loop from step 0 (the initialisation). Also the paper's CASE I / CASE II experiment on the same
data, with scikit-learn's flower photo as the embedded pattern.

    pip install srop-onnx torch scikit-learn matplotlib
    python examples/training/train_digits.py track -o runs/digits           # ~1 min on 2 CPU cores
    python examples/training/train_digits.py track -o runs/digits5 --seeds 5
    python examples/training/train_digits.py cases -o runs/cases --seeds 3
    srop-onnx plot runs/digits/track --kind heatmap -o heatmap.png

``track`` writes the track folder ``OUT/track`` (one profile per epoch), ``OUT/accuracy.json`` and
the figures ``OUT/heatmap.png``, ``OUT/heatmap_change.png`` and ``OUT/thirds.png``. ``cases`` writes
``OUT/cases.json``, ``OUT/cases.png`` and, per case and ``w``, the labelled profile of the blended
test set (``OUT/profiles/``). With ``--seeds N`` each seed (another data split and initialisation)
runs into ``OUT/seed-K`` and ``OUT/seeds.md`` gives every number as the mean and a 95 % t interval
across seeds (examples/training/intervals.py). Everything is seeded: the same machine gives the
same numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

SIDE = 32
sys.path.insert(0, str(Path(__file__).resolve().parent))  # seeds.py, intervals.py beside this file


def digits(seed: int = 0):
    """``(x_train, y_train, x_test, y_test)``: scikit-learn's digits scaled to [0, 1], upsampled
    bilinearly to 32x32, one channel, split 75/25 with a seed."""
    import torch
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32)[:, None]
    x = torch.nn.functional.interpolate(x, size=(SIDE, SIDE), mode="bilinear", align_corners=False).numpy()
    y = d.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = len(y) * 3 // 4
    tr, te = order[:cut], order[cut:]
    return x[tr], y[tr], x[te], y[te]


def pattern() -> np.ndarray:
    """The embedded pattern: scikit-learn's flower photo, grey, centre-cropped and resized to 32x32,
    in [0, 1]."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    img = Image.fromarray(load_sample_image("flower.jpg")).convert("L")
    w, h = img.size
    side = min(w, h)
    img = img.crop(((w - side) // 2, (h - side) // 2, (w + side) // 2, (h + side) // 2))
    return np.asarray(img.resize((SIDE, SIDE), Image.BILINEAR), dtype=np.float32)[None] / 255.0


def make_net(seed: int = 0):
    """Five convolutions in three resolutions (32, 16, 8), then a linear classifier."""
    from collections import OrderedDict

    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 16, 3, padding=1)), ("relu1", nn.ReLU()),
        ("conv2", nn.Conv2d(16, 16, 3, padding=1)), ("relu2", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv3", nn.Conv2d(16, 32, 3, padding=1)), ("relu3", nn.ReLU()),
        ("conv4", nn.Conv2d(32, 32, 3, padding=1)), ("relu4", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("conv5", nn.Conv2d(32, 64, 3, padding=1)), ("relu5", nn.ReLU()),  # the last convolution
        ("gap", nn.AdaptiveAvgPool2d(1)), ("flat", nn.Flatten()), ("fc", nn.Linear(64, 10)),
    ]))


def accuracy(net, x, y) -> float:
    import torch

    net.eval()
    with torch.no_grad():
        pred = net(torch.from_numpy(x)).argmax(1).numpy()
    net.train()
    return float(np.mean(pred == y))


def train(net, x, y, epochs: int, *, seed: int = 0, each_epoch=None, lr: float = 1e-3, batch: int = 16) -> None:
    """Adam at ``lr``, ``epochs`` epochs of shuffled mini-batches; ``each_epoch(epoch)`` after each."""
    import torch

    opt = torch.optim.Adam(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    net.train()
    for epoch in range(1, epochs + 1):
        for idx in torch.randperm(len(yt), generator=gen).split(batch):
            loss = torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if each_epoch is not None:
            each_epoch(epoch)


def run_track(out: Path, epochs: int = 20, probe: int = 200, seed: int = 0) -> dict:
    """Train with a Tracker in the loop; returns ``{"steps", "accuracy"}`` (test accuracy per step)."""
    import torch

    import srop_onnx

    x, y, xt, yt = digits(seed)
    probe_x = xt[:probe]  # the inputs SROPs are measured on: held-out digits
    net = make_net(seed)
    example = torch.from_numpy(x[:1])
    acc = {0: accuracy(net, xt, yt)}
    with srop_onnx.Tracker(out / "track", probe_x) as tk:
        tk.add(0, net, example=example, metrics={"test_accuracy": acc[0]})

        def each_epoch(epoch: int) -> None:
            acc[epoch] = accuracy(net, xt, yt)
            tk.add(epoch, net, example=example, metrics={"test_accuracy": acc[epoch]})
            print(f"epoch {epoch}: test accuracy {acc[epoch]:.3f}", flush=True)

        train(net, x, y, epochs, seed=seed, each_epoch=each_epoch)
        track = tk.track()
    result = {"steps": track.steps, "accuracy": [acc[s] for s in track.steps]}
    (out / "accuracy.json").write_text(json.dumps(result, indent=1) + "\n")
    for kind, name, change in (("heatmap", "heatmap.png", False), ("heatmap", "heatmap_change.png", True),
                               ("thirds", "thirds.png", False)):
        srop_onnx.plot.save_figure(srop_onnx.plot.track(track, kind=kind, change=change), out / name)
    return result


def embedded(x, y, w: float, case: str, pat: np.ndarray) -> np.ndarray:
    """The paper's synthesized inputs: ``(1 - w) * digit + w * pattern``, for the samples of class 1
    only (CASE I) or for every sample (CASE II)."""
    out = x.copy()
    rows = (y == 1) if case == "I" else np.ones(len(y), bool)
    out[rows] = (1 - w) * x[rows] + w * pat
    return out


def run_cases(out: Path, epochs: int = 20, levels=(0.0, 0.25, 0.5, 0.75, 0.9, 1.0), seed: int = 0) -> dict:
    """CASE I / CASE II: per case and w, a model trained on the synthesized data; the mean SROP of
    the pattern alone at the last convolution, and the test accuracy on synthesized test data."""
    import io

    import torch

    import srop_onnx

    x, y, xt, yt = digits(seed)
    pat = pattern()
    rows = []
    for case in ("I", "II"):
        for w in levels:
            net = make_net(seed)
            train(net, embedded(x, y, w, case, pat), y, epochs, seed=seed)
            acc = accuracy(net, embedded(xt, yt, w, case, pat), yt)
            buf = io.BytesIO()
            net.eval()
            with torch.no_grad():
                torch.onnx.export(net, (torch.from_numpy(x[:1]),), buf, dynamo=False, input_names=["input"],
                                  dynamic_axes={"input": {0: "batch"}})
            prof = srop_onnx.analyze(buf.getvalue(), pat[None], layers="^conv5$", baseline=False)
            srop = prof.layers[0].summary("band").mean
            blended = srop_onnx.analyze(buf.getvalue(), embedded(xt, yt, w, case, pat), labels=yt, baseline=False)
            (out / "profiles").mkdir(exist_ok=True)
            blended.to_json(out / "profiles" / f"case{case}_w{w:g}.json")
            test_srop = blended.layer("conv5").summary("band").mean
            rows.append({"case": case, "w": w, "accuracy": acc, "pattern_srop": srop, "test_srop": test_srop})
            print(f"CASE {case} w={w:g}: accuracy {acc:.3f}, mean SROP of the pattern at the last conv {srop:.3f}",
                  flush=True)
    result = {"epochs": epochs, "rows": rows}
    (out / "cases.json").write_text(json.dumps(result, indent=1) + "\n")
    _cases_figure(rows, out / "cases.png")
    return result


def _cases_figure(rows: list[dict], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, 3.6), dpi=110, layout="constrained")
    left, right = fig.subplots(1, 2)
    for case, style in (("I", "-o"), ("II", "--s")):
        part = [r for r in rows if r["case"] == case]
        ws = [r["w"] for r in part]
        left.plot(ws, [r["pattern_srop"] for r in part], style, label=f"CASE {case}")
        right.plot(ws, [r["accuracy"] for r in part], style, label=f"CASE {case}")
    left.set(xlabel="w (proportion of the pattern)", ylabel="mean SROP of the pattern (band units)",
             title="Pattern at the last convolution")
    right.set(xlabel="w (proportion of the pattern)", ylabel="test accuracy", title="Accuracy")
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.savefig(path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["track", "cases"])
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=1, help="independent runs (seeds 0..N-1), summarised with "
                                                             "95 %% intervals in OUT/seeds.md")
    parser.add_argument("--levels", default="0,0.25,0.5,0.75,0.9,1", help="cases: the values of w")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    levels = tuple(float(v) for v in args.levels.split(","))
    if args.seeds <= 1:
        run_track(args.out, args.epochs) if args.what == "track" else run_cases(args.out, args.epochs, levels)
        return
    from seeds import summarise_cases, summarise_tracks

    for seed in range(args.seeds):
        folder = args.out / f"seed-{seed}"
        folder.mkdir(parents=True, exist_ok=True)
        print(f"-- seed {seed}", flush=True)
        if args.what == "track":
            run_track(folder, args.epochs, seed=seed)
        else:
            run_cases(folder, args.epochs, levels, seed=seed)
    (summarise_tracks if args.what == "track" else summarise_cases)(args.out, args.seeds)


if __name__ == "__main__":
    main()
