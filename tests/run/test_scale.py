"""Dataset scale: shards merge to the single run exactly, resumable checkpoints,
tap groups under --max-memory, and the Ray engine."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES, mounted
from srop_onnx import OutputError, Profile, UsageError, analyze
from srop_onnx.cli import main
from srop_onnx.results.merge import merge_profiles


def _comparable(p: Profile) -> dict:
    d = p.to_dict()
    d.get("extra", {}).pop("run", None)
    d.get("extra", {}).pop("engine", None)
    d.get("extra", {}).pop("shard", None)
    if not d.get("extra"):
        d.pop("extra", None)
    return d


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The shipped images plus a corrupt one in the middle, sorted order fixed."""
    d = tmp_path_factory.mktemp("inputs")
    for f in sorted(EXAMPLE_IMAGES.glob("*.png")):
        shutil.copy(f, d / f.name)
    (d / "m_corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return d


@pytest.fixture(scope="module")
def single(folder):
    return analyze(EXAMPLE, folder, batch_size=3)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 12])
def test_merged_shards_equal_the_single_run(folder, single, n):
    parts = [analyze(EXAMPLE, folder, batch_size=3, shard=(i, n)) for i in range(1, n + 1)]
    assert sum(p.analyzed for p in parts) == 8
    assert [len(p.skipped_inputs) for p in parts].count(1) == 1  # the corrupt image is in exactly one shard
    merged = merge_profiles(list(reversed(parts)))
    assert _comparable(merged) == _comparable(single)
    for a, b in zip(merged.layers, single.layers):
        assert a.stats == b.stats  # histograms, counts, kernel sums, per-sample sums in input order


