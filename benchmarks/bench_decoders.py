"""What loading a decoder a run does not need costs a short command (2026-12-07).

A run over images used to import SciPy's WAV reader (``scipy.io``, which pulls in
``scipy.sparse``) before its decoding threads started; now only runs with WAV files do. This
script times, in fresh interpreters and interleaved round by round, ``srop-onnx analyze`` of the
shipped example model over one image as it runs now, against the same command with the WAV reader
imported first (what every image run paid before), and prints the medians and their ratio.

Usage:  python benchmarks/bench_decoders.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGE = ROOT / "models" / "images" / "cross_0.png"
MODEL = ROOT / "models" / "example.onnx"

RUN = """\
import sys
{before}
from srop_onnx.cli import main
sys.argv = ["srop-onnx", "analyze", sys.argv[1], sys.argv[2], "-q"]
try:
    main()
except SystemExit as exc:
    if exc.code:
        raise
"""


def _once(before: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", RUN.format(before=before), str(MODEL), str(IMAGE)], check=True,
                   capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    now, then = [], []
    _once("")  # warm the file cache
    for _ in range(args.repeat):
        now.append(_once(""))
        then.append(_once("from scipy.io import wavfile"))
    a, b = statistics.median(now), statistics.median(then)
    print(f"analyze of one image, medians of {args.repeat}: now {a:.3f} s, with the WAV reader loaded {b:.3f} s, "
          f"ratio {a / b:.3f} (saves {1000 * (b - a):.0f} ms)")


if __name__ == "__main__":
    main()
