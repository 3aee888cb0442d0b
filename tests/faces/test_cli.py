"""The CLI end to end (click's runner): the main job, and every bad-input case."""

from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import EXAMPLE, EXAMPLE_IMAGES, sha256
from srop_onnx import SropError
from srop_onnx.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_version_and_help():
    assert run("--version").output.startswith("srop-onnx, version")
    res = run("analyze", "--help")
    assert res.exit_code == 0 and "--batch-size" in res.output and "--units" in res.output


def test_analyze_shipped_model_writes_all_outputs(tmp_path):
    before = sha256(EXAMPLE)
    res = run("analyze", EXAMPLE, EXAMPLE_IMAGES, "--json", tmp_path / "p.json", "--csv", tmp_path / "p.csv",
              "--kernels", tmp_path / "k.npz", "--batch-size", "4")
    assert res.exit_code == 0, res.output
    for name in ("stem.0", "pool1", "block3.0", "vs base", "inputs analysed 8"):
        assert name in res.output
    d = json.loads((tmp_path / "p.json").read_text())
    assert d["inputs"]["analyzed"] == 8 and len(d["layers"]) == 8
    z = np.load(tmp_path / "k.npz")
    assert z["000_stem.0_bins"].shape == (8, 16)
    assert (tmp_path / "p.csv").read_text().count("\n") == 9
    assert sha256(EXAMPLE) == before
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_layers_command_lists_taps():
    res = run("layers", EXAMPLE)
    assert res.exit_code == 0
    assert "block2.conv2" in res.output and "MaxPool" in res.output


def test_units_input_changes_summary(tmp_path):
    res = run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--units", "input", "--json", tmp_path / "p.json")
    assert res.exit_code == 0 and res.output == ""
    d = json.loads((tmp_path / "p.json").read_text())
    lay = d["layers"][-1]
    assert d["settings"]["units"] == "input" and lay["m_input"] == 43 and lay["m"] == 3
    vals = np.repeat(np.arange(lay["m"] + 1), lay["histogram"]) / lay["m_input"]
    assert lay["mean"] == pytest.approx(vals.mean())


# -- bad input: one line, exit 2, the model file unchanged ---------------------------
def _bad(args, match, model=None):
    model_hash = sha256(model) if model else None
    res = run(*args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and match in lines[0], res.output
    if model:
        assert sha256(model) == model_hash
    return lines[0]


def test_not_an_onnx_file(tmp_path):
    bad = tmp_path / "notes.onnx"
    bad.write_text("this is a text file, not a model\n" * 10)
    _bad(["analyze", bad, EXAMPLE_IMAGES], "not an ONNX model", bad)


def test_truncated_onnx_file(tmp_path):
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(EXAMPLE.read_bytes()[:5000])
    _bad(["analyze", cut, EXAMPLE_IMAGES], "not an ONNX model or a truncated one", cut)


@pytest.mark.parametrize("name, words", [
    ("model.pt", "model.pt: not an ONNX model: a PyTorch file; export the network to ONNX first: torch.onnx.export("),
    ("model.keras", "model.keras: not an ONNX model: a Keras file; convert it to ONNX first with tf2onnx"),
    ("model.tflite", "model.tflite: not an ONNX model: a TensorFlow Lite file; convert it to ONNX first: python -m "
                     "tf2onnx.convert --tflite "),
    ("frozen.pb", "frozen.pb: not an ONNX model: a TensorFlow graph; convert it"),
    ("inference.pdmodel", "inference.pdmodel: not an ONNX model: a Paddle model; convert it to ONNX first: "
                          "paddle2onnx --model_dir "),
])
def test_a_frameworks_own_file_says_how_to_make_the_onnx_model(tmp_path, name, words):
    f = tmp_path / name
    f.write_bytes(b"PK\x03\x04 not protobuf" * 50)
    assert words in _bad(["analyze", f, EXAMPLE_IMAGES], "not an ONNX model", f)


def test_a_folder_given_as_the_model_says_what_to_give(tmp_path):
    line = _bad(["analyze", EXAMPLE_IMAGES, EXAMPLE], "is a folder of inputs")  # the arguments swapped
    assert line.endswith("is a folder of inputs; the model comes first, then the inputs")
    holder = tmp_path / "holder"
    holder.mkdir()
    (holder / "net.onnx").write_bytes(EXAMPLE.read_bytes())
    assert f"give the .onnx file inside it ({holder / 'net.onnx'})" in _bad(["layers", holder], "is a folder")
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"x")
    assert f"--saved-model {saved} --output model.onnx" in _bad(["randomize", saved, "-o", tmp_path / "t.onnx"],
                                                                "is a TensorFlow SavedModel, not an ONNX model")
    empty = tmp_path / "empty"
    empty.mkdir()
    _bad(["sweep", empty, EXAMPLE_IMAGES, "--noise", "gaussian", "--levels", "0,1"],
         "is a folder; give the path of an .onnx model file")