def test_merge_cli_and_refusals(folder, tmp_path):
    paths = []
    for i in (1, 2):
        p = tmp_path / f"p{i}.json"
        analyze(EXAMPLE, folder, shard=(i, 2)).to_json(p)
        paths.append(p)
    res = CliRunner().invoke(main, ["merge", *map(str, paths), "-o", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    assert Profile.load(tmp_path / "m.json").analyzed == 8
    with pytest.raises(UsageError, match=r"missing shard\(s\) 2/2"):
        merge_profiles([Profile.load(paths[0])])
    with pytest.raises(UsageError, match="more than once"):
        merge_profiles([Profile.load(paths[0])] * 2)
    other = analyze(EXAMPLE, folder, shard=(2, 2), kappa=0.9)
    with pytest.raises(UsageError, match="different settings"):
        merge_profiles([Profile.load(paths[0]), other])
    full = analyze(EXAMPLE, folder)
    with pytest.raises(UsageError, match="not a partial profile"):
        merge_profiles([full])
    with pytest.raises(UsageError, match="cannot be combined"):
        analyze(EXAMPLE, folder, shard=(1, 2), limit=3)


def test_max_memory_splits_taps_into_passes(folder, single):
    notes = []
    prof = analyze(EXAMPLE, folder, batch_size=3, max_memory=600_000, notify=notes.append)
    assert any("passes per batch" in n for n in notes)
    assert [lay.stats for lay in prof.layers] == [lay.stats for lay in single.layers]


def test_max_memory_reduces_the_batch_when_one_tap_does_not_fit(folder, single):
    notes = []
    prof = analyze(EXAMPLE, folder, batch_size=8, max_memory=300_000, notify=notes.append)
    assert any("using a batch of 1" in n for n in notes)
    assert [lay.stats for lay in prof.layers] == [lay.stats for lay in single.layers]


# -- checkpoint / resume ------------------------------------------------------------
def _many_inputs(tmp_path: Path, count: int) -> Path:
    rng = np.random.default_rng(3)
    d = tmp_path / "arrays"
    d.mkdir()
    for i in range(count):
        np.save(d / f"x{i:04d}.npy", rng.standard_normal((3, 64, 64)).astype(np.float32))
    return d


def test_checkpoint_resume_after_a_real_kill(tmp_path):
    inputs = _many_inputs(tmp_path, 400)
    ckpt = tmp_path / "run.ckpt"
    args = [sys.executable, "-m", "srop_onnx.cli", "analyze", str(EXAMPLE), str(inputs), "-q", "--batch-size", "2",
            "--checkpoint", str(ckpt), "--checkpoint-every", "3", "--json", str(tmp_path / "resumed.json")]
    env = dict(os.environ, SROP_ONNX_THREADS="1", OMP_NUM_THREADS="1")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    done_at_kill = 0
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists():
            try:
                done_at_kill = len(json.loads(ckpt.read_text())["partial"]["inputs"]["sources"])
            except (json.JSONDecodeError, KeyError):  # pragma: no cover - never partial: writes are atomic
                pytest.fail("checkpoint file was not written atomically")
            if done_at_kill >= 60:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be interrupted"
    assert 0 < done_at_kill < 400
    saved = json.loads(ckpt.read_text())
    assert saved["complete"] is False
    res = subprocess.run(args[:-2] + ["--json", str(tmp_path / "resumed.json")], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    resumed = Profile.load(tmp_path / "resumed.json")
    straight = analyze(EXAMPLE, inputs, batch_size=2)
    assert resumed.analyzed == 400 and len(resumed.sources) == len(set(resumed.sources)) == 400
    assert _comparable(resumed) == _comparable(straight)
    assert json.loads(ckpt.read_text())["complete"] is True


def test_checkpoint_of_another_run_is_refused(tmp_path, folder):
    ckpt = tmp_path / "c.ckpt"
    analyze(EXAMPLE, folder, checkpoint=ckpt)
    with pytest.raises(UsageError, match="saved by a run with other arguments"):
        analyze(EXAMPLE, folder, checkpoint=ckpt, kappa=0.9)
    again = analyze(EXAMPLE, folder, checkpoint=ckpt)  # complete checkpoint: same profile, nothing rerun
    assert _comparable(again) == _comparable(analyze(EXAMPLE, folder))


def test_a_checkpoint_on_a_read_only_disk_is_refused_before_the_first_batch(tmp_path, folder, monkeypatch):
    import srop_onnx.run.execution as ex

    fed = []
    real = ex.feed
    monkeypatch.setattr(ex, "feed", lambda *a, **k: fed.append(1) or real(*a, **k))
    with mounted(tmp_path / "ro", "ro,size=64k") as ro:
        with pytest.raises(OutputError, match=r"^checkpoint .*ro/c.ckpt: cannot write in .*ro \(read-only file "
                                              r"system\)"):
            analyze(EXAMPLE, folder, checkpoint=ro / "c.ckpt", batch_size=2)
    assert fed == []  # not one batch ran


def test_resume_in_process_counts_nothing_twice(tmp_path, folder, single, monkeypatch):
    """Interrupt after the second batch (an exception in the loop), then resume."""
    import srop_onnx.run.execution as ex

    ckpt = tmp_path / "c.ckpt"
    calls = {"n": 0}
    real = ex.feed

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(ex, "feed", flaky)
    with pytest.raises(KeyboardInterrupt):
        analyze(EXAMPLE, folder, batch_size=3, checkpoint=ckpt, checkpoint_every=1)
    monkeypatch.setattr(ex, "feed", real)
    # two batches of 3 samples (the corrupt file yields none) were saved before the interruption
    assert len(json.loads(ckpt.read_text())["partial"]["inputs"]["sources"]) == 6
    resumed = analyze(EXAMPLE, folder, batch_size=3, checkpoint=ckpt, checkpoint_every=1)
    assert _comparable(resumed) == _comparable(single)


# -- Ray -------------------------------------------------------------------------------
@pytest.mark.slow
def test_ray_engine_on_a_local_two_worker_ray(folder, single):
    ray = pytest.importorskip("ray", reason="needs the test servers: pip install -e '.[servers]'")
    from srop_onnx.run.distributed import analyze_ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        prof = analyze_ray(EXAMPLE, folder, batch_size=3, provider="cpu")
        threads = ray.get([_threads_in_a_task(ray, user) for user in (None, "2")])
    finally:
        ray.shutdown()
    assert prof.extra["engine"] == {"name": "ray", "shards": 2, "gpu": False}
    assert _comparable(prof) == _comparable(single)
    # a task keeps to its one CPU (Ray runs a task per CPU; each took every core of the node), and
    # the variable is the user's again after it; a user's SROP_ONNX_THREADS is kept
    from srop_onnx.core._xp import usable_cores

    assert threads == [("1", 1, None), ("2", min(2, usable_cores()), "2")]


def _threads_in_a_task(ray, user: str | None):
    """A Ray task (one CPU) that reports, inside a shard's thread allotment, SROP_ONNX_THREADS and
    the FFT threads, and the variable after it."""
    def task():
        import os

        from srop_onnx.core._xp import cpu_workers
        from srop_onnx.run.distributed import _allotted_threads

        if user is None:
            os.environ.pop("SROP_ONNX_THREADS", None)
        else:
            os.environ["SROP_ONNX_THREADS"] = user
        with _allotted_threads():
            inside = (os.environ.get("SROP_ONNX_THREADS"), cpu_workers())
        return (*inside, os.environ.get("SROP_ONNX_THREADS"))

    return ray.remote(num_cpus=1)(task).remote()


@pytest.mark.slow
def test_ray_engine_from_the_cli(folder, single, tmp_path):
    """The CLI path of --engine ray (it once crashed with a TypeError: only the API was tested)."""
    ray = pytest.importorskip("ray", reason="needs the test servers: pip install -e '.[servers]'")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), str(folder), "--engine", "ray", "--shards", "3",
                                        "-b", "3", "--provider", "cpu", "-q", "--json", str(tmp_path / "r.json")])
    finally:
        ray.shutdown()
    assert res.exit_code == 0, res.output
    prof = Profile.load(tmp_path / "r.json")
    assert prof.extra["engine"] == {"name": "ray", "shards": 3, "gpu": False}
    assert _comparable(prof) == _comparable(single)


