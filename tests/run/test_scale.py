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

from conftest import EXAMPLE, EXAMPLE_IMAGES, interrupted_at_batch, local_ray, mounted
from srop_onnx import InputDataError, OutputError, Profile, UsageError, analyze
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


def test_shards_that_analysed_nothing_merge_into_the_single_runs_error(tmp_path):
    """Every shard skipped its files: the merge is the error one run over them gives, not an empty profile
    (a Ray run over one bad file wrote a profile of nothing and exited 0)."""
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("a", "b"):
        np.savez(bad / f"{name}.npz", x=np.zeros((1, 3, 64, 64), np.float32))  # no 'y' for labels npz:y
    parts = [analyze(EXAMPLE, bad, labels="npz:y", shard=(i, 2)) for i in (1, 2)]
    assert [p.analyzed for p in parts] == [0, 0]
    with pytest.raises(InputDataError, match=r"^no usable inputs: .*a\.npz: no array 'y' .* \(and 1 more\)$"):
        merge_profiles(parts)
    with pytest.raises(InputDataError, match=r"^no usable inputs: .*a\.npz: no array 'y'"):
        analyze(EXAMPLE, bad, labels="npz:y")  # the single run it stands for


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


def test_a_run_resumes_from_another_working_directory_and_after_a_move(tmp_path, folder, monkeypatch):
    """A checkpoint knew its inputs by their paths as typed: ``analyze m.onnx imgs`` killed in ``run/``
    and rerun from its parent as ``run/imgs`` was "saved by a run with other arguments". A run knows
    them by their identities and sizes; their bytes are still checked as they are read."""
    work = tmp_path / "run"
    shutil.copytree(folder, work / "imgs")
    ckpt = work / "c.ckpt"
    monkeypatch.chdir(work)
    with interrupted_at_batch(monkeypatch):
        analyze(EXAMPLE, "imgs", batch_size=2, checkpoint="c.ckpt", checkpoint_every=1)
    monkeypatch.chdir(tmp_path)
    notes: list[str] = []
    resumed = analyze(EXAMPLE, "run/imgs/*.png", batch_size=2, checkpoint=ckpt, notify=notes.append)
    assert any(n.startswith("resuming from") for n in notes)
    straight = analyze(EXAMPLE, folder, batch_size=2)
    assert resumed.sources == straight.sources and resumed.to_dict()["layers"] == straight.to_dict()["layers"]
    changed = work / "imgs" / sorted(p.name for p in folder.iterdir())[0]
    data = bytearray(changed.read_bytes())
    data[-20] ^= 1  # same name and size, other bytes: refused, as before
    changed.write_bytes(bytes(data))
    with pytest.raises(UsageError, match="delete the checkpoint to start over"):
        analyze(EXAMPLE, "run/imgs", batch_size=2, checkpoint=ckpt)


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
    ckpt = tmp_path / "c.ckpt"
    with interrupted_at_batch(monkeypatch):
        analyze(EXAMPLE, folder, batch_size=3, checkpoint=ckpt, checkpoint_every=1)
    # two batches of 3 samples (the corrupt file yields none) were saved before the interruption
    assert len(json.loads(ckpt.read_text())["partial"]["inputs"]["sources"]) == 6
    resumed = analyze(EXAMPLE, folder, batch_size=3, checkpoint=ckpt, checkpoint_every=1)
    assert _comparable(resumed) == _comparable(single)


# -- Ray -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray():
    """One local Ray for this module's tests (each start costs seconds, and on two busy cores may time out)."""
    with local_ray() as ray:
        yield ray


@pytest.mark.slow
def test_ray_engine_on_a_local_two_worker_ray(folder, single, ray):
    from srop_onnx.run.distributed import analyze_ray

    prof = analyze_ray(EXAMPLE, folder, batch_size=3, provider="cpu")
    threads = ray.get([_threads_in_a_task(ray, user) for user in (None, "2")])
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
def test_ray_engine_from_the_cli(folder, single, tmp_path, ray):
    """The CLI path of --engine ray (it once crashed with a TypeError: only the API was tested)."""
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), str(folder), "--engine", "ray", "--shards", "3",
                                    "-b", "3", "--provider", "cpu", "-q", "--json", str(tmp_path / "r.json")])
    assert res.exit_code == 0, res.output
    prof = Profile.load(tmp_path / "r.json")
    assert prof.extra["engine"] == {"name": "ray", "shards": 3, "gpu": False}
    assert _comparable(prof) == _comparable(single)


