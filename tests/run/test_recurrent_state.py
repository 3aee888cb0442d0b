"""Issue 32, item 3: a recurrent state input of static shape ``(directions, 1, hidden)`` fixes the
batch at 1. srop-onnx finds it (the GRU's ``initial_h``), runs one sample at a time with a note, and
never takes the state for the input to feed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import onnx
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from srop_onnx.cli import main

HIDDEN = 6


def _gru_model(path, state_batch: int = 1):
    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array(rng.standard_normal((4, 2, 3)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.standard_normal((1, 3 * HIDDEN, 4)).astype(np.float32), "gw"),
            numpy_helper.from_array(rng.standard_normal((1, 3 * HIDDEN, HIDDEN)).astype(np.float32), "gr")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv1", pads=[1, 1]),
             helper.make_node("Transpose", ["c"], ["t"], perm=[2, 0, 1]),
             helper.make_node("Identity", ["h0"], ["h0i"]),
             helper.make_node("GRU", ["t", "gw", "gr", "", "", "h0i"], ["y", "hn"], name="gru", hidden_size=HIDDEN)]
    graph = helper.make_graph(nodes, "gru", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2, 32]),
                                             helper.make_tensor_value_info("h0", TensorProto.FLOAT,
                                                                           [1, state_batch, HIDDEN])],
                              [helper.make_tensor_value_info("hn", TensorProto.FLOAT, [1, None, HIDDEN])], init)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), str(path))
    return path


def test_a_gru_state_fixes_the_batch_and_the_run_equals_one_sample_at_a_time(tmp_path):
    model = _gru_model(tmp_path / "gru.onnx")
    np.save(tmp_path / "x.npy", np.random.default_rng(1).standard_normal((5, 2, 32)).astype(np.float32))
    res = CliRunner().invoke(main, ["analyze", str(model), str(tmp_path / "x.npy"), "--json", str(tmp_path / "a.json")])
    assert res.exit_code == 0, res.output
    assert "is the GRU state of 'gru', whose batch axis fixes the batch at 1" in res.output
    one = CliRunner().invoke(main, ["analyze", str(model), str(tmp_path / "x.npy"), "-q", "-b", "1", "--input", "x",
                                    "--json", str(tmp_path / "b.json")])
    assert one.exit_code == 0, one.output
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert a["layers"] == b["layers"] and a["inputs"]["analyzed"] == 5


def _stacked_state_model(path, pieces: str):
    """AECMOS (PyTorch 1.9): one state input ``h0 (4, 1, H)`` cut into two GRUs' ``initial_h (2, 1, H)``
    through Slice (or Split, or Gather + Unsqueeze), the batch on the state's axis 1 either way."""
    rng = np.random.default_rng(0)
    init = [numpy_helper.from_array(rng.standard_normal((4, 2, 3)).astype(np.float32), "w")]
    for g in ("a", "b"):
        init += [numpy_helper.from_array(rng.standard_normal((2, 3 * HIDDEN, 4 if g == "a" else 2 * HIDDEN))
                                         .astype(np.float32), f"{g}w"),
                 numpy_helper.from_array(rng.standard_normal((2, 3 * HIDDEN, HIDDEN)).astype(np.float32), f"{g}r")]
    const = lambda name, v: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(v, np.int64)))  # noqa: E731
    if pieces == "slice":
        cut = [const("s0", [0]), const("e0", [2]), const("s1", [2]), const("e1", [4]), const("ax", [0]),
               helper.make_node("Slice", ["h0", "s0", "e0", "ax"], ["ha"]),
               helper.make_node("Slice", ["h0", "s1", "e1", "ax"], ["hb"])]
    else:  # split
        cut = [const("sp", [2, 2]), helper.make_node("Split", ["h0", "sp"], ["ha", "hb"], axis=0)]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv1", pads=[1, 1]),
             helper.make_node("Transpose", ["c"], ["t"], perm=[2, 0, 1]), *cut,
             helper.make_node("GRU", ["t", "aw", "ar", "", "", "ha"], ["ya", "hna"], name="gru_a", hidden_size=HIDDEN,
                              direction="bidirectional"),
             helper.make_node("Transpose", ["ya"], ["yat"], perm=[0, 2, 1, 3]),
             helper.make_node("Reshape", ["yat", "shape"], ["ya2"]), const("shape", [0, 0, -1]),
             helper.make_node("GRU", ["ya2", "bw", "br", "", "", "hb"], ["yb", "hnb"], name="gru_b", hidden_size=HIDDEN,
                              direction="bidirectional")]
    graph = helper.make_graph(nodes, "stacked", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2, 32]),
                                                 helper.make_tensor_value_info("h0", TensorProto.FLOAT, [4, 1, HIDDEN])],
                              [helper.make_tensor_value_info("hnb", TensorProto.FLOAT, [2, None, HIDDEN])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("pieces", ["slice", "split"])
def test_a_stacked_state_cut_into_two_grus_fixes_the_batch_by_default(tmp_path, pieces):
    from srop_onnx.model.graph import recurrent_states

    model = _stacked_state_model(tmp_path / "m.onnx", pieces)
    assert set(recurrent_states(onnx.load(str(model)).graph)) == {"h0"}
    np.save(tmp_path / "x.npy", np.random.default_rng(1).standard_normal((3, 2, 32)).astype(np.float32))
    res = CliRunner().invoke(main, ["analyze", str(model), str(tmp_path / "x.npy"), "--json", str(tmp_path / "a.json")])
    assert res.exit_code == 0, res.output
    assert "fixes the batch at 1" in res.output
    assert json.loads((tmp_path / "a.json").read_text())["inputs"]["analyzed"] == 3
