"""What labels cost (issue 38): ``analyze`` over images in class folders with ``--labels folders``
and with a CSV table, against the same run without labels, interleaved in one process (medians of
``--repeat`` rounds, ratios printed). Also the per-class views' own time (by_class, outliers and
compare --by class with the default 9,999 permutations) on the profile that run made.

    python benchmarks/bench_labels.py [--images 400] [--classes 10] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _images(root: Path, n: int, classes: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        label = f"class{i % classes}"
        (root / label).mkdir(parents=True, exist_ok=True)
        smooth = (i % classes) / max(1, classes - 1)
        base = rng.uniform(0, 1, (8, 8, 3))
        img = Image.fromarray((base * 255).astype(np.uint8)).resize((64, 64), Image.BILINEAR if smooth > 0.5 else
                                                                    Image.NEAREST)
        img.save(root / label / f"{i:05d}.png")
    return root


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    import srop_onnx

    model = REPO / "models" / "example.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        data = _images(Path(tmp) / "data", args.images, args.classes)
        table = Path(tmp) / "labels.csv"
        table.write_text("path,label\n" + "".join(f"{p.parent.name}/{p.name},{p.parent.name}\n"
                                                  for p in sorted(data.rglob("*.png"))))
        runs = {"none": lambda: srop_onnx.analyze(model, data),
                "folders": lambda: srop_onnx.analyze(model, data, labels="folders"),
                "csv": lambda: srop_onnx.analyze(model, data, labels=str(table))}
        for fn in runs.values():  # warm-up: sessions, decoders, thread pools
            fn()
        times: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.repeat):  # interleaved: drift of a noisy machine hits all three alike
            for k, fn in runs.items():
                times[k].append(_timed(fn))
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"analyze, {args.images} PNGs in {args.classes} class folders, example model, median of {args.repeat}:")
        for k in runs:
            print(f"  labels {k:8s} {med[k]:.3f} s   ratio to none {med[k] / med['none']:.3f}")
        profile = srop_onnx.analyze(model, data, labels="folders")
        views = {"by_class (stats and peaks)": lambda: profile.by_class(),
                 "outliers": lambda: profile.outliers(),
                 "compare --by class, 9999 permutations": lambda: srop_onnx.compare(profile, profile, by="class")}
        for name, fn in views.items():
            print(f"  {name}: {statistics.median(_timed(fn) for _ in range(3)):.3f} s "
                  f"({len(profile.layers)} layers x {args.classes} classes)")
        _early_stop(profile, args.repeat)


def _early_stop(profile, repeat: int) -> None:
    """compare --by class as it runs (a test stops once its p cannot fall below alpha) against every
    test drawing all 9,999 splits (as before), interleaved; both must decide alike."""
    import srop_onnx.results.classcompare as cc

    real = cc.permutation_w1

    def every_split(*a, stop_at=None, **k):
        return real(*a, **k)

    def full():
        cc.permutation_w1 = every_split
        try:
            return cc.compare_classes(profile, profile)
        finally:
            cc.permutation_w1 = real

    times = {"stops early": [], "every split": []}
    for _ in range(repeat):
        for name, fn in (("stops early", lambda: cc.compare_classes(profile, profile)), ("every split", full)):
            times[name].append(_timed(fn))
    fast, slow = cc.compare_classes(profile, profile), full()
    assert [c.differs for c in fast.cells] == [c.differs for c in slow.cells]
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"  compare --by class of {len(fast.cells)} tests: stops early {med['stops early']:.3f} s, every split "
          f"{med['every split']:.3f} s, {med['every split'] / med['stops early']:.1f}x (same decisions)")


if __name__ == "__main__":
    main()
