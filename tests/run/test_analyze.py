"""analyze() end to end: every layer's histogram against the literal reference
applied to activations from ONNX Runtime run directly on the same inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import EXAMPLE, EXAMPLE_IMAGES, assert_matches_reference, ort_outputs, sha256
from reference import ref_bins
from srop_onnx import InputDataError, ModelError, Profile, UsageError, analyze


def _imagenet_preprocess(path, size=64, crop=0.875):
    """Independent re-statement of the imagenet preset: shorter side to size/crop, centre crop."""
    im = Image.open(path).convert("RGB")
    w, h = im.size
    short = round(size / crop)
    nw, nh = (short, round(h * short / w)) if w <= h else (round(w * short / h), short)
    im = im.resize((nw, nh), Image.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    arr = np.asarray(im.crop((left, top, left + size, top + size)), dtype=np.float32) / 255
    arr = (arr - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    return arr.transpose(2, 0, 1)


@pytest.fixture(scope="module")
def example_profile():
    return analyze(EXAMPLE, EXAMPLE_IMAGES, batch_size=3, keep_bins=True)


def test_shipped_model_images_match_reference(example_profile):
    files = sorted(EXAMPLE_IMAGES.glob("*.png"))
    batch = np.stack([_imagenet_preprocess(f) for f in files])
    assert example_profile.analyzed == len(files) == 8
    assert [lay.op for lay in example_profile.layers].count("MaxPool") == 2
    assert_matches_reference(example_profile, EXAMPLE, batch, "image")


def test_crop_one_feeds_the_whole_image_and_is_recorded(tmp_path, rng):
    """--crop 1 (detection, OCR): the shorter side is resized to the model's, nothing is cut; a
    wide image keeps its centre's full height. The profile records the crop."""
    files = sorted(EXAMPLE_IMAGES.glob("*.png"))[:3]
    wide = tmp_path / "wide.png"
    Image.fromarray(rng.integers(0, 255, (40, 90, 3), dtype=np.uint8)).save(wide)
    files.append(wide)
    prof = analyze(EXAMPLE, files, crop=1.0)
    assert prof.settings["preprocess"]["crop"] == 1.0
    batch = np.stack([_imagenet_preprocess(f, crop=1.0) for f in files])
    assert_matches_reference(prof, EXAMPLE, batch, "image")
    assert analyze(EXAMPLE, files).to_dict()["layers"] != prof.to_dict()["layers"]  # the default crops
    with pytest.raises(UsageError, match=r"^crop must be in \(0, 1\] \(1: the whole image, no crop\), got 1.5"):
        analyze(EXAMPLE, files, crop=1.5)


def test_shipped_model_npy_inputs_match_reference(tmp_path, rng):
    batch = rng.standard_normal((5, 3, 64, 64)).astype(np.float32)
    np.save(tmp_path / "a.npy", batch[:2])  # a batch file
    for i in range(2, 5):
        np.save(tmp_path / f"b{i}.npy", batch[i])  # single samples
    prof = analyze(EXAMPLE, tmp_path, batch_size=4)
    assert prof.analyzed == 5 and prof.settings["preprocess"] is None
    assert_matches_reference(prof, EXAMPLE, batch, "image")


def test_batch_size_does_not_change_results(example_profile):
    other = analyze(EXAMPLE, EXAMPLE_IMAGES, batch_size=1)
    for a, b in zip(example_profile.layers, other.layers):
        assert a.stats == b.stats


def test_per_map_bins_and_stats_agree(example_profile):
    for lay in example_profile.layers:
        assert lay.bins.shape == (8, lay.shape[0])
        live = lay.bins[lay.bins >= 0]
        np.testing.assert_array_equal(np.bincount(live, minlength=lay.stats.m + 1), lay.stats.histogram)


def test_api_array_input_and_units(example_profile):
    batch = np.stack([_imagenet_preprocess(f) for f in sorted(EXAMPLE_IMAGES.glob("*.png"))])
    prof = analyze(EXAMPLE, batch, units="input")
    for a, b in zip(prof.layers, example_profile.layers):
        assert a.stats == b.stats
        assert a.summary("input").mean == pytest.approx(b.stats.summary("band").mean * b.stats.m / b.stats.m_input)
    assert prof.to_dict()["settings"]["units"] == "input"


