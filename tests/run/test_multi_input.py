"""Issue 32, item 2: a model with several inputs fed from one .npz. The fed input's rows are the
samples; another input that shares its batch axis is split with them whatever the batch size;
an input without a sample axis (a table, a state) goes whole with every run; the run says which
is which. Without ``--input``, the .npz's names pick the input to feed."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

from conftest import assert_matches_reference
from srop_onnx import InputDataError, analyze
from srop_onnx.cli import main

N = 7


def _model(path, mask_axis="N"):
    """y = Conv(x * mask + table): x and mask (N, 2, 12, 12) share the batch axis; table (12,) does not."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Mul", ["x", "mask"], ["xm"], name="masked"),
             helper.make_node("Add", ["xm", "table"], ["xt"], name="shifted"),
             helper.make_node("Conv", ["xt", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])]
    ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 12, 12]),
           helper.make_tensor_value_info("mask", TensorProto.FLOAT, [mask_axis, 2, 12, 12]),
           helper.make_tensor_value_info("table", TensorProto.FLOAT, [12])]
    graph = helper.make_graph(nodes, "two", ins, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10), str(path))
    return path


def _arrays(rng):
    return {"x": rng.standard_normal((N, 2, 12, 12)).astype(np.float32),
            "mask": (rng.random((N, 2, 12, 12)) > 0.3).astype(np.float32),
            "table": np.linspace(-1, 1, 12).astype(np.float32)}


@pytest.mark.parametrize("batch", [1, 3, N])
def test_a_per_sample_input_is_split_with_the_batch_and_matches_the_reference(tmp_path, rng, batch):
    model, arrays = _model(tmp_path / "m.onnx"), _arrays(rng)
    np.savez(tmp_path / "in.npz", **arrays)
    notes: list[str] = []
    prof = analyze(model, tmp_path / "in.npz", batch_size=batch, notify=notes.append)
    assert prof.analyzed == N and prof.model["input"]["name"] == "x"  # picked by the .npz's names
    assert_matches_reference(prof, model, arrays["x"], "x", others={"mask": arrays["mask"], "table": arrays["table"]})
    assert "note: inputs x, mask are split with the samples; table goes whole with every run" in notes


def test_npz_files_listed_on_standard_input_feed_every_input(tmp_path, rng):
    """A list on standard input names .npz files as it names images: their arrays feed the inputs."""
    import json
    import subprocess
    import sys

    model, arrays = _model(tmp_path / "m.onnx"), _arrays(rng)
    np.savez(tmp_path / "in.npz", **arrays)
    res = subprocess.run([sys.executable, "-m", "srop_onnx", "analyze", str(model), "@-", "--json", "p.json", "-q"],
                         input="in.npz\n", text=True, capture_output=True, cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["inputs"]["analyzed"] == N and doc["model"]["input"]["name"] == "x"
    assert doc["layers"] == analyze(model, tmp_path / "in.npz").to_dict()["layers"]


def test_one_sample_per_file_gives_the_same_profile_as_one_file(tmp_path, rng):
    model, arrays = _model(tmp_path / "m.onnx"), _arrays(rng)
    np.savez(tmp_path / "all.npz", **arrays)
    folder = tmp_path / "each"
    folder.mkdir()
    for i in range(N):  # one sample each, without the batch axis
        np.savez(folder / f"{i:02d}.npz", x=arrays["x"][i], mask=arrays["mask"][i], table=arrays["table"])
    a = analyze(model, tmp_path / "all.npz", batch_size=4)
    b = analyze(model, folder, batch_size=2)
    assert [lay.stats.histogram.tolist() for lay in a.layers] == [lay.stats.histogram.tolist() for lay in b.layers]


def test_rows_that_do_not_match_the_samples_are_a_one_line_error(tmp_path, rng):
    model, arrays = _model(tmp_path / "m.onnx"), _arrays(rng)
    arrays["mask"] = arrays["mask"][:3]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputDataError, match=r"bad\.npz: array 'mask' has 3 rows and 'x' has 7; .*save a row of 'mask' per sample"):
        analyze(model, tmp_path / "bad.npz", strict=True)
    res = CliRunner().invoke(main, ["analyze", str(model), str(tmp_path / "bad.npz"), "-q"])
    assert res.exit_code == 2 and "save a row of 'mask' per sample" in res.output and "Traceback" not in res.output


def test_another_symbol_still_splits_rows_and_the_cli_agrees_with_the_api(tmp_path, rng):
    """A PyTorch export with ``dynamic_axes`` as lists names each input's batch axis apart
    (x_dynamic_axes_1, mask_dynamic_axes_1): a row per sample is still split with the samples."""
    model, arrays = _model(tmp_path / "m.onnx", mask_axis="mask_batch"), _arrays(rng)
    np.savez(tmp_path / "in.npz", **arrays)
    res = CliRunner().invoke(main, ["analyze", str(model), str(tmp_path / "in.npz"), "-b", "2",
                                    "--json", str(tmp_path / "a.json")])
    assert res.exit_code == 0, res.output
    assert "split with the samples" in res.output
    api = analyze(model, tmp_path / "in.npz", batch_size=5)
    got = json.loads((tmp_path / "a.json").read_text())
    assert [lay["histogram"] for lay in got["layers"]] == [lay.stats.histogram.tolist() for lay in api.layers]


def test_files_that_name_other_arrays_are_skipped_and_reported(tmp_path, rng):
    model, arrays = _model(tmp_path / "m.onnx"), _arrays(rng)
    folder = tmp_path / "in"
    folder.mkdir()
    np.savez(folder / "a.npz", **arrays)
    np.savez(folder / "b.npz", x=arrays["x"], table=arrays["table"])  # no mask rows
    prof = analyze(model, folder)
    assert prof.analyzed == N and "per-sample rows of none" in prof.skipped_inputs[0]["reason"]
