"""Exports from the wild (issue 15): readable names on every exporter, raw waveforms and extra
inputs, layers inside control flow, non-spatial tensors, the dense-layer twin.

The committed real exports come from tests/models/make_wild_models.py (PyTorch dynamo and legacy,
Keras 2 through tf2onnx, TFLite through tf2onnx, paddle2onnx 1.x and 2.x, a waveform model) and
tests/models/make_framework_models.py (Keras 3 through tf2onnx, PyTorch legacy, paddle2onnx 2.x);
the If and detector-head patterns are built by tests/models/make_models.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import assert_matches_reference
from srop_onnx import ModelError, UsageError, analyze
from srop_onnx.cli import main
from srop_onnx.results.comparison import compare
from srop_onnx.model.naming import is_generic_name
from srop_onnx.run.stages import load_stage, plan_model
from srop_onnx.config.settings import Measurement

MODELS = Path(__file__).resolve().parents[1] / "models"

EXPECTED = {
    "torch_dynamo_resnet": ["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer2.0.downsample.0", "layer2.0.conv1",
                            "layer2.0.conv2"],
    "torch_legacy_resnet": ["conv1", "layer1.0.conv1", "layer1.0.conv2", "layer2.0.downsample.0", "layer2.0.conv1",
                            "layer2.0.conv2"],
    "torch_legacy": ["stem.0", "stem.2", "layer1.0.conv1", "layer1.0.conv2", "layer1.1.conv1", "layer1.1.conv2"],
    "keras_small": ["conv_a", "pool_a", "conv_b"],  # Keras 3: scopes conv_a_1 ... lose the uniquifier
    "keras2_auto": ["conv2d", "conv2d_1", "max_pooling2d", "conv2d_2"],  # Keras 2: the _N is the layer's own
    "tflite_small": ["conv2d", "dw", "project"],
    "paddle_small": ["conv2d_0", "pool2d_0", "conv2d_1"],
    "paddle2_small": ["conv2d_0", "conv2d_1", "pool2d_0", "conv2d_2"],
    "paddle1_small": ["conv1", "dw", "pool2d_0", "conv2"],
    "audio_vad": ["stft.0", "encoder.0", "encoder.2"],
}


def _names(model: Path) -> list[str]:
    return [t.name for t in plan_model(load_stage(model), Measurement()).taps]


@pytest.mark.parametrize("model", sorted(EXPECTED))
def test_every_exporter_gives_readable_names(model):
    names = _names(MODELS / f"{model}.onnx")
    assert names == EXPECTED[model]
    for name in names:  # never generic, raw or a collision counter where the graph holds a real name
        assert not is_generic_name(name, "Conv") and not is_generic_name(name, "MaxPool"), name
        assert "#" not in name and ";" not in name and "/" not in name and len(name) < 40, name


def _input_for(model: Path, rng, n=3):
    spec = plan_model(load_stage(model), Measurement()).spec
    shape = [d or 32 for d in spec.shape[1:]]
    return rng.standard_normal((n, *shape)).astype(np.float32), spec.name


@pytest.mark.parametrize("model", ["torch_dynamo_resnet", "keras2_auto", "tflite_small", "paddle1_small",
                                   "paddle2_small"])
def test_real_exports_match_the_reference(model, rng):
    path = MODELS / f"{model}.onnx"
    x, name = _input_for(path, rng, n=1 if model == "tflite_small" else 3)
    prof = analyze(path, x)
    assert [lay.name for lay in prof.layers] == EXPECTED[model]
    assert_matches_reference(prof, path, x, name)


def test_dynamo_and_legacy_exports_of_one_model_match_by_name(rng):
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    dynamo = analyze(MODELS / "torch_dynamo_resnet.onnx", x)
    legacy = analyze(MODELS / "torch_legacy_resnet.onnx", x)
    comp = compare(dynamo, legacy)
    assert {p.matched_by for p in comp.pairs} == {"name"} and not comp.warnings
    assert not comp.only_a and not comp.only_b
    for p in comp.pairs:  # the same network: the same maps up to float rounding of the fused BN
        assert abs(p.a.summary().mean - p.b.summary().mean) < 0.02, p.a.name


# -- raw waveforms and extra inputs -------------------------------------------------------------
def _wav(path: Path, rate: int, seconds: float = 0.064, channels: int = 1, seed: int = 0) -> Path:
    from scipy.io import wavfile

    n = int(rate * seconds)
    t = np.arange(n) / rate
    sig = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * np.random.default_rng(seed).standard_normal(n)
    data = (np.stack([sig] * channels, axis=1) if channels > 1 else sig) * 32767
    wavfile.write(path, rate, data.astype(np.int16))
    return path


def _vad_npz(path: Path, rng, rows=3, with_sr=True, with_state=True) -> Path:
    arrays = {"input": rng.standard_normal((rows, 1024)).astype(np.float32)}
    if with_sr:
        arrays["sr"] = np.array(16000, np.int64)
    if with_state:
        arrays["state"] = np.zeros((2, 1, 16), np.float32)
    np.savez(path, **arrays)
    return path


def test_a_waveform_model_is_listed_and_fed_from_named_npz_arrays(tmp_path, rng):
    model = MODELS / "audio_vad.onnx"
    res = CliRunner().invoke(main, ["layers", str(model)])
    assert res.exit_code == 0 and "stft.0" in res.output, res.output
    notes: list[str] = []
    prof = analyze(model, _vad_npz(tmp_path / "a.npz", rng), batch_size=1, notify=notes.append)
    assert prof.model["input"]["layout"] == "NL" and prof.analyzed == 3
    assert [lay.shape[0] for lay in prof.layers] == [16, 16, 16] and all(len(lay.shape) == 2 for lay in prof.layers)
    assert prof.extra["baseline"]["chain"][0]["side"] == 1024  # the waveform's own pooling chain (1-D)
    assert not any("zeros" in n for n in notes)


def test_missing_extra_inputs_float_state_zeros_with_a_note_int_rate_an_error(tmp_path, rng):
    model = MODELS / "audio_vad.onnx"
    with pytest.raises(UsageError, match=r"model input 'sr' \(tensor\(int64\).*needs data: give it in an \.npz"):
        analyze(model, _vad_npz(tmp_path / "no_sr.npz", rng, with_sr=False), batch_size=1)
    notes: list[str] = []
    prof = analyze(model, _vad_npz(tmp_path / "no_state.npz", rng, with_state=False), batch_size=2,
                   notify=notes.append)  # the state (2, N, 16) takes the run's batch
    assert prof.analyzed == 3
    assert [n for n in notes if "zeros" in n] == ["note: model input 'state' has no data; feeding zeros of shape "
                                                  "(2, 'N', 16)"]


def test_wav_files_feed_a_waveform_model_and_another_rate_is_a_clear_error(tmp_path):
    model = MODELS / "audio_vad.onnx"
    folder = tmp_path / "wav"
    folder.mkdir()
    for i in range(3):
        _wav(folder / f"{i}.wav", 16000, seed=i)
    _wav(folder / "z_8k.wav", 8000)
    sr = tmp_path / "sr.npz"
    np.savez(sr, sr=np.array(16000, np.int64), state=np.zeros((2, 1, 16), np.float32))
    res = CliRunner().invoke(main, ["analyze", str(model), str(folder), "--size", "1024", "-b", "1", "-q",
                                    "--json", str(tmp_path / "p.json")])
    # WAV files carry no 'sr' array: the int64 input is an error naming it, never a silent zero
    assert res.exit_code == 2 and "model input 'sr' (tensor(int64)" in res.output
    prof = analyze(_vad_model_with_defaults(tmp_path), folder, size=(1024, 1024), batch_size=1, sample_rate=16000)
    assert prof.analyzed == 3 and prof.settings["preprocess"] == {"audio": True, "sample_rate": 16000,
                                                                   "length": 1024}
    assert len(prof.skipped_inputs) == 1
    assert "recorded at 8000 Hz, the run's rate is 16000 Hz" in prof.skipped_inputs[0]["reason"]


def _vad_model_with_defaults(tmp_path: Path) -> Path:
    """The waveform model with its state and rate as initializers (a model that takes audio alone)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(MODELS / "audio_vad.onnx"))
    keep = [i for i in m.graph.input if i.name == "input"]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    m.graph.initializer.extend([numpy_helper.from_array(np.zeros((2, 1, 16), np.float32), "state"),
                                numpy_helper.from_array(np.array(16000, np.int64), "sr")])
    path = tmp_path / "vad_alone.onnx"
    onnx.save(m, str(path))
    return path


