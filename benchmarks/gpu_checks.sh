#!/usr/bin/env bash
# Every GPU check of issue 6 in one run on a lent GPU machine (the `device` tool), logs under $OUT.
#
# The device image has CuPy (cupy-cuda13x), numpy, scipy, onnx, pytest, hypothesis, rich, click,
# pillow, matplotlib and threadpoolctl, but a CPU-only onnxruntime and no array-api-compat. Before
# the call, put wheels for Python 3.12 / manylinux x86_64 in .whl/ (ignored by git, see the device
# README): array_api_compat, array_api_strict, and onnxruntime_gpu (about 255 MB: over one call's
# 64 MiB, so send it in parts on consecutive calls while the machine stays warm, join the parts
# under /tmp/ort-gpu/ there, and this script installs /tmp/ort-gpu/*.whl too).
#
#   bash benchmarks/gpu_checks.sh            # from the repository root, on the device machine
#
# Steps: versions and providers; the gpu-marked tests and the CuPy parametrisation of the
# spectral tests; a CLI run of the shipped example on CUDA with --debug; the pipeline
# benchmark on CUDA at batch 32 (ResNet-18 and ResNet-50).
set -uo pipefail
OUT=${OUT:-/tmp/srop-gpu-out}
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1

wheels=$(ls .whl/*.whl /tmp/ort-gpu/*.whl 2>/dev/null)
if [ -n "$wheels" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site $wheels || exit 2
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi

python3 - <<'EOF' 2>&1 | tee "$OUT/versions.txt"
import cupy, numpy, onnxruntime as ort
print("onnxruntime", ort.__version__, ort.get_available_providers())
print("cupy", cupy.__version__, "devices", cupy.cuda.runtime.getDeviceCount(), "numpy", numpy.__version__)
from srop_onnx.cuda import cuda_problem
print("cuda_problem():", cuda_problem())
EOF

python3 -m pytest -q -p no:cacheprovider -m gpu tests -rs 2>&1 | tee "$OUT/gpu-tests.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_spectral.py -k cupy -rs 2>&1 | tee "$OUT/cupy-spectral.txt"
python3 -m srop_onnx.cli --debug analyze models/example.onnx models/images --provider cuda \
  --json "$OUT/example-cuda.json" 2>&1 | tee "$OUT/example-cuda.txt"
python3 benchmarks/bench_pipeline.py --provider cuda --batch 32 --repeat 5 2>&1 | tee "$OUT/bench-pipeline-cuda.txt"
