"""Issue 28, point 6: the training example (examples/training/train_digits.py) runs end to end in a
short version: a Tracker in a PyTorch loop on scikit-learn's digits from step 0, the figures, and
the CASE I / CASE II experiment."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from conftest import REPO

pytest.importorskip("torch", reason="needs the test frameworks: pip install -e '.[frameworks]'")
pytest.importorskip("sklearn", reason="needs the test frameworks: pip install -e '.[frameworks]'")


def _example():
    spec = importlib.util.spec_from_file_location("train_digits", REPO / "examples" / "training" / "train_digits.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_training_loop_tracks_every_epoch_from_the_initialisation(tmp_path):
    import srop_onnx

    ex = _example()
    result = ex.run_track(tmp_path, epochs=2, probe=40)
    track = srop_onnx.Track.load(tmp_path / "track")
    assert track.steps == [0, 1, 2] == result["steps"]
    assert track.layer_names == ["conv1", "conv2", "pool1", "conv3", "conv4", "pool2", "conv5"]
    assert len(result["accuracy"]) == 3 and all(0 <= a <= 1 for a in result["accuracy"])
    assert json.loads((tmp_path / "accuracy.json").read_text()) == result
    for name in ("heatmap.png", "heatmap_change.png", "thirds.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert track.profiles[0].analyzed == 40


def test_the_embedding_of_cases_one_and_two(tmp_path):
    ex = _example()
    x, y, _, _ = ex.digits()
    pat = ex.pattern()
    assert x.shape[1:] == (1, 32, 32) and pat.shape == (1, 32, 32) and 0 <= pat.min() and pat.max() <= 1
    one = ex.embedded(x, y, 0.75, "I", pat)
    two = ex.embedded(x, y, 0.75, "II", pat)
    assert np.allclose(one[y == 1], 0.25 * x[y == 1] + 0.75 * pat) and np.array_equal(one[y != 1], x[y != 1])
    assert np.allclose(two, 0.25 * x + 0.75 * pat)
    result = ex.run_cases(tmp_path, epochs=1, levels=(0.0, 1.0))
    assert [(r["case"], r["w"]) for r in result["rows"]] == [("I", 0.0), ("I", 1.0), ("II", 0.0), ("II", 1.0)]
    assert all(0 < r["pattern_srop"] <= 1 for r in result["rows"])
    assert (tmp_path / "cases.png").read_bytes()[:4] == b"\x89PNG"
