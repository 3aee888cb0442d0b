"""Issue 32, item 1: models whose input is integers (bytes as int32, an int8 image) are listed and
analysed from arrays of their own dtype; floats are never rounded into integers; dtypes are named in
words."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from reference import ref_bins
from srop_onnx.cli import main


def _bytes_model(path, elem=TensorProto.INT32):
    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array(rng.standard_normal((4, 1, 5)).astype(np.float32), "w"),
            numpy_helper.from_array(np.array([1], dtype=np.int64), "ax")]
    nodes = [helper.make_node("Cast", ["bytes"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["f", "ax"], ["u"]),
             helper.make_node("Conv", ["u", "w"], ["c"], name="conv1", pads=[2, 2])]
    graph = helper.make_graph(nodes, "bytes", [helper.make_tensor_value_info("bytes", elem, [None, 64])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [None, 4, 64])], init)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), str(path))
    return path


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(1)
    np.save(tmp_path / "bytes.npy", rng.integers(0, 256, (6, 64)).astype(np.int32))
    np.save(tmp_path / "small.npy", rng.integers(0, 256, (6, 64)).astype(np.uint8))
    np.save(tmp_path / "floats.npy", rng.random((6, 64)).astype(np.float32))
    np.save(tmp_path / "wide.npy", np.full((2, 64), 2**40, dtype=np.int64))
    return tmp_path


def test_layers_lists_the_taps_of_an_integer_input_model(files):
    res = CliRunner().invoke(main, ["layers", str(_bytes_model(files / "m.onnx"))])
    assert res.exit_code == 0 and "conv1" in res.output and "ONNX type" not in res.output


def test_integer_arrays_feed_an_integer_input_and_match_the_reference(files):
    import json

    model = _bytes_model(files / "m.onnx")
    out = files / "p.json"
    res = CliRunner().invoke(main, ["analyze", str(model), str(files / "bytes.npy"), "-b", "4", "-q", "--json", str(out)])
    assert res.exit_code == 0, res.output
    lay = json.loads(out.read_text())["layers"][0]
    # the reference: the same convolution in float64 on the same integers
    x = np.load(files / "bytes.npy").astype(np.float64)[:, None, :]
    w = numpy_helper.to_array(onnx.load(str(model)).graph.initializer[0]).astype(np.float64)
    conv = np.stack([np.stack([np.convolve(np.pad(s[0], 2), w[c, 0][::-1], mode="valid") for c in range(4)])
                     for s in x])
    bins = ref_bins(conv, dims=1).ravel()
    want = np.bincount(bins[bins >= 0].astype(int), minlength=len(lay["histogram"]))
    assert lay["histogram"] == want.tolist()
    res = CliRunner().invoke(main, ["analyze", str(model), str(files / "small.npy"), "-q"])
    assert res.exit_code == 0, res.output  # uint8 values fit int32: cast


def test_floats_and_values_that_do_not_fit_are_refused_naming_the_dtypes(files):
    model = _bytes_model(files / "m.onnx")
    res = CliRunner().invoke(main, ["analyze", str(model), str(files / "floats.npy")])
    assert res.exit_code == 2 and "a float32 array for model input 'bytes', which is int32" in res.output
    res = CliRunner().invoke(main, ["analyze", str(model), str(files / "wide.npy")])
    assert res.exit_code == 2 and "do not fit model input 'bytes' (int32" in res.output


def test_an_input_of_an_unsupported_type_is_named_in_words(tmp_path):
    from srop_onnx.inputs.inputspec import dtype_name

    assert dtype_name(6) == "int32" and dtype_name(3) == "int8" and dtype_name(8) == "string"
    res = CliRunner().invoke(main, ["layers", str(_bytes_model(tmp_path / "s.onnx", elem=TensorProto.STRING))])
    assert res.exit_code == 2 and "model input 'bytes' is string; srop-onnx feeds float and integer inputs" in res.output
