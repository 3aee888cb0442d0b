"""What an input sweep costs (issue 17): L levels in one run against L analyses and L processes.

On the shipped example model and a folder of copies of its images, side by side:
  (a) one ``srop_onnx.analyze`` (the unit of work);
  (b) one ``srop_onnx.sweep`` with L levels (level 0 included): decoded once, one session;
  (c) L separate ``analyze`` calls in this process (what a loop in a script costs);
  (d) L ``srop-onnx analyze`` processes and one ``srop-onnx sweep`` process (what shell loops cost).
Prints seconds (medians) and (b)/(a), which should be about L, and (c)/(b), (d) ratios.

Usage:  python benchmarks/bench_sweep.py [--levels 5] [--copies 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time  # noqa: E402

import srop_onnx  # noqa: E402
from srop_onnx.run.sweeps import sweep  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "example.onnx"


def wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", type=int, default=5)
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    levels = [i / (args.levels - 1) for i in range(args.levels)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        for k in range(args.copies):
            for f in sorted((ROOT / "models" / "images").glob("*.png")):
                shutil.copy(f, folder / f"{k:03d}_{f.name}")
        n = len(list(folder.iterdir()))
        blend = ROOT / "models" / "images" / "disk_0.png"
        t_a = median_time(lambda: srop_onnx.analyze(MODEL, folder, provider="cpu"), args.repeat)
        t_b = median_time(lambda: sweep(MODEL, folder, levels=levels, blend=blend, provider="cpu"), args.repeat)
        t_c = median_time(lambda: [srop_onnx.analyze(MODEL, folder, provider="cpu") for _ in levels], args.repeat)
        cli = [sys.executable, "-m", "srop_onnx.cli"]
        t_dl = sum(wall([*cli, "analyze", str(MODEL), str(folder), "-q", "--provider", "cpu"]) for _ in levels)
        t_ds = wall([*cli, "sweep", str(MODEL), str(folder), "--blend", str(blend), "--levels",
                     ",".join(f"{v:g}" for v in levels), "-q", "--provider", "cpu"])
    L = len(levels)
    print(f"example model, {n} images, {L} levels; srop-onnx {srop_onnx.__version__}")
    print(f"  (a) one analyze()                 {t_a:7.2f} s")
    print(f"  (b) sweep(), {L} levels             {t_b:7.2f} s   (b)/(a) = {t_b / t_a:.2f} (L = {L})")
    print(f"  (c) {L} x analyze() in-process     {t_c:7.2f} s   (c)/(b) = {t_c / t_b:.2f}")
    print(f"  (d) {L} analyze processes          {t_dl:7.2f} s   one sweep process {t_ds:.2f} s: {t_dl / t_ds:.2f}x")


if __name__ == "__main__":
    main()
