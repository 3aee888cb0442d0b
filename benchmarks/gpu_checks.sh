#!/usr/bin/env bash
# Every GPU check of issues 6, 12 and 13 in one run on a lent GPU machine (the `device` tool), logs under $OUT.
#
# Prepare onnxruntime-gpu as ../shared/gpu/README.md says (../shared/gpu/pack-ort-gpu here, then
# three part calls), then in the fourth call:
#
#   source .gpu4/setup.sh && bash benchmarks/gpu_checks.sh
#
# Steps: versions and providers; the whole test suite under onnxruntime-gpu; the gpu-marked tests
# and the CuPy parametrisation; CUDA vs CPU histograms of the shipped example and the committed
# framework models (SPEC 8: exactly equal without TF32); the pipeline benchmark; whole-process
# analyze vs plain ORT on 1,024 .npy inputs of a ResNet-50 shape; a folder of 1,024 JPEGs.
set -uo pipefail
OUT=${OUT:-/tmp/srop-gpu-out}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-$PWD}

python3 - <<'PY' 2>&1 | tee "$OUT/versions.txt"
import os, cupy, numpy, onnxruntime as ort
print("onnxruntime", ort.__version__, ort.get_available_providers(), "cores", os.cpu_count())
print("cupy", cupy.__version__, "devices", cupy.cuda.runtime.getDeviceCount(), "numpy", numpy.__version__)
from srop_onnx.core.cuda import cuda_problem
print("cuda_problem():", cuda_problem())
PY

timeout 300 python3 -m pytest -q -p no:cacheprovider -x tests -rs 2>&1 | tail -30 | tee "$OUT/all-tests.txt"
timeout 120 python3 -m pytest -q -p no:cacheprovider -m gpu tests -rs 2>&1 | tail -20 | tee "$OUT/gpu-tests.txt"

python3 - <<'PY' 2>&1 | tee "$OUT/cuda-vs-cpu.txt"
import numpy as np, srop_onnx
cases = [("models/example.onnx", "models/images", {}),
         ("tests/models/torch_legacy.onnx", None, {}), ("tests/models/keras_small.onnx", None, {}),
         ("tests/models/paddle_small.onnx", None, {})]
for path, inputs, kw in cases:
    if inputs is None:
        from srop_onnx.inputs.inputspec import input_spec
        from srop_onnx.model.modelio import load_model
        spec = input_spec(load_model(path).proto)
        shape = [d or 32 for d in spec.shape[1:]]
        inputs = np.random.default_rng(0).standard_normal((8, *shape)).astype(np.float32)
    a = srop_onnx.analyze(path, inputs, provider="cuda", keep_bins=True, **kw)
    b = srop_onnx.analyze(path, inputs, provider="cpu", keep_bins=True, **kw)
    same = all(np.array_equal(x.bins, y.bins) for x, y in zip(a.layers, b.layers))
    worst = max(float(np.mean(x.bins != y.bins)) for x, y in zip(a.layers, b.layers))
    print(f"{path}: {len(a.layers)} layers, identical bins: {same}, worst layer {100 * worst:.2f}% of maps differ")
PY

python3 benchmarks/bench_pipeline.py --provider cuda --batch 32 --repeat 5 2>&1 | tee "$OUT/bench-pipeline-cuda.txt"
# issue 13: the fused roll-off kernel (SROP_ONNX_FUSED=1) against the array-API kernel, then its speed
SROP_ONNX_FUSED=1 timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_fused.py -rs 2>&1 | tail -5 \
  | tee "$OUT/fused-tests.txt"
for b in 32 128; do
  SROP_ONNX_FUSED=1 python3 benchmarks/bench_pipeline.py --provider cuda --batch $b --repeat 5 2>&1 \
    | tee "$OUT/bench-pipeline-cuda-fused-b$b.txt"
done
SROP_ONNX_FUSED=1 python3 benchmarks/bench_pipeline.py --provider cuda --models resnet18 --batch 32 --repeat 5 2>&1 \
  | tee "$OUT/bench-pipeline-cuda-fused-r18.txt"
python3 benchmarks/bench_batch.py --provider cuda --model resnet50 --batches 8,32,64,128,256,512 --repeat 3 2>&1 \
  | tee "$OUT/bench-batch-cuda.txt"
python3 benchmarks/bench_startup.py --provider cuda --inputs 1024 --repeat 3 2>&1 | tee "$OUT/bench-startup-cuda.txt"
python3 benchmarks/bench_decode.py --images 512 --workers 1,4,8,15 2>&1 | tee "$OUT/bench-decode.txt"
python3 - <<'PY' 2>&1 | tee "$OUT/jpeg-folder.txt"
import sys, tempfile, time
from pathlib import Path
sys.path.insert(0, "benchmarks")
from bench_decode import write_images
from resnet_onnx import build
import srop_onnx
with tempfile.TemporaryDirectory() as tmp:
    write_images(Path(tmp), 1024)
    model = Path(tmp) / "r50.onnx"
    model.write_bytes(build("resnet50").SerializeToString())
    t = time.perf_counter()
    p = srop_onnx.analyze(model, tmp, provider="cuda")
    dt = time.perf_counter() - t
    print(f"1,024 JPEGs 500x375, ResNet-50 shape, defaults: {dt:.2f} s, {p.analyzed / dt:.1f} images/s, "
          f"batch {p.settings['batch_size']}")
PY
