"""Time per image against batch size (issue 12: the rule behind the default batch).

For a ResNet-shaped model, each batch size in --batches, side by side in one process: plain
inference (1) and the full analysis loop (3) of benchmarks/bench_pipeline.py, as ms per image,
and each batch's (3) relative to the best batch. The default batch should sit within a few per
cent of the best time per image without needing a flag.

Usage:  python benchmarks/bench_batch.py [--model resnet18] [--batches 1,2,4,8,16,32] [--repeat 3] [--provider cpu]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_pipeline import bench  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batches", default="1,2,4,8,16,32")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--provider", default="cpu")
    args = ap.parse_args()
    rows = [bench(args.model, int(b), args.repeat, args.provider) for b in args.batches.split(",")]
    best = min(r["t3"] / r["batch"] for r in rows)
    print(f"{args.model}, {rows[0]['provider']}: ms per image by batch (medians of {args.repeat})")
    for r in rows:
        b = r["batch"]
        print(f"  batch {b:4d}: plain {1e3 * r['t1'] / b:8.2f}   full analysis {1e3 * r['t3'] / b:8.2f}   "
              f"{(r['t3'] / b) / best:5.2f}x the best")


if __name__ == "__main__":
    main()