def test_missing_model_file(tmp_path):
    _bad(["analyze", tmp_path / "nope.onnx", EXAMPLE_IMAGES], "no such file")


def test_missing_external_data(fixtures, tmp_path):
    folder = tmp_path / "ext"
    shutil.copytree(fixtures["external"].parent, folder)
    (folder / "model.weights").unlink()
    _bad(["analyze", folder / "model.onnx", EXAMPLE_IMAGES], "points to external data 'model.weights', which is missing", folder / "model.onnx")


def test_no_tappable_layers(fixtures):
    _bad(["analyze", fixtures["no_taps"], EXAMPLE_IMAGES], "no tappable layers", fixtures["no_taps"])


def test_several_inputs_without_input_option(fixtures, tmp_path, rng):
    line = _bad(["analyze", fixtures["two_inputs"], EXAMPLE_IMAGES], "several inputs (x, aux)", fixtures["two_inputs"])
    assert "--input" in line
    np.save(tmp_path / "a.npy", rng.standard_normal((2, 3, 16, 16)).astype(np.float32))
    res = run("analyze", fixtures["two_inputs"], tmp_path / "a.npy", "--input", "x")
    assert res.exit_code == 0, res.output
    _bad(["analyze", fixtures["two_inputs"], tmp_path / "a.npy", "--input", "y"], "no input 'y'")


def test_dynamic_spatial_dims_without_size(fixtures):
    _bad(["analyze", fixtures["unnamed"], EXAMPLE_IMAGES], "pass --size HxW", fixtures["unnamed"])
    res = run("analyze", fixtures["unnamed"], EXAMPLE_IMAGES, "--size", "32x32")
    assert res.exit_code == 0, res.output


def test_bad_size_option(fixtures):
    _bad(["analyze", fixtures["unnamed"], EXAMPLE_IMAGES, "--size", "big"], "--size must look like 224")


def test_wrong_channel_count(fixtures):
    _bad(["analyze", fixtures["two_channel"], EXAMPLE_IMAGES], "has 2 channels; images give 1, 3 or 4", fixtures["two_channel"])


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    _bad(["analyze", EXAMPLE, tmp_path / "empty"], "folder has no images or arrays", EXAMPLE)


def test_npy_of_wrong_shape(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 32, 32), np.float32))
    line = _bad(["analyze", EXAMPLE, tmp_path / "x.npy"], "x.npy: array of shape (3, 32, 32) does not fit input 'image'", EXAMPLE)
    assert "Nx3x64x64" in line


def test_corrupt_image_skipped_and_reported_then_strict(tmp_path):
    for f in sorted(EXAMPLE_IMAGES.glob("*.png"))[:2]:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "zz_corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    res = run("analyze", EXAMPLE, tmp_path, "--json", tmp_path / "p.json")
    assert res.exit_code == 0, res.output
    assert "zz_corrupt.jpg" in res.output and "skipped 1" in res.output
    assert json.loads((tmp_path / "p.json").read_text())["inputs"]["skipped"][0]["path"].endswith("zz_corrupt.jpg")
    _bad(["analyze", EXAMPLE, tmp_path, "--strict"], "zz_corrupt.jpg: cannot read image", EXAMPLE)


def test_only_bad_inputs_is_an_error(tmp_path):
    (tmp_path / "a.png").write_bytes(b"nope")
    _bad(["analyze", EXAMPLE, tmp_path / "a.png"], "no usable inputs")


def test_provider_cuda_without_gpu_is_one_line():
    from srop_onnx.core.cuda import cuda_problem

    if cuda_problem() is None:
        pytest.skip("a usable CUDA setup is present")
    _bad(["analyze", EXAMPLE, EXAMPLE_IMAGES, "--provider", "cuda"], "--provider cuda:")


