"""Issue 22: real exports, third round - TFLite and Keras names, 1-D layers in 2-D convolutions,
channels-last waveforms, twins of quantized models, sweeps that mean the same everywhere, and
pairing in CI. The exporter-made fixtures come from tests/models/make_exporter_models.py (Keras
SeparableConv2D and Conv1D through tf2onnx, a TFLite conversion with BatchNorm folded into the
convs); the quantized models are made here by onnxruntime.quantization from the shipped example."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES, REPO, ort_outputs
from make_models import make_model
from reference import ref_bins
from srop_onnx import ModelError, UsageError, analyze, analyze_vs_random, check, compare, sweep
from srop_onnx.cli import main
from srop_onnx.config.settings import Measurement
from srop_onnx.run.stages import load_stage, plan_model

MODELS = Path(__file__).resolve().parents[1] / "models"


def _names(model) -> list[str]:
    return [t.name for t in plan_model(load_stage(model), Measurement()).taps]


# -- names ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("model, expected", [
    ("keras_separable", ["conv2d", "separable_conv2d.depthwise", "separable_conv2d.pointwise", "max_pooling2d",
                         "separable_conv2d_1.depthwise", "separable_conv2d_1.pointwise"]),
    ("keras_conv1d", ["conv1d", "max_pooling1d", "branch_a.conv", "branch_b.conv"]),
    ("tflite_folded", ["conv2d", "depthwise_conv2d", "conv2d_1", "depthwise_conv2d_1", "conv2d_2"]),
])
def test_exporter_names(model, expected):
    names = _names(MODELS / f"{model}.onnx")
    assert names == expected
    assert not any(c in n for n in names for c in (";", "#", ":", "/"))


@pytest.mark.parametrize("node_name, group, weight_shape, expected", [
    # a palm detector's pointwise conv: the plain conv segment, not the depthwise one before it
    ("model_1/model/batch_normalization/FusedBatchNormV3;model_1/model/depthwise_conv2d_3/depthwise;"
     "model_1/model/conv2d/Conv2D1", 1, (8, 8, 1, 1), "conv2d"),
    # the same fused name on a depthwise conv: the depthwise segment
    ("model_1/model/batch_normalization/FusedBatchNormV3;model_1/model/depthwise_conv2d_3/depthwise;"
     "model_1/model/conv2d/Conv2D1", 8, (8, 1, 3, 3), "depthwise_conv2d_3"),
    # an int8 classifier: Relu and BN segments around the conv
    ("model_1_1/re_lu_1/Relu;model_1_1/batchnorm/add_1;model_1_1/conv2d_1_1/convolution;model_1_1/x/bias",
     1, (8, 8, 3, 3), "conv2d_1_1"),
    ("model/separable_conv2d/separable_conv2d/depthwise", 8, (8, 1, 3, 3), "separable_conv2d"),
    ("model/separable_conv2d_1/separable_conv2d", 1, (8, 8, 1, 1), "separable_conv2d_1"),
])
def test_tflite_and_keras_name_rules_on_single_nodes(node_name, group, weight_shape, expected):
    """The layer's TensorFlow scope (before the model-level rule strips one ``_N`` where names stay
    distinct) and no ';', BN or op part in it."""
    from onnx import helper

    from srop_onnx.model.graph import conv_kind
    from srop_onnx.model.naming import name_choice

    node = helper.make_node("Conv", ["x", "w"], ["y"], name=node_name, group=group)
    choice = name_choice(node, "w", conv_kind(node, weight_shape))
    assert (choice.tf_raw or choice.name) == expected


def test_names_with_double_colons_are_shown_and_selected_as_they_are(tmp_path):
    """A name the table shows can be copied into --layers: ``onnx::Conv_6`` stays ``onnx::Conv_6``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["onnx::Conv_6"], pads=[1, 1, 1, 1])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 16, 16])],
                              [helper.make_tensor_value_info("onnx::Conv_6", TensorProto.FLOAT, None)], [w])
    path = tmp_path / "colons.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    res = CliRunner().invoke(main, ["layers", str(path)])
    assert res.exit_code == 0 and "onnx::Conv_6" in res.output and "\u200b" not in res.output
    x = np.random.default_rng(0).standard_normal((2, 1, 16, 16)).astype(np.float32)
    assert [lay.name for lay in analyze(path, x, layers="onnx::Conv_6").layers] == ["onnx::Conv_6"]