def test_wav_channels_and_lengths(tmp_path):
    from srop_onnx.inputs.audio import AudioPrep, audio_to_input
    from srop_onnx.inputs.inputspec import InputSpec

    spec = InputSpec("input", (None, None), "float32", "NL")
    stereo = np.stack([np.ones(10), -np.ones(10)], axis=1) * 0.5
    out = audio_to_input(16000, stereo, spec, AudioPrep(16000, 16), "s.wav")
    assert out.shape == (16,) and np.all(out[:10] == 0) and np.all(out[10:] == 0)  # channels averaged, padded
    long = np.arange(40, dtype=np.float64) / 40
    assert np.array_equal(audio_to_input(16000, long, spec, AudioPrep(16000, 8), "l.wav"), long[:8].astype(np.float32))
    spec3 = InputSpec("x", (None, 2, None), "float32", "NCL")
    assert audio_to_input(16000, stereo, spec3, AudioPrep(None, None), "s.wav").shape == (2, 10)


# -- control flow -------------------------------------------------------------------------------
def test_an_if_with_a_constant_condition_is_tapped_and_matches_the_branch(fixtures, rng):
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    notes: list[str] = []
    prof = analyze(fixtures["if_constant"], x, notify=notes.append)
    assert [lay.name for lay in prof.layers] == ["then", "pool"]
    assert any("constant condition (True): its then branch is tapped" in n for n in notes)
    # the tapped conv is the then-branch's own output (the reference runs the original If model)
    from conftest import ort_outputs
    from reference import ref_bins

    out = ort_outputs(fixtures["if_constant"], {"x": x}, ["p"])["p"]
    pool = prof.layer("pool")
    ref = ref_bins(out.astype(np.float64), 0.85)
    assert np.array_equal(pool.stats.histogram, np.bincount(ref[ref >= 0], minlength=pool.stats.m + 1))


