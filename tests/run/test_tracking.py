"""Issue 28: SROPs across training - ``srop-onnx track``, ``srop_onnx.track``/``Track``/``Tracker``,
their pictures, and TensorBoard. Checkpoints are a tiny three-conv model with other weights per
step; every number is checked against ordinary ``analyze`` runs or an independent computation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper, numpy_helper

import srop_onnx
from srop_onnx import UsageError, analyze
from srop_onnx.cli import main

SIZE = 16


def _model(seed: int, extra_conv: bool = False) -> onnx.ModelProto:
    rng = np.random.default_rng(seed)
    specs = [("c1", 2, 4), ("c2", 4, 4), ("c3", 4, 4)] + ([("c4", 4, 4)] if extra_conv else [])
    nodes, inits, prev = [], [], "x"
    for name, cin, cout in specs:
        inits.append(numpy_helper.from_array(rng.standard_normal((cout, cin, 3, 3)).astype(np.float32), f"{name}.weight"))
        nodes += [helper.make_node("Conv", [prev, f"{name}.weight"], [f"{name}_out"], name=name, pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"{name}_out"], [f"{name}_r"], name=f"{name}_relu")]
        prev = f"{name}_r"
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, SIZE, SIZE])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)


@pytest.fixture
def ckpts(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for e in (0, 1, 2, 10):  # natural order: e2 before e10
        onnx.save(_model(e), str(folder / f"epoch_e{e}.onnx"))
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    rng = np.random.default_rng(7)
    for i in range(3):
        np.save(inputs / f"{i}.npy", rng.standard_normal((2, 2, SIZE, SIZE)).astype(np.float32))
    return folder, inputs


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_track_holds_the_profiles_that_analyze_gives_each_checkpoint(ckpts, tmp_path):
    folder, inputs = ckpts
    tr = srop_onnx.track(folder, inputs, tmp_path / "out", batch_size=4)
    assert tr.steps == [0, 1, 2, 10]
    for step, prof in zip(tr.steps, tr.profiles):
        alone = analyze(folder / f"epoch_e{step}.onnx", inputs, batch_size=4)
        mine = __import__("copy").deepcopy(prof.to_dict())
        own = mine["extra"].pop("track")  # what a step's profile says of itself in its track
        assert own["step"] == step and own["list_digest"] == tr.index["inputs"]["list_digest"]
        assert mine == alone.to_dict()
    loaded = srop_onnx.Track.load(tmp_path / "out")
    assert loaded.steps == tr.steps and [p.to_dict() for p in loaded.profiles] == [p.to_dict() for p in tr.profiles]
    files = sorted(p.name for p in (tmp_path / "out" / "profiles").iterdir())
    assert files == ["step-00000000.json", "step-00000001.json", "step-00000002.json", "step-00000010.json"]


def test_the_index_holds_statistics_and_the_w1_distance_to_the_previous_step(ckpts, tmp_path):
    from scipy.stats import wasserstein_distance

    folder, inputs = ckpts
    srop_onnx.track(folder, inputs, tmp_path / "out")
    index = json.loads((tmp_path / "out" / "track.json").read_text())
    assert index["format"] == "srop-onnx-track" and index["version"] == 1
    assert [e["step"] for e in index["steps"]] == [0, 1, 2, 10]
    import hashlib

    for e in index["steps"]:
        path = folder / f"epoch_e{e['step']}.onnx"
        assert e["model"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    profiles = srop_onnx.Track.load(tmp_path / "out").profiles
    for i, e in enumerate(index["steps"]):
        for row, lay in zip(e["layers"], profiles[i].layers):
            values = np.arange(lay.stats.histogram.size) / lay.stats.m
            w = lay.stats.histogram.astype(float)
            assert row["mean"] == pytest.approx(np.average(values, weights=w), rel=1e-12)
            assert row["count"] == int(w.sum())
            if i == 0:
                assert row["w1_prev"] is None
                continue
            prev = profiles[i - 1].layer(row["name"])
            pv = np.arange(prev.stats.histogram.size) / prev.stats.m
            assert row["w1_prev"] == pytest.approx(wasserstein_distance(pv, values, prev.stats.histogram, w), abs=1e-12)


def test_a_track_built_in_two_calls_is_byte_identical_to_one_call(ckpts, tmp_path):
    folder, inputs = ckpts
    files = sorted(folder.iterdir(), key=lambda p: int(p.stem[7:]))
    srop_onnx.track(folder, inputs, tmp_path / "one")
    srop_onnx.track(files[:2], inputs, tmp_path / "two")
    notes: list[str] = []
    srop_onnx.track(files, inputs, tmp_path / "two", notify=notes.append)  # the first two are skipped
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert sum("already in the track" in n for n in notes) == 2


@pytest.mark.parametrize("change, match", [
    ({"model": "extra"}, r"another architecture than the track .*other op types|another architecture"),
    ({"kappa": 0.9}, r"other settings than the track .*\(kappa\)"),
    ({"inputs": "fewer"}, r"another input set than the track"),
])
def test_a_checkpoint_that_does_not_belong_is_refused_and_the_folder_is_untouched(ckpts, tmp_path, change, match):
    folder, inputs = ckpts
    srop_onnx.track(folder, inputs, tmp_path / "out")
    before = _files(tmp_path / "out")
    new = tmp_path / "new"
    new.mkdir()
    onnx.save(_model(20, extra_conv=change.get("model") == "extra"), str(new / "epoch_20.onnx"))
    if change.get("inputs"):
        (inputs / "2.npy").unlink()
    with pytest.raises(UsageError, match=match):
        srop_onnx.track(new, inputs, tmp_path / "out", kappa=change.get("kappa", 0.85))
    assert _files(tmp_path / "out") == before
    res = CliRunner().invoke(main, ["track", str(new), "--inputs", str(inputs), "-o", str(tmp_path / "out"), "-q",
                                    "--kappa", str(change.get("kappa", 0.85))])
    assert res.exit_code == 2 and "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert _files(tmp_path / "out") == before


def test_two_architectures_in_one_call_are_refused_before_any_step_runs(ckpts, tmp_path):
    folder, inputs = ckpts
    onnx.save(_model(3, extra_conv=True), str(folder / "epoch_e3.onnx"))
    with pytest.raises(UsageError, match=r"epoch_e3\.onnx: another architecture than .*epoch_e0\.onnx"):
        srop_onnx.track(folder, inputs, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_steps_come_from_names_or_steps_and_bad_ones_are_refused(ckpts, tmp_path):
    from srop_onnx.run.tracking import checkpoint_steps

    folder, _ = ckpts
    assert [s for s, _ in checkpoint_steps([folder])] == [0, 1, 2, 10]
    assert [p.name for _, p in checkpoint_steps([folder])] == ["epoch_e0.onnx", "epoch_e1.onnx", "epoch_e2.onnx",
                                                               "epoch_e10.onnx"]
    files = sorted(folder.iterdir())
    assert [s for s, _ in checkpoint_steps(files, [5, 6, 7, 8])] == [5, 6, 7, 8]
    with pytest.raises(UsageError, match="step 5 is given twice"):
        checkpoint_steps(files, [5, 5, 7, 8])
    with pytest.raises(UsageError, match="^steps gives 2 step"):
        checkpoint_steps(files, [1, 2])
    onnx.save(_model(0), str(tmp_path / "final.onnx"))
    with pytest.raises(UsageError, match=r"final\.onnx: no step number in the file name"):
        checkpoint_steps([tmp_path / "final.onnx"])
    res = CliRunner().invoke(main, ["track", str(tmp_path / "final.onnx"), "--inputs", str(ckpts[1]), "-o",
                                    str(tmp_path / "o"), "--steps", "1,x"])
    assert res.exit_code == 2 and "--steps '1,x': give whole numbers" in res.output


def test_the_cli_prints_a_layers_by_steps_table_and_a_verdict_per_third(ckpts, tmp_path):
    folder, inputs = ckpts
    for e in range(3, 12):
        onnx.save(_model(e), str(folder / f"epoch_e{e}.onnx"))
    res = CliRunner().invoke(main, ["track", str(folder), "--inputs", str(inputs), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "8 of 12 steps shown (first, last, evenly spaced)" in text
    assert text.count("provider: CPU") == 1  # a note is said once per track, not once per step
    tr = srop_onnx.Track.load(tmp_path / "out")
    means = tr.means()
    for label, series in tr.thirds():  # one verdict per third, from the track's own numbers
        lower = int(np.sum(series[1:] <= series[0] - 0.005))
        change = series[-1] - series[0]
        trend = (f"fell by {-change:.3f}" if change <= -0.005 else f"rose by {change:.3f}" if change >= 0.005
                 else "unchanged (within 0.005)")
        assert (f"{label} third: {series[0]:.3f} -> {series[-1]:.3f} (step 0 -> 11), {trend}; lower at {lower} of "
                "11 steps") in text
    assert means.shape == (3, 12)


def test_a_track_stopped_by_a_kill_resumes_with_nothing_counted_twice(ckpts, tmp_path):
    folder, inputs = ckpts
    for e in range(3, 30):
        onnx.save(_model(e), str(folder / f"epoch_e{e}.onnx"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "srop_onnx", "track", str(folder), "--inputs", str(inputs), "-o", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "track.json").exists() and proc.poll() is None:
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if os.name != "nt" else signal.SIGTERM)
    proc.wait(timeout=60)
    res = CliRunner().invoke(main, ["track", str(folder), "--inputs", str(inputs), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    srop_onnx.track(folder, inputs, tmp_path / "whole")
    assert _files(out) == _files(tmp_path / "whole")


def test_dataframe_rows_and_notebook_view(ckpts, tmp_path):
    pytest.importorskip("pandas")
    folder, inputs = ckpts
    tr = srop_onnx.track(folder, inputs, tmp_path / "out")
    df = tr.to_dataframe()
    assert list(df.columns) == ["step", "layer", "depth", "mean", "std", "median", "q1", "q3", "count", "w1_prev",
                                "units"]
    assert len(df) == 4 * 3 and df["w1_prev"].isna().sum() == 3
    row = df[(df.step == 2) & (df.layer == "c2")].iloc[0]
    assert row["mean"] == tr.profiles[2].layer("c2").summary("band").mean
    html = tr._repr_html_()
    assert "<img" in html and "deep third" in html and "<script" not in html


def test_pictures_and_report_of_a_track(ckpts, tmp_path):
    folder, inputs = ckpts
    srop_onnx.track(folder, inputs, tmp_path / "out")
    runner = CliRunner()
    for kind in ("heatmap", "thirds", "std"):
        res = runner.invoke(main, ["plot", str(tmp_path / "out" / "track.json"), "--kind", kind, "-o",
                                   str(tmp_path / f"{kind}.png")])
        assert res.exit_code == 0, res.output
        assert (tmp_path / f"{kind}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = runner.invoke(main, ["plot", str(tmp_path / "out"), "--kind", "channels", "--layer", "c2", "-o",
                               str(tmp_path / "ch.png")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["plot", str(tmp_path / "out"), "--kind", "channels", "-o", str(tmp_path / "x.png")])
    assert res.exit_code == 2 and "add --layer NAME (one of c1, c2, c3)" in res.output
    res = runner.invoke(main, ["report", str(tmp_path / "out" / "track.json"), "-o", str(tmp_path / "t.html")])
    assert res.exit_code == 0, res.output
    text = (tmp_path / "t.html").read_text()
    assert text.count("<img") == 4 and "deep third" in text
    fig = srop_onnx.plot.track(srop_onnx.Track.load(tmp_path / "out"), kind="heatmap", change=True)
    assert fig.axes[0].images[0].get_array().shape == (3, 4)


def test_a_corrupt_index_is_refused_in_one_line(ckpts, tmp_path):
    folder, inputs = ckpts
    srop_onnx.track(folder, inputs, tmp_path / "out")
    index = json.loads((tmp_path / "out" / "track.json").read_text())
    index["steps"][1]["step"] = 0
    (tmp_path / "out" / "track.json").write_text(json.dumps(index))
    res = CliRunner().invoke(main, ["plot", str(tmp_path / "out" / "track.json"), "-o", str(tmp_path / "h.png")])
    assert res.exit_code == 2 and "not distinct and ascending" in res.output


def test_tracker_takes_bytes_and_model_protos_and_gives_scalars(ckpts, tmp_path):
    _, inputs = ckpts
    with srop_onnx.Tracker(tmp_path / "out", inputs) as tk:
        p0 = tk.add(0, _model(0).SerializeToString())
        p1 = tk.add(1, _model(1))
        scalars = tk.scalars(p1)
    assert set(scalars) == {"srop/mean/c1", "srop/mean/c2", "srop/mean/c3"}
    assert scalars["srop/mean/c2"] == p1.layer("c2").summary("band").mean
    assert srop_onnx.Track.load(tmp_path / "out").steps == [0, 1]
    assert p0.to_dict()["layers"] == analyze(_model(0).SerializeToString(), inputs).to_dict()["layers"]
    with pytest.raises(UsageError, match="a torch.nn.Module or a Keras 3 model, got builtins.dict"):
        srop_onnx.Tracker(None, inputs).add(0, {})


def test_tensorboard_histograms_are_the_profiles_own(ckpts, tmp_path):
    pytest.importorskip("tensorboardX")
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator", reason="needs the test frameworks: pip install -e '.[frameworks]'")
    folder, inputs = ckpts
    tr = srop_onnx.track(folder, inputs, tmp_path / "out", tensorboard=tmp_path / "tb")
    acc = event_accumulator.EventAccumulator(str(tmp_path / "tb"), size_guidance={"histograms": 0, "scalars": 0})
    acc.Reload()
    for step, prof in zip(tr.steps, tr.profiles):
        for lay in prof.layers:
            event = next(h for h in acc.Histograms(f"srop/hist/{lay.name}") if h.step == step)
            hist = event.histogram_value
            assert list(hist.bucket) == lay.stats.histogram.astype(float).tolist()
            assert list(hist.bucket_limit) == pytest.approx((np.arange(lay.stats.m + 1) / lay.stats.m).tolist())
            scalar = next(s for s in acc.Scalars(f"srop/mean/{lay.name}") if s.step == step)
            assert scalar.value == pytest.approx(lay.summary("band").mean, rel=1e-6)
    assert {f"srop/third/{t}" for t in ("shallow", "middle", "deep")} <= set(acc.Tags()["scalars"])


def test_a_step_carries_the_users_metrics_into_the_track_its_frame_plot_and_report(ckpts, tmp_path):
    """Issue 37: metrics beside SROPs (the paper's Fig. 3 reads accuracy and SROP together)."""
    folder, inputs = ckpts
    models = sorted(folder.glob("*.onnx"))
    with srop_onnx.Tracker(tmp_path / "out", inputs) as tk:
        tk.add(0, models[0], metrics={"val_acc": 0.25, "loss": np.float32(2.5)})
        tk.add(1, models[1])
        tk.add(2, models[2], metrics={"val_acc": np.array(0.75)})
    tr = srop_onnx.Track.load(tmp_path / "out")
    assert tr.metric_names == ["loss", "val_acc"]
    got = tr.metrics()
    assert got["val_acc"][[0, 2]].tolist() == [0.25, 0.75] and np.isnan(got["val_acc"][1])
    assert got["loss"][0] == pytest.approx(2.5) and np.isnan(got["loss"][1:]).all()
    assert json.loads((tmp_path / "out" / "profiles" / "step-00000000.json").read_text())["extra"]["track"][
        "metrics"] == {"loss": 2.5, "val_acc": 0.25}
    if pytest.importorskip("pandas"):
        frame = tr.to_dataframe(per="metric")
        assert frame.values.tolist() == [[0, "loss", 2.5], [0, "val_acc", 0.25], [2, "val_acc", 0.75]]
    fig = srop_onnx.plot.track(tr, kind="thirds")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "val_acc (right axis)" in legend and "loss (right axis)" in legend and len(fig.axes) == 2
    from srop_onnx.show.trackview import track_report

    assert "<i>val_acc</i>" in track_report(tr)


@pytest.mark.parametrize("metrics, message", [
    ({"acc": float("nan")}, "acc is nan, not a finite number"),
    ({"acc": "high"}, "acc is 'high', not a finite number"),
    ({"": 1.0}, "is not a metric name"),
    ([("acc", 1.0)], "metrics must be a mapping of names to numbers"),
    ({"acc": np.ones(3)}, "not a finite number"),
])
def test_metrics_that_are_not_numbers_are_refused_before_anything_runs(ckpts, tmp_path, metrics, message):
    folder, inputs = ckpts
    tk = srop_onnx.Tracker(tmp_path / "out", inputs)
    with pytest.raises(UsageError, match=message):
        tk.add(0, sorted(folder.glob("*.onnx"))[0], metrics=metrics)
    assert not (tmp_path / "out").exists()


def test_a_tiny_change_of_a_third_is_not_called_lower():
    """Issue 37 item 7: 0.644 -> 0.643 was "lower"."""
    from srop_onnx.results.track import Track

    class Fixed(Track):
        def thirds(self, units=None):
            return [("shallow", np.array([0.644, 0.6435, 0.643])), ("middle", np.array([0.70, 0.69, 0.60])),
                    ("deep", np.array([0.50, 0.52, 0.51]))]

    tr = Fixed({"steps": [{"step": 0}, {"step": 1}, {"step": 2}], "architecture": {"layers": []}}, [])
    assert tr.verdicts() == [
        "shallow third: 0.644 -> 0.643 (step 0 -> 2), unchanged (within 0.005); lower at 0 of 2 steps",
        "middle third: 0.700 -> 0.600 (step 0 -> 2), fell by 0.100; lower at 2 of 2 steps",
        "deep third: 0.500 -> 0.510 (step 0 -> 2), rose by 0.010; lower at 0 of 2 steps"]


def test_a_tracker_records_each_sample_s_class_at_every_step(tmp_path):
    """``labels=`` (or a data loader's targets) were dropped by the Tracker: its profiles had no classes."""
    from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM

    files = sorted(EXAMPLE_IMAGES.glob("*.png"))
    for kind in ("cat", "dog"):
        (tmp_path / kind).mkdir()
        for f in files[:2]:
            (tmp_path / kind / f.name).write_bytes(f.read_bytes())
    tracker = srop_onnx.Tracker(None, tmp_path, labels="folders", progress=False)
    steps = [tracker.add(0, EXAMPLE), tracker.add(1, EXAMPLE_RANDOM)]
    alone = analyze(EXAMPLE, tmp_path, labels="folders", progress=False)
    assert [p.labels for p in steps] == [["cat", "cat", "dog", "dog"]] * 2 == [alone.labels] * 2
    assert steps[0].by_class().to_dataframe().equals(alone.by_class().to_dataframe())
    x = np.random.default_rng(0).standard_normal((4, 3, 64, 64)).astype(np.float32)
    pairs = [(x[:2], np.array([0, 1])), (x[2:], np.array([1, 0]))]  # a data loader's batches and targets
    assert srop_onnx.Tracker(None, pairs, progress=False).add(0, EXAMPLE).labels == ["0", "1", "1", "0"]
    assert srop_onnx.Tracker(None, x, progress=False).add(0, EXAMPLE).labels is None


def test_a_sweep_refuses_labels_it_would_not_record():
    from conftest import EXAMPLE, EXAMPLE_IMAGES

    with pytest.raises(UsageError, match=r"^a sweep does not record classes: drop labels"):
        srop_onnx.sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,1", noise="gaussian", labels="folders", progress=False)
