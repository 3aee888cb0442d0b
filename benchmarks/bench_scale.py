"""Dataset-scale benchmark (issue 7): 1 vs 2 processes, and peak RSS against the number of inputs.

  python benchmarks/bench_scale.py [--inputs 64] [--model models/example.onnx]

(a) Throughput: the same inputs analysed by one process, and by two processes each running
    `--shard I/2` at the same time (then `srop-onnx merge`); wall-clock images/s and the ratio.
    The merged profile is checked equal to the single run.
(b) Memory: peak RSS of `analyze` over N and 10 N inputs (fresh subprocesses, same batch); it
    should stay flat because tap outputs are reduced batch by batch.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def make_inputs(folder: Path, count: int, shape) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        np.save(folder / f"x{i:05d}.npy", rng.standard_normal(shape).astype(np.float32))
    return folder


def cli(*args, env=None) -> list[str]:
    return [sys.executable, "-m", "srop_onnx.cli", *map(str, args)]


def peak_rss_mb(args: list[str], env: dict) -> float:
    code = ("import resource, runpy, sys; sys.argv = sys.argv[1:]; "
            "exec('try:\\n runpy.run_module(\"srop_onnx.cli\", run_name=\"__main__\")\\nexcept SystemExit: pass'); "
            "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, "srop-onnx", *args[3:]], env=env, capture_output=True, text=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("PEAK")]
    if not line:
        raise RuntimeError(out.stderr)
    return int(line[-1].split()[1]) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models" / "example.onnx"))
    ap.add_argument("--inputs", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="srop-bench-"))
    small = make_inputs(tmp / "small", args.inputs, (3, 64, 64))
    big = make_inputs(tmp / "big", 10 * args.inputs, (3, 64, 64))
    base = [args.model]
    common = ["-q", "--batch-size", args.batch]

    # (a) one process with both cores vs two shard processes with one core each
    env1 = dict(os.environ)
    t0 = time.perf_counter()
    subprocess.run(cli("analyze", *base, big, *common, "--json", tmp / "one.json"), env=env1, check=True)
    t_one = time.perf_counter() - t0
    env2 = dict(os.environ, SROP_ONNX_THREADS="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cli("analyze", *base, big, *common, "--shard", f"{i}/2", "--json", tmp / f"s{i}.json"),
                              env=env2) for i in (1, 2)]
    for p in procs:
        p.wait()
    subprocess.run(cli("merge", tmp / "s1.json", tmp / "s2.json", "-o", tmp / "merged.json"), check=True,
                   capture_output=True)
    t_two = time.perf_counter() - t0
    one = json.loads((tmp / "one.json").read_text())
    merged = json.loads((tmp / "merged.json").read_text())
    same = [lay["histogram"] for lay in one["layers"]] == [lay["histogram"] for lay in merged["layers"]]
    n = 10 * args.inputs
    print(f"(a) {n} inputs, batch {args.batch}: 1 process {n / t_one:7.1f} img/s; 2 shard processes + merge "
          f"{n / t_two:7.1f} img/s; ratio {t_one / t_two:.2f}x; merged == single run: {same}")
    print("    (wall clock including interpreter and session start-up of each process)")

    # (b) peak RSS over N and 10 N inputs
    rss_small = peak_rss_mb(cli("analyze", *base, small, *common), env1)
    rss_big = peak_rss_mb(cli("analyze", *base, big, *common), env1)
    print(f"(b) peak RSS: {args.inputs} inputs {rss_small:.0f} MiB; {10 * args.inputs} inputs {rss_big:.0f} MiB; "
          f"ratio {rss_big / rss_small:.2f}")


if __name__ == "__main__":
    main()
