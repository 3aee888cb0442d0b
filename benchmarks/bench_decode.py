"""Input decoding benchmark (issue 6, overlap): decode + preprocess throughput by decode threads.

Writes N ImageNet-sized JPEGs (500x375, smooth random content) to a temporary folder and times
`srop_onnx.inputs.inputset.iter_samples` (read, EXIF, resize shorter side to 256, centre crop 224, normalise)
with 1 thread and with `decode_workers()` threads (and any --workers given), side by side in one
process. Prints images/s and the ratio to one thread.

Usage:  python benchmarks/bench_decode.py [--images 64] [--repeat 3] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time  # noqa: E402

from srop_onnx.inputs.inputspec import input_spec  # noqa: E402
from srop_onnx.inputs.preprocess import make_preprocess  # noqa: E402
from srop_onnx.inputs.samples import InputLog, decode_workers, iter_samples  # noqa: E402
from srop_onnx.model.modelio import discover_inputs  # noqa: E402


def write_images(folder: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize((500, 375), Image.BICUBIC)
        img.save(folder / f"img_{i:04d}.jpg", quality=90)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", default="")
    args = ap.parse_args()
    model = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 3, 224, 224])]), ir_version=10)
    spec = input_spec(model)
    pre = make_preprocess(spec, "imagenet", None, None, None)
    counts = sorted({1, decode_workers(), *(int(w) for w in args.workers.split(",") if w)})
    with tempfile.TemporaryDirectory() as tmp:
        write_images(Path(tmp), args.images)
        files = discover_inputs([tmp])
        times = {w: median_time(lambda w=w: list(iter_samples(files, spec, pre, InputLog(), workers=w)), args.repeat)
                 for w in counts}
    print(f"{args.images} JPEGs 500x375 -> 3x224x224 (imagenet preprocessing); decode_workers() = {decode_workers()}")
    for w, t in times.items():
        print(f"  {w} thread(s): {args.images / t:8.1f} images/s   {times[1] / t:5.2f}x of one thread")


if __name__ == "__main__":
    main()
