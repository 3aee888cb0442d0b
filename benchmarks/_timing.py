"""Shared timing helper of the benchmark scripts: median of repeats after one warm-up."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up: plans, FFT twiddles, thread pools, sessions
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)
