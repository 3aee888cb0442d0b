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


def test_seeds_give_means_and_intervals_and_the_studies_smoke_test(tmp_path):
    """Issue 42: ``--seeds N`` summarises N runs with 95 % t intervals; the zoo script runs on the
    shipped example model (its full setting downloads wheels and is not run in CI)."""
    import subprocess
    import sys

    from scipy.stats import t

    res = subprocess.run([sys.executable, str(REPO / "examples" / "training" / "train_digits.py"), "track", "-o",
                          str(tmp_path / "seeds"), "--seeds", "2", "--epochs", "1"], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    text = (tmp_path / "seeds" / "seeds.md").read_text()
    assert "Across 2 seeds" in text and "| conv5 |" in text and (tmp_path / "seeds" / "thirds_seeds.png").exists()
    import srop_onnx

    pair = np.array([srop_onnx.Track.load(tmp_path / "seeds" / f"seed-{s}" / "track").means()[-1, 0] for s in (0, 1)])
    half = t.ppf(0.975, 1) * pair.std(ddof=1) / np.sqrt(2)  # Student's t over the two seeds, computed here
    assert f"| conv5 | {pair.mean():.3f} +- {half:.3f} |" in text
    res = subprocess.run([sys.executable, str(REPO / "examples" / "zoo" / "zoo.py"), "-o", str(tmp_path / "zoo"),
                          "--models", "example", "--seeds", "2"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = json.loads((tmp_path / "zoo" / "zoo.json").read_text())
    assert [r["model"] for r in rows] == ["srop-onnx example model"] and len(rows[0]["thirds"][2]) == 2
    assert "Deep third below the twin" in (tmp_path / "zoo" / "zoo.md").read_text()
