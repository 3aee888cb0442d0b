"""Whole-run cost of ``analyze`` against plain inference, start-up included (issue 12).

In one process, alternating, on a ResNet-shaped model file (benchmarks/resnet_onnx.py) and N
inputs in one .npy file:
  (1) plain ONNX Runtime: open the .onnx file, create a session, load the .npy, run it in
      batches of B (what a user's own inference script costs);
  (2) ``srop_onnx.analyze(model, inputs.npy)`` at its defaults (provider, batch), every tap,
      the baseline, the profile built.
Prints seconds and images/s of each (medians), the ratio (2)/(1), and where (2) spends the time
before its first batch (load, taps, session: from the progress callback's first call).

Usage:  python benchmarks/bench_startup.py [--model resnet50] [--inputs 64] [--batch 8] [--repeat 3] [--provider cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).parent))
from resnet_onnx import build  # noqa: E402

import srop_onnx  # noqa: E402
from srop_onnx.run.runtime import choose_provider  # noqa: E402


def plain(model: Path, data: Path, batch: int, provider: str) -> float:
    t0 = time.perf_counter()
    providers = [(provider, {"use_tf32": "0"})] if provider == "CUDAExecutionProvider" else [provider]
    sess = ort.InferenceSession(str(model), providers=providers)
    x = np.load(data)
    name = sess.get_inputs()[0].name
    for i in range(0, len(x), batch):
        sess.run(None, {name: x[i : i + batch]})
    return time.perf_counter() - t0


def analyze(model: Path, data: Path, batch: int | None, provider: str) -> tuple[float, float]:
    """(total seconds, seconds before the first batch started)."""
    first: list[float] = []
    t0 = time.perf_counter()

    def progress(done, _total):
        if not first:
            first.append(time.perf_counter() - t0)

    srop_onnx.analyze(model, data, provider=provider, batch_size=batch, progress=progress)
    return time.perf_counter() - t0, first[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--inputs", type=int, default=64)
    ap.add_argument("--batch", type=int, default=None, help="analyze's batch [default: its own default]; plain uses "
                    "the same number (8 when analyze decides)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--provider", default="cpu")
    args = ap.parse_args()
    choice = choose_provider(args.provider)
    with tempfile.TemporaryDirectory() as tmp:
        model, data = Path(tmp) / f"{args.model}.onnx", Path(tmp) / "inputs.npy"
        proto = build(args.model)
        proto.ir_version = min(proto.ir_version, 10)
        model.write_bytes(proto.SerializeToString())
        np.save(data, np.random.default_rng(0).standard_normal((args.inputs, 3, 224, 224)).astype(np.float32))
        plain_batch = args.batch or (8 if choice.name == "CPUExecutionProvider" else 64)
        t_plain, t_an, t_first = [], [], []
        plain(model, data, plain_batch, choice.name)  # warm-up: page cache, libraries
        for _ in range(args.repeat):
            t_plain.append(plain(model, data, plain_batch, choice.name))
            total, before = analyze(model, data, args.batch, args.provider)
            t_an.append(total)
            t_first.append(before)
    p, a, f = statistics.median(t_plain), statistics.median(t_an), statistics.median(t_first)
    n = args.inputs
    print(f"{args.model}, {n} inputs, {choice.name}, plain batch {plain_batch}, analyze batch "
          f"{args.batch or 'default'}; srop-onnx {srop_onnx.__version__}, onnxruntime {ort.__version__}")
    print(f"  (1) plain inference, whole run   {p:7.2f} s   {n / p:7.1f} images/s")
    print(f"  (2) analyze(), whole run         {a:7.2f} s   {n / a:7.1f} images/s   (2)/(1) = {p / a:.2f}")
    print(f"      of which before the first batch: {f:.2f} s (load, taps, session)")


if __name__ == "__main__":
    main()