# -- 1-D signals in 2-D convolutions; channels-last waveforms --------------------------------------
@pytest.fixture(scope="module")
def audio_batch():
    return np.random.default_rng(1).standard_normal((5, 64, 1)).astype(np.float32)


def test_conv1d_exports_are_analysed_as_1d_signals(audio_batch):
    model = MODELS / "keras_conv1d.onnx"
    prof = analyze(model, audio_batch, units="input")
    assert prof.model["input"]["layout"] == "NLC" and prof.skipped_layers == []
    acts = ort_outputs(model, {"audio": audio_batch}, [lay.tensor for lay in prof.layers])
    for lay in prof.layers:
        a = acts[lay.tensor]
        unit = 2 if a.shape[2] == 1 else 3  # (N, C, 1, L) convs, (N, C, L, 1) the pooling
        signal = np.squeeze(a, axis=unit).astype(np.float64)
        ref = ref_bins(signal, 0.85, dims=1)
        np.testing.assert_array_equal(lay.stats.histogram, np.bincount(ref[ref >= 0], minlength=lay.stats.m + 1))
        assert lay.shape == [a.shape[1], signal.shape[-1]] and lay.stats.m == signal.shape[-1] // 2
        assert lay.stats.m_input == 64 // 2 and lay.spatial_map  # input units from the input's true length
    assert [row["side"] for row in prof.extra["baseline"]["table"]] == [64, 32]