@pytest.mark.parametrize("rate, branch", [(16000, "then"), (8000, "else")])
def test_an_if_on_an_input_fed_whole_is_tapped_as_the_branch_that_runs(tmp_path, rng, rate, branch):
    """Silero VAD branches on its sample rate ``sr``, a scalar input: an .npz that feeds it whole
    with every run fixes the branch, which is tapped and matches the reference."""
    import onnx
    from make_models import if_model

    from conftest import ort_outputs
    from reference import ref_bins

    path = tmp_path / "vad.onnx"
    onnx.save(if_model("rate"), str(path))
    x = rng.standard_normal((3, 3, 16, 16)).astype(np.float32)
    np.savez(tmp_path / "a.npz", x=x, sr=np.array(rate))
    notes: list[str] = []
    prof = analyze(path, tmp_path / "a.npz", notify=notes.append)
    assert [lay.name for lay in prof.layers] == [branch, "pool"]
    assert any(f"If 'branchy' has a condition fixed by sr = {rate} of a.npz ({rate == 16000}): its {branch} branch"
               in n for n in notes), notes
    out = ort_outputs(path, {"x": x, "sr": np.array(rate)}, ["p"])["p"]
    ref = ref_bins(out.astype(np.float64), 0.85)
    pool = prof.layer("pool")
    assert np.array_equal(pool.stats.histogram, np.bincount(ref[ref >= 0], minlength=pool.stats.m + 1))
    with pytest.raises(UsageError, match=r"model input 'sr' .* needs data: give it in an \.npz"):
        analyze(path, x)  # an array feeds no sr: the model cannot run
    res = CliRunner().invoke(main, ["layers", str(path)], env={"COLUMNS": "300"})
    assert res.exit_code == 0 and "an .npz that feeds sr fixes the branch, and analyze then taps it" in res.output


