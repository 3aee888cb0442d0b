"""Spectral core benchmark (issue 2): vectorised core vs per-map loop vs FFT alone.

ResNet-18-shaped activations for a batch of 8 (random non-negative float32):
64x112x112 once, then 64x56x56, 128x28x28, 256x14x14, 512x7x7 five times each.

Prints, side by side from one process: maps/s, MB/s, and the ratios
  (b)/(a): speed-up of the core over a per-map loop (goal >= 20x)
  (a)/(c): core time over the bare batched real FFT (goal <= 1.5x)
  (a1)/(a): all layers in one call (one queue of chunks for every thread, what the
            reducer runs) over one call per layer (the threads wait at each layer's end)
  (a0)/(a): over the earlier scheme (one call per layer, chunks in order, threads only
            inside SciPy's FFT)
and where the core's time goes (FFT, magnitude, ring matmul, roll-off).

Usage:  python benchmarks/bench_core.py [--batch 8] [--repeat 5] [--sample 64]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import scipy.fft

import srop_onnx.core.spectral as spectral

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time as timed  # noqa: E402

from srop_onnx import rolloff_bins, rolloff_bins_many
from srop_onnx.core._xp import cpu_workers
from srop_onnx.core.spectral import _plan_matrix, num_bins

LAYERS = [(64, 112, 1), (64, 56, 5), (128, 28, 5), (256, 14, 5), (512, 7, 5)]


def make_activations(batch: int, rng) -> list[np.ndarray]:
    acts = []
    for c, n, reps in LAYERS:
        for _ in range(reps):
            a = rng.standard_normal((batch, c, n, n), dtype=np.float32)
            np.maximum(a, 0, out=a)  # ReLU-like: non-negative
            acts.append(a)
    return acts


def per_map_naive(a: np.ndarray, sample: int) -> float:
    """Seconds per map of the loop a researcher writes, timed on `sample` maps."""
    n_h, n_w = a.shape[-2:]
    n = max(n_h, n_w)
    m = num_bins(n)
    yy, xx = np.mgrid[:n_h, :n_w]
    maps = a.reshape(-1, n_h, n_w)[:sample]
    t0 = time.perf_counter()
    for mp in maps:
        s2d = np.abs(np.fft.fftshift(np.fft.fft2(mp)))
        r = np.floor(n * np.sqrt(((yy - n_h // 2) / n_h) ** 2 + ((xx - n_w // 2) / n_w) ** 2) + 1e-9).astype(int)
        s1d = np.bincount(r.ravel(), weights=s2d.ravel())[: m + 1]
        c = np.cumsum(s1d)
        int(np.argmax(c >= 0.85 * c[-1]))
    return (time.perf_counter() - t0) / len(maps)


def serial_chunks(acts):
    """The core as it ran before chunk-level threads: chunks in order, SciPy's FFT on all workers."""
    saved = spectral.cpu_workers
    spectral.cpu_workers = lambda: 1  # the chunking sees one thread; the FFT still gets every worker
    try:
        return [rolloff_bins(a) for a in acts]
    finally:
        spectral.cpu_workers = saved


def breakdown(acts, repeat):
    """Seconds per stage of the core, summed over layers."""
    workers = cpu_workers()
    parts = {"fft": 0.0, "abs": 0.0, "ring matmul": 0.0, "roll-off": 0.0}
    for a in acts:
        b, c, h, w = a.shape
        x = a.reshape(b * c, h, w)
        plan = _plan_matrix(h, w).astype(np.float32)
        spec = scipy.fft.rfftn(x, axes=(-2, -1), workers=workers)
        mag = np.abs(spec)
        rings = mag.reshape(b * c, -1) @ plan
        parts["fft"] += timed(lambda: scipy.fft.rfftn(x, axes=(-2, -1), workers=workers), repeat)
        parts["abs"] += timed(lambda: np.abs(spec), repeat)
        parts["ring matmul"] += timed(lambda: mag.reshape(b * c, -1) @ plan, repeat)

        def rolloff():
            cs = np.cumsum(rings, axis=-1)
            return np.sum(cs < 0.85 * cs[:, -1:], axis=-1)

        parts["roll-off"] += timed(rolloff, repeat)
    return parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sample", type=int, default=64, help="maps per layer timed in the per-map loop")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    acts = make_activations(args.batch, rng)
    n_maps = sum(a.shape[0] * a.shape[1] for a in acts)
    n_bytes = sum(a.nbytes for a in acts)
    workers = cpu_workers()
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"{workers} FFT workers, {platform.machine()}")
    print(f"activation set: batch {args.batch}, {len(acts)} layers, {n_maps} maps, {n_bytes / 1e6:.1f} MB")

    t_core = timed(lambda: rolloff_bins_many(acts), args.repeat)
    t_layer = timed(lambda: [rolloff_bins(a) for a in acts], args.repeat)
    t_serial = timed(lambda: serial_chunks(acts), args.repeat)
    t_fft = timed(lambda: [scipy.fft.rfftn(a, axes=(-2, -1), workers=workers) for a in acts], args.repeat)
    t_npfft = timed(lambda: [np.fft.rfftn(a, axes=(-2, -1)) for a in acts], max(1, args.repeat // 2))
    t_naive = sum(per_map_naive(a, args.sample) * a.shape[0] * a.shape[1] for a in acts)

    def row(name, t):
        print(f"  {name:<44s} {t * 1e3:9.1f} ms  {n_maps / t:11.0f} maps/s  {n_bytes / t / 1e6:8.0f} MB/s")

    row("(a) srop_onnx.rolloff_bins_many (all layers)", t_core)
    row("(a1) rolloff_bins, one call per layer", t_layer)
    row("(a0) same, chunks in order (earlier scheme)", t_serial)
    row("(b) per-map fft2+fftshift+bincount (extrap.)", t_naive)
    row("(c) scipy.fft.rfftn alone (irreducible)", t_fft)
    row("    numpy.fft.rfftn alone (for reference)", t_npfft)
    print(f"ratios: (b)/(a) = {t_naive / t_core:.1f}x  (goal >= 20x);  (a)/(c) = {t_core / t_fft:.2f}x  (goal <= 1.5x);"
          f"  (a1)/(a) = {t_layer / t_core:.2f}x;  (a0)/(a) = {t_serial / t_core:.2f}x")
    parts = breakdown(acts, args.repeat)
    tot = sum(parts.values())
    print("where the core's time goes (stage medians, summed over layers):")
    for k, v in parts.items():
        print(f"  {k:<12s} {v * 1e3:8.1f} ms  {100 * v / tot:5.1f}%")


if __name__ == "__main__":
    main()
