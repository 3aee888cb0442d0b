"""A command pays only for what it uses: the heavy modules stay off the paths that do not need
them (fresh interpreters, import-level, no timing), and one analysis parses, hashes and
shape-infers its model once and starts one session (benchmarks/bench_process.py times it)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import EXAMPLE, EXAMPLE_IMAGES

HEAVY = ("onnxruntime", "onnx", "scipy", "PIL", "matplotlib", "pandas", "torch", "jsonschema", "scipy.io",
         "array_api_compat.numpy")

RUN_AND_LIST = """\
import json, sys
from srop_onnx.cli import main
sys.argv = ["srop-onnx"] + json.loads(sys.argv[1])
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": sorted(m for m in HEAVY if m in sys.modules)}), file=sys.stderr)
"""


def _loaded(args: list[str], cwd) -> set[str]:
    code = f"HEAVY = {HEAVY!r}\n" + RUN_AND_LIST
    res = subprocess.run([sys.executable, "-c", code, json.dumps([str(a) for a in args])], cwd=cwd,
                         capture_output=True, text=True, timeout=300)
    last = json.loads(res.stderr.strip().splitlines()[-1])
    assert last["code"] in (0, None), res.stderr[-2000:]
    return set(last["loaded"])


@pytest.fixture(scope="module")
def profiles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("startup")
    for name in ("a", "b"):
        _loaded(["analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", folder / f"{name}.json"], folder)
    return folder


@pytest.mark.parametrize("args", [
    ["check", "a.json", "--against", "b.json"],
    ["compare", "a.json", "b.json"],
    ["plot", "a.json", "-o", "depth.png"],
    ["plot", "a.json", "--kind", "kde", "-o", "kde.png"],
    ["plot", "a.json", "--kind", "box", "-o", "box.png"],
    ["report", "a.json", "-o", "r.html"],
    ["report", "a.json", "b.json", "-o", "two.html"],
], ids=lambda a: "-".join(x for x in a if not x.endswith((".json", ".png", ".html"))))
def test_commands_over_profiles_import_no_runtime_no_onnx_no_scipy(profiles, args):
    loaded = _loaded(args, profiles)
    assert not loaded & {"onnxruntime", "onnx", "scipy", "torch", "pandas"}, loaded
    assert "jsonschema" not in loaded  # valid profiles pass the compiled schema; jsonschema words errors only
    drawing = args[0] in ("plot", "report")
    assert ("matplotlib" in loaded) == drawing


def test_layers_reads_the_graph_without_the_runtime_or_the_kernels(tmp_path):
    loaded = _loaded(["layers", EXAMPLE], tmp_path)
    assert "onnx" in loaded
    assert not loaded & {"onnxruntime", "scipy", "PIL", "matplotlib"}, loaded


def test_analyze_of_arrays_imports_no_image_decoder(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32))
    loaded = _loaded(["analyze", EXAMPLE, tmp_path / "x.npy", "-q"], tmp_path)
    assert {"onnx", "onnxruntime", "scipy"} <= loaded
    assert not loaded & {"PIL", "matplotlib", "pandas"}, loaded
    if hasattr(np, "cumulative_sum"):  # NumPy >= 2.1 is its own array namespace: no wrapper copied at import
        assert "array_api_compat.numpy" not in loaded


def test_analyze_of_images_still_decodes_them(tmp_path):
    loaded = _loaded(["analyze", EXAMPLE, EXAMPLE_IMAGES, "-q"], tmp_path)
    assert "PIL" in loaded and "matplotlib" not in loaded
    assert "scipy.io" not in loaded  # the WAV reader (and SciPy's sparse matrices) only for WAV files


def test_analyze_of_wav_files_loads_the_wav_reader_before_its_threads(tmp_path):
    import onnx
    from onnx import TensorProto, helper
    from scipy.io import wavfile

    w = helper.make_tensor("w", TensorProto.FLOAT, [2, 1, 3], [0.1] * 6)
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 64])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "a.onnx")
    wavfile.write(tmp_path / "a.wav", 8000, (np.sin(np.arange(64) / 3) * 10000).astype(np.int16))
    loaded = _loaded(["analyze", tmp_path / "a.onnx", tmp_path / "a.wav", "-q"], tmp_path)
    assert "scipy.io" in loaded and "PIL" not in loaded


def test_one_analysis_parses_hashes_and_infers_its_model_once(monkeypatch):
    import hashlib

    import onnx
    import onnxruntime as ort

    import srop_onnx
    from srop_onnx.model import modelio

    calls = {"parse": 0, "infer": 0, "session": 0, "hash_bytes": 0}
    size = EXAMPLE.stat().st_size

    real_parse, real_infer, real_session = onnx.load_model_from_string, onnx.shape_inference.infer_shapes, \
        ort.InferenceSession.__init__
    real_sha = hashlib.sha256

    def parse(*a, **k):
        calls["parse"] += 1
        return real_parse(*a, **k)

    def infer(*a, **k):
        calls["infer"] += 1
        return real_infer(*a, **k)

    def session(self, *a, **k):
        calls["session"] += 1
        return real_session(self, *a, **k)

    def sha(data=b"", **k):
        if len(data) == size:
            calls["hash_bytes"] += 1
        return real_sha(data, **k)

    monkeypatch.setattr(onnx, "load_model_from_string", parse)
    monkeypatch.setattr(onnx.shape_inference, "infer_shapes", infer)
    monkeypatch.setattr(ort.InferenceSession, "__init__", session)
    monkeypatch.setattr(modelio.hashlib, "sha256", sha)
    profile = srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES)
    assert profile.analyzed == 8
    assert calls["parse"] == 1  # the file's bytes, once
    assert calls["infer"] == 1
    assert calls["hash_bytes"] == 1
    assert calls["session"] == 1