def test_layers_inside_a_runtime_if_are_listed_with_why(fixtures):
    res = CliRunner().invoke(main, ["layers", str(fixtures["if_runtime"])])
    assert res.exit_code == 0
    # named as analyze names it once the branch is known (the node is then/conv)
    assert re.search(r"skipped then \(Conv\): inside the then_branch of If 'branchy'", res.output)
    assert "an .npz that feeds" not in res.output  # its condition is computed from the image itself
    with pytest.raises(ModelError, match=r"2 such layer\(s\) live inside If/Loop/Scan subgraphs"):
        analyze(fixtures["if_runtime"], np.zeros((1, 3, 16, 16), np.float32), ops=["Conv"])


# -- reports: only spatial maps in the per-resolution summary -------------------------------------
def test_a_detector_box_tensor_is_marked_and_kept_out_of_table_2(fixtures, rng, tmp_path):
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    prof = analyze(fixtures["detector"], x, ops=["Conv", "Slice"])
    boxes = prof.layer("boxes")
    assert boxes.shape == [4, 2100] and boxes.spatial_map is False and boxes.baseline is None
    assert all(lay.spatial_map for lay in prof.layers if lay.tensor != "boxes")
    assert [row["side"] for row in prof.extra["baseline"]["table"]] == [16]
    np.save(tmp_path / "x.npy", x)
    res = CliRunner().invoke(main, ["analyze", str(fixtures["detector"]), str(tmp_path / "x.npy"), "--ops",
                                    "Conv,Slice", "--json", str(tmp_path / "p.json")])
    assert res.exit_code == 0 and "(not spatial)" in res.output and "preprocess: none" in res.output
    from srop_onnx import Profile

    assert Profile.load(tmp_path / "p.json").layer("boxes").spatial_map is False


def test_layers_lists_subgraph_layers_even_when_nothing_can_be_tapped(fixtures):
    res = CliRunner().invoke(main, ["layers", str(fixtures["if_runtime"]), "--ops", "Conv"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert res.output.count("skipped ") == 2 and "inside the then_branch of If 'branchy'" in res.output
    assert res.output.strip().splitlines()[-1].startswith("error: model has no tappable layers")


@pytest.mark.parametrize("node_name, weight, output, expected", [
    ("Conv_2", "0.stft.conv_real.weight", "11", "0.stft.conv_real"),  # old PyTorch: module-named weights
    ("Conv@0", "conv1_weights", "conv2d_0.tmp_0", "conv1"),  # paddle2onnx 1.x
    ("p2o.Conv.3", "val_7", "depthwise_conv2d_0.tmp_0", "depthwise_conv2d_0"),  # paddle2onnx 1.x, output tensor
    ("Conv.0", "conv2d_0.w_0", "p2o.pd_op.conv2d.0.0", "conv2d_0"),  # paddle2onnx 2.x
    ("/layer2/layer2.0/downsample/downsample.0/Conv", "onnx::Conv_9", "y", "layer2.0.downsample.0"),
    ("model_1/re_lu_1/Relu;model_1/conv2d_1/convolution", None, "y", "conv2d"),  # TFLite ';'-joined
    ("", None, "conv2d_450.tmp_0", "conv2d_450.tmp_0"),  # unnamed (old Paddle): the output tensor
])
def test_spec5_name_rules_on_single_nodes(node_name, weight, output, expected):
    from onnx import helper

    from srop_onnx.model.naming import module_name

    node = helper.make_node("Conv", ["x", weight or "w"], [output], name=node_name)
    assert module_name(node, weight) == expected


def test_tf_suffixes_are_stripped_only_where_names_stay_distinct():
    from srop_onnx.model.naming import NameChoice, resolve_tf_suffixes

    keras3 = [NameChoice("conv_a", "conv_a_1"), NameChoice("conv_b", "conv_b_1")]
    assert resolve_tf_suffixes(keras3) == ["conv_a", "conv_b"]
    keras2 = [NameChoice("conv2d", "conv2d"), NameChoice("conv2d", "conv2d_1"), NameChoice("conv2d", "conv2d_2")]
    assert resolve_tf_suffixes(keras2) == ["conv2d", "conv2d_1", "conv2d_2"]
    only_numbered = [NameChoice("conv2d", "conv2d_1"), NameChoice("conv2d", "conv2d_2")]
    assert resolve_tf_suffixes(only_numbered) == ["conv2d_1", "conv2d_2"]
