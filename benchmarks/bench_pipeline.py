"""Pipeline benchmark (issue 6): what analysis costs on top of plain inference.

For ResNet-18 and ResNet-50 shaped models (random weights, benchmarks/resnet_onnx.py), same
provider, same batch, same inputs in memory, side by side in one process:
  (1) plain ONNX Runtime inference of the unmodified model;
  (2) the same model with every tap exposed as an output, no analysis;
  (3) full analysis: (2) plus the input's pooling chain as outputs, and the SROP reduction
      of every tap and chain level - the very loop `srop_onnx.analyze` runs (Runner,
      LayerReducer with its BaselineAccumulator);
  (3h) the same with the baseline computed on the host after each batch (the earlier scheme:
      NumPy max-pooling of the host batch), for comparison.
Prints images/s and the ratios (3)/(1), (2)/(1), (3)/(3h); on GPU also the SROP stage's GB/s.
Goals: (3)/(1) >= 0.75 at batch 32 on a GPU, >= 0.6 on the 2-core CPU.

Usage:  python benchmarks/bench_pipeline.py [--models resnet18,resnet50] [--batch 32] [--repeat 3] [--provider cpu]
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time  # noqa: E402
from resnet_onnx import build  # noqa: E402

from srop_onnx import __version__  # noqa: E402
from srop_onnx.run.analysis import prepare_taps  # noqa: E402
from srop_onnx.model.baseline import BaselineAccumulator  # noqa: E402
from srop_onnx.model.baseline import chain_spatial  # noqa: E402
from srop_onnx.run.execution import feed  # noqa: E402
from srop_onnx.model.graph import add_pooling_chain, expose_outputs  # noqa: E402
from srop_onnx.inputs.inputspec import input_spec  # noqa: E402
from srop_onnx.run.reducer import LayerReducer  # noqa: E402
from srop_onnx.run.runtime import Runner, choose_provider  # noqa: E402
from srop_onnx.core.spectral import rolloff_bins  # noqa: E402


def host_baseline(acc: BaselineAccumulator, x: np.ndarray) -> None:
    """The earlier scheme: the pooling chain of the host batch with NumPy, one level at a time."""
    level = x
    for _ in chain_spatial(x.shape[2:]):
        acc.add(level.shape, np.asarray(rolloff_bins(level).bins))
        h, w = 2 * (level.shape[-2] // 2), 2 * (level.shape[-1] // 2)
        top = np.maximum(level[..., 0:h:2, 0:w:2], level[..., 0:h:2, 1:w:2])
        level = np.maximum(top, np.maximum(level[..., 1:h:2, 0:w:2], level[..., 1:h:2, 1:w:2]))


def bench(name: str, batch: int, repeat: int, provider: str) -> dict:
    model = build(name)
    spec = input_spec(model)
    choice = choose_provider(provider)
    x = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    plain = ort.InferenceSession(model.SerializeToString(), providers=[choice.name])
    taps, _ = prepare_taps(model, spec)
    names = [t.tensor for t in taps]
    tapped = expose_outputs(model, taps)
    runner = Runner(tapped.SerializeToString(), choice, spec, names)
    chained, chain = add_pooling_chain(tapped, spec.name, spec.channel_axis, len(chain_spatial((224, 224))), copy=False)
    full_runner = Runner(chained.SerializeToString(), choice, spec, names + chain)
    sync = (lambda: __import__("cupy").cuda.Device().synchronize()) if runner.device == "cuda" else (lambda: None)

    def run_plain():
        plain.run(None, {"input": x})

    def run_taps():
        runner.run(x)
        sync()

    def run_full():
        acc = BaselineAccumulator(spec, 0.85)
        acc.start((224, 224))
        acc.outputs = chain
        feed(full_runner, LayerReducer(taps, (224, 224), 0.85, baseline=acc), x, lambda _m: None)
        sync()

    def run_full_host_baseline():
        acc = BaselineAccumulator(spec, 0.85)
        acc.start((224, 224))
        feed(runner, LayerReducer(taps, (224, 224), 0.85), x, lambda _m: None)
        host_baseline(acc, x)
        sync()

    outs = runner.run(x)
    tap_bytes = sum(int(v.nbytes) for v in outs.values())
    if runner.device == "cpu":
        import scipy.fft

        from srop_onnx.core._xp import cpu_workers

        def fft_only():
            for v in list(outs.values()):
                scipy.fft.rfftn(v, axes=(-2, -1), workers=cpu_workers())
    else:
        import cupy

        def fft_only():
            for v in outs.values():
                cupy.fft.rfftn(v, axes=(-2, -1))
            sync()
    t_fft = median_time(fft_only, repeat)
    outs = {}  # release the probe outputs before timing the variants
    t1, t2, t3, t3h = (median_time(f, repeat) for f in (run_plain, run_taps, run_full, run_full_host_baseline))
    return {"model": name, "taps": len(taps), "tap_MB": tap_bytes / 1e6, "t1": t1, "t2": t2, "t3": t3, "t3h": t3h,
            "t_fft": t_fft, "provider": choice.name, "batch": batch}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet18,resnet50")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--provider", default="auto")
    args = ap.parse_args()
    print(f"srop-onnx {__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}, python "
          f"{platform.python_version()}, {platform.machine()}")
    for name in args.models.split(","):
        r = bench(name, args.batch, args.repeat, args.provider)
        b = r["batch"]
        print(f"\n{name}: {r['provider']}, batch {b}, {r['taps']} taps, {r['tap_MB']:.0f} MB of tap outputs per batch")
        for label, key in (("(1) plain inference", "t1"), ("(2) taps exposed, no analysis", "t2"), ("(3) full analysis", "t3"),
                           ("(3h) full, baseline on the host", "t3h")):
            print(f"  {label:<32s} {r[key]:8.3f} s/batch  {b / r[key]:8.2f} images/s")
        srop_s = r["t3"] - r["t2"]
        print(f"  ratios: (3)/(1) = {r['t1'] / r['t3']:.2f} of plain throughput, (2)/(1) = {r['t1'] / r['t2']:.2f}, "
              f"(3h)/(1) = {r['t1'] / r['t3h']:.2f}; (3) is {r['t3h'] / r['t3']:.2f}x as fast as (3h)")
        print(f"  SROP stage: {srop_s:.3f} s/batch, {r['tap_MB'] / 1e3 / max(srop_s, 1e-9):.2f} GB/s of tap outputs read")
        print(f"  bare real FFT of every tap: {r['t_fft']:.3f} s/batch -> even with free ring sums, (3)/(1) <= "
              f"{r['t1'] / (r['t2'] + r['t_fft']):.2f}")


if __name__ == "__main__":
    main()