def test_debug_shows_the_exception(tmp_path):
    res = CliRunner().invoke(main, ["--debug", "analyze", str(tmp_path / "nope.onnx"), str(EXAMPLE_IMAGES)])
    assert res.exit_code != 0 and isinstance(res.exception, SropError)


def test_grayscale_image_on_rgb_model(tmp_path):
    Image.open(sorted(EXAMPLE_IMAGES.glob("*.png"))[0]).convert("L").save(tmp_path / "g.png")
    res = run("analyze", EXAMPLE, tmp_path / "g.png")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("extra, match", [
    (["--vs-random", "--shard", "1/2"], "--vs-random runs both models locally"),
    (["--kernels", "k.npz", "--shard", "1/2"], "--kernels keeps per-map bins of one local run"),
    (["--junit", "j.xml"], "--junit needs --check"),
])
def test_option_combinations_that_cannot_work(extra, match):
    res = run("analyze", EXAMPLE, EXAMPLE_IMAGES, *extra)
    assert res.exit_code == 2 and match in res.output


def test_bad_thread_count_in_the_environment(monkeypatch):
    monkeypatch.setenv("SROP_ONNX_THREADS", "two")
    _bad(["analyze", EXAMPLE, EXAMPLE_IMAGES], "SROP_ONNX_THREADS must be a whole number", EXAMPLE)


def test_a_thread_count_above_the_cores_is_bounded_with_one_line(monkeypatch):
    from srop_onnx.core._xp import cpu_workers, usable_cores

    monkeypatch.setenv("SROP_ONNX_THREADS", "100000")
    assert cpu_workers() == usable_cores()
    res = run("analyze", EXAMPLE, EXAMPLE_IMAGES)  # standard output and error together
    assert res.exit_code == 0
    notes = [ln for ln in res.output.splitlines() if "SROP_ONNX_THREADS=100000" in ln]
    assert len(notes) == 1 and f"using {usable_cores()}" in notes[0]
    monkeypatch.setenv("SROP_ONNX_THREADS", "1")
    assert cpu_workers() == 1


def test_an_ascii_standard_output_gets_ascii_tables_not_an_error(tmp_path):
    """Minimal CI containers run with ``LC_ALL=C`` and no UTF-8 mode: standard output is ASCII.
    Tables fall back to ASCII boxes and anything else is escaped; the commands never fail on it."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}
    env.pop("PYTHONIOENCODING")
    profile = tmp_path / "p.json"

    def cli(*args):
        res = subprocess.run([sys.executable, "-m", "srop_onnx", *map(str, args)], env=env, capture_output=True,
                             timeout=300)
        return res.returncode, res.stdout.decode("ascii"), res.stderr.decode("ascii")

    code, out, err = cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "--json", profile)
    assert code == 0, err
    assert "| stem.0" in out and "+--" in out  # rich's ASCII boxes
    for args in (("layers", EXAMPLE), ("compare", profile, profile), ("check", profile, "--against", profile)):
        code, out, err = cli(*args)
        assert code == 0 and "error" not in err, (args, err)
        assert out.strip()
    code, out, err = cli("check", tmp_path / "caf\u00e9.json", "--against", profile)  # a name outside ASCII
    assert code == 2 and "caf\\xe9.json" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="an unwritable home under /proc is Linux's")
def test_a_read_only_home_gives_no_matplotlib_warnings(tmp_path):
    """matplotlib logs two warnings when the home folder cannot hold its cache and goes on with a
    temporary one: not the user's matter; ``--debug`` shows them."""
    import subprocess

    from srop_onnx import analyze

    prof = tmp_path / "p.json"
    prof.write_text(json.dumps(analyze(EXAMPLE, EXAMPLE_IMAGES).to_dict()))
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    env["HOME"] = "/proc/no-such-home"  # nobody, root included, can make a folder there
    run = [sys.executable, "-m", "srop_onnx"]
    res = subprocess.run(run + ["plot", str(prof), "-o", str(tmp_path / "d.png")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0 and (tmp_path / "d.png").stat().st_size > 0, res.stderr
    assert "Matplotlib" not in res.stderr and "mkdir -p failed" not in res.stderr, res.stderr
    res = subprocess.run(run + ["--debug", "plot", str(prof), "-o", str(tmp_path / "e.png")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "Matplotlib created a temporary cache directory" in res.stderr
