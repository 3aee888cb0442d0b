"""``srop-onnx track`` over 8 checkpoints against 8 separate ``srop-onnx analyze`` processes on the
same folder of JPEGs, side by side in one script (issue 28).

    python benchmarks/bench_track.py [--images 200] [--repeat 3]

Prints medians and two ratios:
- track of 8 / 8 analyze processes (goal: at most 0.5: the inputs are decoded once, Python and the
  libraries start once);
- one checkpoint inside a track (a Tracker.add after the first, decoding done) / one analyze of
  already-decoded inputs in a warm process (goal: at most 1.2: a step costs what an analysis costs,
  without start-up and decoding).

The checkpoints are the shipped example model with its conv weights scaled per step (same
architecture, other numbers); the JPEGs are 256 x 256 noise images (decoded, resized and cropped to
the model's 64 x 64, as real photos are).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))


def make_checkpoints(folder: Path, n: int = 8) -> list[Path]:
    import onnx
    from onnx import numpy_helper

    base = onnx.load(str(REPO / "models" / "example.onnx"))
    out = []
    for e in range(n):
        m = onnx.ModelProto()
        m.CopyFrom(base)
        for t in m.graph.initializer:
            a = numpy_helper.to_array(t)
            if a.ndim == 4:
                t.CopyFrom(numpy_helper.from_array((a * (1 + 0.05 * e)).astype(a.dtype), t.name))
        path = folder / f"epoch_{e}.onnx"
        onnx.save(m, str(path))
        out.append(path)
    return out


def make_jpegs(folder: Path, n: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir()
    for i in range(n):
        arr = (rng.random((256, 256, 3)) * 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"{i:04d}.jpg", quality=90)


def cli(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "srop_onnx", *args, "-q"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def in_process(ckpts: list[Path], jpegs: Path, repeat: int) -> tuple[float, float, float]:
    """Medians: a Tracker.add after the first; an analyze of decoded inputs in a warm process; the
    same analyze and writing its profile (as a track writes every step's)."""
    import srop_onnx
    from srop_onnx.run.tracking import Tracker

    adds = []
    with tempfile.TemporaryDirectory() as tmp:
        tk = Tracker(Path(tmp) / "t", jpegs)
        for i, path in enumerate(ckpts):
            t0 = time.perf_counter()
            tk.add(i, path)
            if i:  # the first add decodes the inputs
                adds.append(time.perf_counter() - t0)
        decoded = np.stack([s.array for s in tk._decoded.samples])
    srop_onnx.analyze(ckpts[0], decoded)  # warm
    steady, written = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            for path in ckpts[1:]:
                t0 = time.perf_counter()
                prof = srop_onnx.analyze(path, decoded)
                steady.append(time.perf_counter() - t0)
                prof.to_json(Path(tmp) / "p.json")  # what analyze --json adds: a track writes each step's profile
                written.append(time.perf_counter() - t0)
    return statistics.median(adds), statistics.median(steady), statistics.median(written)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "ck").mkdir()
        ckpts = make_checkpoints(root / "ck")
        make_jpegs(root / "jpegs", args.images)
        tracks, separate = [], []
        for r in range(args.repeat):
            tracks.append(cli("track", str(root / "ck"), "--inputs", str(root / "jpegs"), "-o", str(root / f"t{r}")))
            separate.append(sum(cli("analyze", str(p), str(root / "jpegs")) for p in ckpts))
        t, s = statistics.median(tracks), statistics.median(separate)
        add, steady, written = in_process(ckpts, root / "jpegs", args.repeat)
    print(f"{len(ckpts)} checkpoints x {args.images} JPEGs (256x256 -> 64x64), medians of {args.repeat}:")
    print(f"  srop-onnx track, one process      {t:7.2f} s")
    print(f"  srop-onnx analyze, {len(ckpts)} processes   {s:7.2f} s")
    print(f"  ratio track / separate            {t / s:7.2f}   (goal <= 0.5)")
    print(f"  one step inside a track           {add * 1000:7.0f} ms")
    print(f"  analyze of decoded inputs, warm   {steady * 1000:7.0f} ms")
    print(f"  ... and writing its profile       {written * 1000:7.0f} ms")
    print(f"  ratio step / steady analyze       {add / steady:7.2f}   (goal <= 1.2)")
    print(f"  ratio step / analyze + its file   {add / written:7.2f}")


if __name__ == "__main__":
    main()