def _wav(path: Path, samples: np.ndarray, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


def test_a_channels_last_waveform_model_takes_wav_files(tmp_path):
    for i in range(3):
        _wav(tmp_path / f"c{i}.wav", np.sin(np.arange(64) * (0.2 + 0.1 * i)))
    prof = analyze(MODELS / "keras_conv1d.onnx", tmp_path, units="input")
    assert prof.analyzed == 3 and prof.layers[0].stats.m_input == 32
    with pytest.raises(UsageError, match="^layout='NCHW' does not fit input 'audio' of rank 3"):
        analyze(MODELS / "keras_conv1d.onnx", tmp_path, layout="NCHW")


def test_a_wav_refusal_names_the_layout_that_fixes_it(tmp_path):
    """A channels-last model forced to NCL reads a mono WAV as the wrong number of channels: the
    refusal says --layout NLC fixes it."""
    _wav(tmp_path / "a.wav", np.sin(np.arange(64) * 0.3))
    res = CliRunner().invoke(main, ["analyze", str(MODELS / "keras_conv1d.onnx"), str(tmp_path / "a.wav"),
                                    "--layout", "NCL", "--strict"])
    assert res.exit_code == 2 and "--layout NLC" in res.output


def test_a_1xw_map_of_an_image_model_uses_the_width_of_the_input(tmp_path):
    """OCR recognisers end in 1 x W maps: a 1-D signal whose input unit is W_in // 2, not a map."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3, 8, 1)).astype(np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["strip"], name="strip")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 48])],
                              [helper.make_tensor_value_info("strip", TensorProto.FLOAT, None)], [w])
    path = tmp_path / "ocr.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    x = np.random.default_rng(1).standard_normal((3, 3, 8, 48)).astype(np.float32)
    lay = analyze(path, x).layer("strip")
    assert lay.shape == [4, 48] and lay.stats.m == 24 and lay.stats.m_input == 48 // 2
    assert lay.spatial_map is False and lay.baseline is None


# -- twins of quantized models --------------------------------------------------------------------
@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    """The shipped example quantized by onnxruntime: QDQ (static, per channel) and ConvInteger (dynamic)."""
    pytest.importorskip("onnxruntime.quantization")
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)

    d = tmp_path_factory.mktemp("quantized")

    class Reader(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.rows = iter([{"image": rng.standard_normal((1, 3, 64, 64)).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.rows, None)

    # without the example's value_info: ONNX Runtime 1.23's dynamic quantizer (the last for Python 3.10) adds shapes
    # that its own shape inference then finds at odds with it ("differ in dimension 0: (64) vs (4)")
    import onnx

    plain = onnx.load(str(EXAMPLE))
    del plain.graph.value_info[:]
    onnx.save(plain, str(d / "example.onnx"))
    quantize_static(str(d / "example.onnx"), str(d / "qdq.onnx"), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
    quantize_dynamic(str(d / "example.onnx"), str(d / "dynamic.onnx"), op_types_to_quantize=["Conv"],
                     weight_type=QuantType.QInt8)
    return {"qdq": d / "qdq.onnx", "dynamic": d / "dynamic.onnx"}


def _arrays(model):
    import onnx
    from onnx import numpy_helper

    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(model)).graph.initializer}


@pytest.mark.parametrize("kind, op", [("qdq", "DequantizeLinear"), ("dynamic", "ConvInteger")])
def test_the_twin_of_a_quantized_model_changes_its_integer_weights(quantized, kind, op):
    import onnx

    from srop_onnx.model.twin import randomize

    proto = onnx.load(str(quantized[kind]))
    assert op in {n.op_type for n in proto.graph.node}
    twin, report = randomize(proto, seed=0)
    before = _arrays(quantized[kind])
    after = {t.name: onnx.numpy_helper.to_array(t) for t in twin.graph.initializer}
    ints = [k for k, v in before.items() if v.dtype == np.int8 and v.ndim == 4]
    assert len(ints) == 6  # the six convolutions' weights
    for k in ints:
        assert after[k].dtype == np.int8 and not np.array_equal(after[k], before[k])
        assert after[k].min() >= -128 and after[k].max() <= 127
    for k, v in before.items():  # scales and zero points are kept
        if k.endswith(("_scale", "_zero_point")) and v.size and k.split("_")[0] != "image":
            np.testing.assert_array_equal(after[k], v, err_msg=k)
    assert (report.layers, report.changed, report.left) == (7, 7, [])  # six convs and the head


@pytest.mark.parametrize("kind", ["qdq", "dynamic"])
def test_vs_random_on_a_quantized_model_compares_with_a_real_twin(quantized, kind):
    import onnxruntime as ort

    try:
        ort.InferenceSession(str(quantized[kind]), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - ONNX Runtime 1.23 (the last for Python 3.10): no int8 ConvInteger
        if "NOT_IMPLEMENTED" not in str(exc):
            raise
        pytest.skip(f"ONNX Runtime {ort.__version__} cannot run this quantized model on the CPU: {exc}")
    trained, twin, verdict = analyze_vs_random(quantized[kind], EXAMPLE_IMAGES, seed=0)
    assert verdict["reinitialised"]["changed"] == verdict["reinitialised"]["layers"] == 7
    assert "the twin: 7 of 7 weight-bearing layer(s) re-initialised" in verdict["summary"]
    assert any(a.summary().mean != b.summary().mean for a, b in zip(trained.layers, twin.layers))


def _computed_weights(tmp_path, stored: bool) -> Path:
    """Convs whose weights are computed at run time (``w = Mul(c, 1)``), and optionally one stored."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "c"),
             numpy_helper.from_array(np.ones(1, np.float32), "one"),
             numpy_helper.from_array(rng.standard_normal((4, 4, 3, 3)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Mul", ["c", "one"], ["w1"], name="make_w1"),
             helper.make_node("Conv", ["x", "w1"], ["a"], name="conv_a", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w2" if stored else "w1b"], ["b"], name="conv_b", pads=[1, 1, 1, 1])]
    if not stored:
        nodes.insert(2, helper.make_node("Mul", ["w2", "one"], ["w1b"], name="make_w2"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                              [helper.make_tensor_value_info("b", TensorProto.FLOAT, None)], inits)
    path = tmp_path / f"computed_{stored}.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_a_twin_that_changes_nothing_is_refused_and_a_partial_one_says_so(tmp_path):
    x = np.random.default_rng(0).standard_normal((3, 3, 16, 16)).astype(np.float32)
    with pytest.raises(ModelError, match=r"would change none of the model's 2 weight-bearing layer\(s\) "
                                         r"\(its weight is computed at run time\)"):
        analyze_vs_random(_computed_weights(tmp_path, stored=False), x)
    res = CliRunner().invoke(main, ["randomize", str(_computed_weights(tmp_path, stored=False)), "-o",
                                    str(tmp_path / "t.onnx")])
    assert res.exit_code == 2 and "would change none" in res.output and not (tmp_path / "t.onnx").exists()
    notes: list[str] = []
    _, _, verdict = analyze_vs_random(_computed_weights(tmp_path, stored=True), x, notify=notes.append)
    assert "1 of 2 weight-bearing layer(s) re-initialised (1 left as they were: conv_a: its weight is computed " \
           "at run time)" in verdict["summary"]
    assert any("left as it was: conv_a" in n for n in notes)


# -- sweeps that mean the same everywhere ---------------------------------------------------------
def test_a_sweep_gives_identical_files_from_two_folders_and_two_spellings(tmp_path):
    outs = []
    for cwd, inputs in ((REPO, "models/images"), (tmp_path, str(EXAMPLE_IMAGES) + "/")):
        out = tmp_path / f"s{len(outs)}.json"
        cmd = [sys.executable, "-m", "srop_onnx", "sweep", str(EXAMPLE), inputs, "--noise", "gaussian", "--levels",
               "0,1", "--seed", "5", "-q", "-o", str(out)]
        subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    doc = json.loads(outs[0])
    assert doc["points"][0]["profile"]["inputs"]["sources"][0] == "cross_0.png"  # identities, not paths


def test_noise_depends_on_the_identity_key_and_the_whole_seed():
    from srop_onnx.run.sweeps import Noise

    a, b = Noise("gaussian", 0), Noise("gaussian", 2**32)
    assert not np.array_equal(a.unit((4,), "x.npy"), b.unit((4,), "x.npy"))  # no cut to 32 bits
    assert np.array_equal(a.unit((4,), "cats/1.png"), Noise("gaussian", 0).unit((4,), "cats/1.png"))
    assert not np.array_equal(a.unit((4,), "cats/1.png"), a.unit((4,), "dogs/1.png"))
    with pytest.raises(UsageError, match="^seed must be a whole number >= 0"):
        Noise("gaussian", -1)


def _softmax_model(tmp_path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((5, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c"], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("Softmax", ["f"], ["prob"], axis=1), helper.make_node("Identity", ["f"], ["boxes"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, None),
                               helper.make_tensor_value_info("boxes", TensorProto.FLOAT, None)], [w])
    path = tmp_path / "softmax.onnx"
    onnx.save(make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_the_output_change_shows_agreement_only_for_probabilities(tmp_path):
    model = _softmax_model(tmp_path)
    x = np.random.default_rng(2).standard_normal((6, 3, 16, 16)).astype(np.float32)
    prob = sweep(model, x, levels="0,1", noise="gaussian", output="prob")
    assert prob.points[1].change.shown == "top1_agreement" and prob.points[0].change.value == 1.0
    boxes = sweep(model, x, levels="0,1", noise="gaussian", output="boxes")  # rank 2, not a probability
    change = boxes.points[1].change
    assert change.shown == "relative_change" and change.top1 is not None  # both recorded, one shown
    asked = sweep(model, x, levels="0,1", noise="gaussian", output="boxes", change="top1")
    assert asked.points[1].change.shown == "top1_agreement"
    assert "relative output change vs w=0" in boxes.to_dict()["verdict"]["summary"]


# -- pairing in CI --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def renamed(tmp_path_factory):
    """The same profile twice, the second with other layer names (as another exporter would give)."""
    d = tmp_path_factory.mktemp("pairing")
    a = analyze(EXAMPLE, EXAMPLE_IMAGES)
    a.to_json(d / "a.json")
    doc = json.loads((d / "a.json").read_text())
    for i, lay in enumerate(doc["layers"]):
        lay["name"], lay["tensor"] = f"other_{i}", f"t{i}"
    (d / "b.json").write_text(json.dumps(doc))
    return d


def test_check_refuses_a_positional_pairing_unless_asked(renamed):
    from srop_onnx import Profile

    a, b = Profile.load(renamed / "a.json"), Profile.load(renamed / "b.json")
    with pytest.raises(UsageError, match=r"8 layer\(s\) of .*a.json pair with .*b.json only by position .*"
                                         r"stem.0 ~ other_0.*rerun with match='position'$"):
        check(a, b)
    assert check(a, b, match="position").passed
    res = CliRunner().invoke(main, ["check", str(renamed / "a.json"), "--against", str(renamed / "b.json")])
    assert res.exit_code == 2 and "--match position" in res.output
    res = CliRunner().invoke(main, ["check", str(renamed / "a.json"), "--against", str(renamed / "b.json"),
                                    "--match", "position"])
    assert res.exit_code == 0 and "paired by position: stem.0 ~ golden other_0" in res.output
    res = CliRunner().invoke(main, ["compare", str(renamed / "a.json"), str(renamed / "b.json")])
    assert res.exit_code == 0 and "paired by position only (names differ): stem.0 ~ other_0" in res.output
    assert compare(a, b).positional and not compare(a, b, match="name").pairs
