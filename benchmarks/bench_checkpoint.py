"""What checkpoint integrity costs (issues 14 and 23): the input digest while running and on resume.

On N small inputs of the shipped example model (.npy arrays of one 3x64x64 sample, or PNG images),
in one process:
  (1) ``analyze`` without a checkpoint;
  (2) ``analyze --checkpoint`` (a SHA-256 of every byte of every input, computed as it is read -
      images are read once, hashed and decoded from memory - and a checkpoint every 10 batches);
  (3) the resume check alone: reading and hashing all N inputs again.
Prints seconds (medians), (2)/(1), and the per-file cost of (3).

Usage:  python benchmarks/bench_checkpoint.py [--inputs 2000] [--repeat 3] [--kind npy|png]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time  # noqa: E402

import srop_onnx  # noqa: E402
from srop_onnx.run.checkpoint import InputDigest  # noqa: E402
from srop_onnx.model.modelio import discover_inputs  # noqa: E402

MODEL = Path(__file__).resolve().parent.parent / "models" / "example.onnx"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kind", choices=["npy", "png"], default="npy")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for i in range(args.inputs):
            if args.kind == "npy":
                np.save(folder / f"{i:06d}.npy", rng.standard_normal((3, 64, 64)).astype(np.float32))
            else:
                from PIL import Image

                Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")
        ckpt = Path(tmp) / "run.ckpt"

        def with_ckpt():
            ckpt.unlink(missing_ok=True)
            srop_onnx.analyze(MODEL, folder, provider="cpu", batch_size=32, checkpoint=ckpt)

        t1 = median_time(lambda: srop_onnx.analyze(MODEL, folder, provider="cpu", batch_size=32), args.repeat)
        t2 = median_time(with_ckpt, args.repeat)
        files = discover_inputs([folder])
        saved = {"files": len(files), "digest": ""}
        t3 = median_time(lambda: InputDigest(files).verify(saved), args.repeat)
    n = args.inputs
    print(f"{n} .{args.kind} inputs, example model, batch 32; srop-onnx {srop_onnx.__version__}")
    print(f"  (1) analyze                      {t1:7.2f} s")
    print(f"  (2) analyze --checkpoint         {t2:7.2f} s   (2)/(1) = {t2 / t1:.3f}")
    print(f"  (3) resume check of all inputs   {t3:7.3f} s   {1e6 * t3 / n:.1f} us per file")


if __name__ == "__main__":
    main()