@pytest.mark.slow
def test_ray_engine_names_skipped_files_and_options_as_the_command_does(tmp_path, monkeypatch, ray):
    """A file a worker skips is said as a run on this machine says it: named as the argument names it
    (not the absolute path the worker was sent), with the command's spelling of the option
    (``--labels npz:y``, not Python's ``labels='npz:y'``); a run whose shards analysed nothing fails as
    one run would, and --strict's error names the file the same way."""
    monkeypatch.chdir(tmp_path)
    for folder, names in (("mixed", ("a", "b", "c")), ("bad", ("d",))):
        Path(folder).mkdir()
        for i, name in enumerate(names):
            arrays = {"x": np.full((1, 3, 64, 64), i, np.float32)}
            if name not in ("b", "d"):
                arrays["y"] = np.array([i])
            np.savez(Path(folder) / f"{name}.npz", **arrays)
    base = ["analyze", str(EXAMPLE), "--labels", "npz:y", "--provider", "cpu", "-q"]
    runs = {key: CliRunner().invoke(main, [*base, folder, *extra])
            for key, folder, extra in (("ray", "mixed", ["--engine", "ray", "--shards", "2", "--json", "r.json"]),
                                       ("here", "mixed", ["--json", "h.json"]),
                                       ("nothing", "bad", ["--engine", "ray", "--shards", "2"]),
                                       ("strict", "mixed", ["--engine", "ray", "--shards", "2", "--strict"]))}
    said = "mixed/b.npz: no array 'y' for --labels npz:y (it holds x)"
    assert runs["ray"].exit_code == 0, runs["ray"].output
    assert f"skipped: {said}" in runs["ray"].output and str(tmp_path) not in runs["ray"].output
    assert Profile.load("r.json").skipped_inputs == Profile.load("h.json").skipped_inputs
    assert Profile.load("r.json").skipped_inputs[0]["path"] == "mixed/b.npz"
    assert runs["nothing"].exit_code == 2, runs["nothing"].output
    assert "error: no usable inputs: bad/d.npz: no array 'y' for --labels npz:y" in runs["nothing"].output
    assert runs["strict"].exit_code == 2 and f"error: {said}" in runs["strict"].output, runs["strict"].output


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


def test_files_a_worker_names_are_named_as_the_arguments_name_them(tmp_path, monkeypatch):
    """The driver sends workers absolute paths; what they say of a file comes back in the arguments'
    own words, as a run on this machine names it (relative stays relative, '..' stays, an @list's
    entry as the run resolves it), and anything else is left as it is."""
    from srop_onnx.run.distributed import _given_names, _named_as_given, _skip_as_given

    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs" / "deep").mkdir(parents=True)
    for name in ("a b.npy", "deep/c.npy"):
        np.save(tmp_path / "imgs" / name, np.zeros((1, 3, 8, 8), np.float32))
    (tmp_path / "val.txt").write_text("imgs/deep/c.npy\n")
    inside = str(tmp_path / "imgs" / "a b.npy")
    deep = str(tmp_path / "imgs" / "deep" / "c.npy")
    assert _named_as_given(f"{inside}: cannot read it: bad", ["imgs"]) == f"{Path('imgs', 'a b.npy')}: cannot read it: bad"
    assert _named_as_given(deep, "imgs/") == str(Path("imgs", "deep", "c.npy"))
    assert _named_as_given(inside, [str(tmp_path / "imgs")]) == inside  # given absolute: stays absolute
    assert _named_as_given(f"{tmp_path / 'other.npy'}: no", ["imgs"]) == f"{tmp_path / 'other.npy'}: no"
    assert _named_as_given("s3://b/imgs/a.npy: no", ["s3://b/imgs/"]) == "s3://b/imgs/a.npy: no"
    assert _given_names(["@val.txt"]) == {deep: str(Path("imgs", "deep", "c.npy"))}
    from srop_onnx.files import lists
    from srop_onnx.run.distributed import _task_inputs

    monkeypatch.setattr(lists, "_STDIN", [b"imgs/deep/c.npy\n"])  # @-: a list piped in, read once
    parts = _task_inputs(["@-", "imgs/a b.npy"], 2)  # a worker of a cluster works in a folder of its own
    assert [str(f) for p in parts for f, _key in p.entries] == [deep, inside]
    assert _given_names(["@-"]) == {deep: str(Path("imgs", "deep", "c.npy"))}
    monkeypatch.chdir(tmp_path / "imgs")
    assert _named_as_given(inside, ["../imgs", "."]) == str(Path("..", "imgs", "a b.npy"))
    names = _given_names(".")
    entry = {"path": inside, "reason": f"{inside}: truncated"}
    assert _skip_as_given(entry, names) == {"path": "a b.npy", "reason": "a b.npy: truncated"}
    assert _skip_as_given(entry, {}) == entry
    quoted = {"path": inside, "reason": f"{inside}: cannot read image (cannot identify image file '{inside}')"}
    assert _skip_as_given(quoted, names)["reason"] == "a b.npy: cannot read image (cannot identify image file 'a b.npy')"
    assert _given_names(np.zeros((2, 3, 8, 8), np.float32)) == {}  # rows of an array: no paths