def test_kernels_and_checkpoint_are_refused_together(tmp_path, folder):
    """Checkpoints keep statistics, not per-map bins: a resumed --kernels file would miss rows."""
    with pytest.raises(UsageError, match="^keep_bins cannot be combined with checkpoint"):
        analyze(EXAMPLE, folder, checkpoint=tmp_path / "c.ckpt", keep_bins=True)
    assert not (tmp_path / "c.ckpt").exists()


@pytest.mark.parametrize("start, limit", [((0, 0), None), ((3, 0), None), ((0, 0), 5), ((2, 1), 4)])
def test_parallel_decoding_yields_logs_and_resumes_in_file_order(folder, tmp_path, start, limit):
    """Decode threads change nothing a run can see: samples, their order and positions, skips."""
    from srop_onnx.inputs.inputspec import input_spec
    from srop_onnx.inputs.preprocess import make_preprocess
    from srop_onnx.inputs.samples import InputLog, iter_samples
    from srop_onnx.model.modelio import discover_inputs, load_model

    stack = tmp_path / "stack.npy"  # a multi-row array file among the images: rows resume mid-file
    np.save(stack, np.random.default_rng(0).standard_normal((3, 3, 64, 64)).astype(np.float32))
    files = discover_inputs([folder, stack])
    spec = input_spec(load_model(EXAMPLE).proto)
    pre = make_preprocess(spec, None, None, None, None)
    runs = []
    for workers in (1, 3):
        log = InputLog()
        samples = list(iter_samples(files, spec, pre, log, start=start, limit=limit, workers=workers))
        runs.append(([(s.source, s.position_after) for s in samples], [s.array for s in samples], log.skipped, log.skipped_at))
    (order1, arrays1, skipped1, at1), (order3, arrays3, skipped3, at3) = runs
    assert order3 == order1 and skipped3 == skipped1 and at3 == at1
    for a, b in zip(arrays1, arrays3):
        np.testing.assert_array_equal(a, b)
    assert len(order1) == (limit or len(order1)) and len(order1) > 0
    if start == (0, 0) and limit is None:
        assert [e["path"] for e in skipped1] == [str(folder / "m_corrupt.png")]


def test_strict_decoding_raises_the_first_bad_file_in_order(folder):
    from srop_onnx.errors import InputDataError
    from srop_onnx.inputs.inputspec import input_spec
    from srop_onnx.inputs.preprocess import make_preprocess
    from srop_onnx.inputs.samples import InputLog, iter_samples
    from srop_onnx.model.modelio import discover_inputs, load_model

    spec = input_spec(load_model(EXAMPLE).proto)
    pre = make_preprocess(spec, None, None, None, None)
    seen = []
    with pytest.raises(InputDataError, match="m_corrupt.png"):
        for s in iter_samples(discover_inputs([folder]), spec, pre, InputLog(), strict=True, workers=4):
            seen.append(Path(s.source).name)
    assert seen == sorted(f.name for f in folder.glob("*.png") if f.name < "m_corrupt.png")