def test_nhwc_and_nchw_give_identical_layers(fixtures, rng):
    x = rng.standard_normal((4, 3, 16, 16)).astype(np.float32)
    a = analyze(fixtures["nchw"], x)
    b = analyze(fixtures["nhwc"], np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
    assert b.model["input"]["layout"] == "NHWC"
    assert [lay.stats for lay in a.layers] == [lay.stats for lay in b.layers]
    # the baseline's pooling chain runs on the channels-first view of the NHWC input
    assert a.extra["baseline"]["chain"] == b.extra["baseline"]["chain"]
    assert [c["side"] for c in a.extra["baseline"]["chain"]] == [16, 8]


def test_all_analyses_nhwc_tensor_in_its_true_layout(fixtures, rng):
    x = rng.standard_normal((3, 16, 16, 3)).astype(np.float32)
    prof = analyze(fixtures["nhwc"], x, all_tensors=True)
    by_tensor = {lay.tensor: lay for lay in prof.layers}
    # r1_nhwc_relu is relu(transpose(r1)): the same 4 maps of 16x16, stored channels-last
    assert by_tensor["r1_nhwc_relu"].shape == [4, 16, 16]
    assert by_tensor["r1_nhwc_relu"].stats == by_tensor["r1"].stats


def test_conv1d_model_uses_1d_spectra(fixtures, rng):
    x = rng.standard_normal((6, 2, 64)).astype(np.float32).cumsum(axis=-1)
    prof = analyze(fixtures["conv1d"], x, batch_size=4)
    assert prof.model["input"]["layout"] == "NCL"
    assert [lay.shape for lay in prof.layers] == [[8, 64], [8, 32], [4, 32]]
    assert prof.layers[0].stats.m_input == 32
    assert_matches_reference(prof, fixtures["conv1d"], x, "x", dims=1)
    # 1-D baseline: pooling by 2 down to L = 4, each level against the literal reference
    from reference import ref_bins, ref_max_pool2

    level = x.astype(np.float64)
    for c in prof.extra["baseline"]["chain"]:
        ref = ref_bins(level, dims=1)
        assert c["side"] == level.shape[-1] and c["m"] == level.shape[-1] // 2
        np.testing.assert_array_equal(c["histogram"], np.bincount(ref[ref >= 0], minlength=c["m"] + 1))
        level = ref_max_pool2(level, dims=1)
    assert [c["side"] for c in prof.extra["baseline"]["chain"]] == [64, 32, 16, 8, 4]


def test_unnamed_model_with_dynamic_spatial_dims(fixtures, rng, tmp_path):
    x = rng.standard_normal((2, 3, 24, 24)).astype(np.float32)
    prof = analyze(fixtures["unnamed"], x)
    assert [lay.name for lay in prof.layers] == ["conv2d_450.tmp_0", "pool2d_3.tmp_0", "conv2d_451.tmp_0"]
    assert prof.layers[0].shape == [4, 24, 24]
    img = tmp_path / "im.png"
    Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(img)
    with pytest.raises(UsageError, match=r"dynamic spatial dims; pass size=\(H, W\) to feed images \(\S+im\.png is "
                                         r"40x30: size=\(40, 30\) feeds images at that size, crop=1.0 without "
                                         r"cutting their borders\)"):
        analyze(fixtures["unnamed"], img)
    from click.testing import CliRunner

    from srop_onnx.cli import main

    res = CliRunner().invoke(main, ["analyze", str(fixtures["unnamed"]), str(img)])
    assert res.exit_code == 2 and ("pass --size HxW to feed images (" in res.output
                                   and "is 40x30: --size 40x30 feeds images at that size, --crop 1 without" in res.output)
    prof = analyze(fixtures["unnamed"], img, size=(20, 28))
    assert prof.layers[0].shape == [4, 20, 28]


def test_an_input_of_fixed_height_and_free_width_says_which_size_to_pass(fixtures, rng, tmp_path):
    """An OCR model's (1, 1, 64, W): the refusal says the height the model fixes."""
    import onnx

    model = onnx.load(str(fixtures["unnamed"]))
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 64
    onnx.save(model, str(tmp_path / "ocr.onnx"))
    img = tmp_path / "line.png"
    Image.fromarray(rng.integers(0, 255, (40, 300, 3), dtype=np.uint8)).save(img)
    with pytest.raises(UsageError, match=r"pass size=\(H, W\) to feed images \(its height is 64: size=\(64, W\), "
                                         r"e\.g\. size=\(64, 256\)\)"):
        analyze(tmp_path / "ocr.onnx", img)
    assert analyze(tmp_path / "ocr.onnx", img, size=(64, 256)).layers[0].shape == [4, 64, 256]


def test_fixed_batch_model_is_looped(fixtures, rng):
    x = rng.standard_normal((5, 3, 16, 16)).astype(np.float32)
    a = analyze(fixtures["fixed_batch"], x, batch_size=4)
    b = analyze(fixtures["nchw"], x, batch_size=4)
    assert [lay.stats for lay in a.layers] == [lay.stats for lay in b.layers]


def test_nonfinite_maps_are_counted_not_fatal(fixtures, rng):
    x = np.abs(rng.standard_normal((3, 3, 16, 16))).astype(np.float32) + 0.1
    x[1, 0, 2, 2] = -1.0  # log(-1) = NaN propagates through the first conv
    prof = analyze(fixtures["nan"], x)
    first = prof.layers[0]
    assert first.stats.nonfinite == 4 and first.stats.count == 8
    assert np.isnan(first.stats.per_sample_mean()[1]) and np.isfinite(first.stats.per_sample_mean()[0])


def test_quantized_output_is_dequantized(fixtures, rng):
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    prof = analyze(fixtures["qlinear"], x)
    lay = prof.layers[0]
    raw = ort_outputs(fixtures["qlinear"], {"x": x}, ["yq"])["yq"]
    ref = ref_bins((raw.astype(np.float64) - 100) * 0.05)
    np.testing.assert_array_equal(lay.stats.histogram, np.bincount(ref[ref >= 0], minlength=lay.stats.m + 1))


def test_rank5_layer_is_skipped_with_reason(fixtures, rng):
    prof = analyze(fixtures["conv3d"], rng.standard_normal((2, 1, 16, 16)).astype(np.float32))
    assert [lay.tensor for lay in prof.layers] == ["c2"]
    assert any("rank 5" in s["reason"] for s in prof.skipped_layers)


def test_too_small_layers_are_skipped(fixtures, rng):
    prof = analyze(fixtures["unnamed"], rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    assert [lay.tensor for lay in prof.layers] == ["conv2d_450.tmp_0"]
    assert {s["tensor"]: s["reason"] for s in prof.skipped_layers} == {
        "pool2d_3.tmp_0": "too small for a spectrum (4x4 per channel)",  # 8x8 input, pooled 2x2
        "conv2d_451.tmp_0": "too small for a spectrum (4x4 per channel)"}
    with pytest.raises(InputDataError, match=r"inputs array: array of shape \(2, 3, 8, 8\) does not fit input 'x'"):
        analyze(fixtures["nchw"], rng.standard_normal((2, 3, 8, 8)).astype(np.float32))


def test_when_no_layer_is_large_enough_the_error_names_each_with_its_size(fixtures, rng):
    said = (r"no tapped layer could be analysed \(conv2d_450\.tmp_0: too small for a spectrum \(3x3 per channel\); "
            r"pool2d_3\.tmp_0: .*\(1x1 per channel\)")
    with pytest.raises(ModelError, match=said):
        analyze(fixtures["unnamed"], rng.standard_normal((2, 3, 3, 3)).astype(np.float32))


def test_external_data_model_runs_and_is_untouched(fixtures, rng):
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    before = {p.name: sha256(p) for p in fixtures["external"].parent.iterdir()}
    prof = analyze(fixtures["external"], x)
    ref = analyze(fixtures["nchw"], x)
    assert [lay.stats for lay in prof.layers] == [lay.stats for lay in ref.layers]
    assert {p.name: sha256(p) for p in fixtures["external"].parent.iterdir()} == before


def test_external_data_outside_model_folder_is_refused(fixtures, tmp_path):
    import onnx

    m = onnx.load(str(fixtures["external"]), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../../etc/passwd"
    bad = tmp_path / "escape.onnx"
    onnx.save(m, str(bad))
    with pytest.raises(ModelError, match="outside the model's folder"):
        analyze(bad, np.zeros((1, 3, 16, 16), np.float32))


def test_json_round_trip_and_spec10_fields(example_profile, tmp_path):
    path = tmp_path / "p.json"
    example_profile.to_json(path)
    d = json.loads(path.read_text())
    assert d["format"] == "srop-onnx-profile" and d["version"] == 1
    assert d["inputs"]["analyzed"] == 8 and d["model"]["sha256"] == sha256(EXAMPLE)
    lay = d["layers"][0]
    for key in ("index", "name", "tensor", "node", "op", "shape", "m", "m_input", "histogram", "count", "dead",
                "nonfinite", "mean", "std", "median", "q1", "q3", "min", "max", "per_sample_mean", "kernel_sum",
                "kernel_count", "baseline"):
        assert key in lay, key
    assert lay["count"] == sum(lay["histogram"])
    back = Profile.load(path)
    assert [a.stats for a in back.layers] == [b.stats for b in example_profile.layers]
    assert back.to_dict() == example_profile.to_dict()


def test_csv_has_one_row_per_layer(example_profile, tmp_path):
    text = example_profile.to_csv(tmp_path / "p.csv")
    rows = text.strip().splitlines()
    assert len(rows) == 1 + len(example_profile.layers)
    assert rows[0].startswith("index,name,op")
    assert (tmp_path / "p.csv").read_text() == text


def test_corrupt_image_in_folder_is_skipped(tmp_path):
    import shutil

    for f in sorted(EXAMPLE_IMAGES.glob("*.png"))[:3]:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    prof = analyze(EXAMPLE, tmp_path)
    assert prof.analyzed == 3
    assert [s["path"] for s in prof.skipped_inputs] == [str(tmp_path / "broken.png")]
    with pytest.raises(InputDataError, match="broken.png: cannot read image"):
        analyze(EXAMPLE, tmp_path, strict=True)


def test_image_modes_are_converted(tmp_path, rng):
    rgb = rng.integers(0, 255, (70, 90, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert("L").save(tmp_path / "gray.png")
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "pal.gif")
    Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)).save(tmp_path / "deep.tif")
    Image.fromarray(rgb).save(tmp_path / "photo.jpg")
    prof = analyze(EXAMPLE, tmp_path)
    assert prof.analyzed == 5 and not prof.skipped_inputs


def test_exif_orientation_is_applied(tmp_path, rng):
    arr = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    upright = Image.fromarray(arr)
    upright.save(tmp_path / "a.png")
    rotated = upright.transpose(Image.Transpose.ROTATE_90)  # stored sideways ...
    exif = rotated.getexif()
    exif[0x0112] = 8  # ... with "rotate 90 CW to view" (orientation 8 undoes ROTATE_90)
    rotated.save(tmp_path / "b.jpg", exif=exif, quality=100)
    upright.save(tmp_path / "c.jpg", quality=100)
    p_b = analyze(EXAMPLE, tmp_path / "b.jpg", keep_bins=True)
    p_c = analyze(EXAMPLE, tmp_path / "c.jpg", keep_bins=True)
    diff = np.abs(p_b.layers[0].bins.astype(int) - p_c.layers[0].bins.astype(int))
    assert diff.max() <= 1  # same picture up to JPEG rounding


def test_limit_and_streaming_memory_shape(rng):
    x = rng.standard_normal((7, 3, 64, 64)).astype(np.float32)
    prof = analyze(EXAMPLE, x, limit=5, batch_size=2)
    assert prof.analyzed == 5 and all(lay.stats.samples == 5 for lay in prof.layers)
    assert all(lay.bins is None for lay in prof.layers)  # nothing per-map kept unless asked


def test_external_weights_never_enter_the_graph_proto(fixtures, rng, monkeypatch):
    """Why models over 2 GB work: their weights stay in the data files and ORT reads them from
    the model's folder, so only the graph is serialized. Lower the 2 GB protobuf limit below the
    weights' size: a model with inline weights is refused, the external-data one still runs."""
    import srop_onnx.model.modelio as mio

    weights = (fixtures["external"].parent / "model.weights").stat().st_size
    graph_only = fixtures["external"].stat().st_size
    assert graph_only < weights
    monkeypatch.setattr(mio, "_PROTO_LIMIT", (graph_only + weights) // 2 + graph_only)
    x = rng.standard_normal((1, 3, 16, 16)).astype(np.float32)
    assert analyze(fixtures["external"], x).layers
    with pytest.raises(ModelError, match="over 2 GB without external data"):
        analyze(fixtures["nchw"], x)
