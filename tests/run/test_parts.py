"""Issue 29: ``--engine ray --parts DIR``: each shard keeps its partial profile as it finishes, and
a rerun runs only the shards whose part is missing or stale, so a job that lost a node finishes
with the work that was left. A part is reused only when it proves it is that shard of this run."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace

import pytest
from click.testing import CliRunner

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES, local_ray, mounted
from srop_onnx.cli import main
from srop_onnx.errors import InputDataError, OutputError, UsageError
from srop_onnx.results.profile import Profile
from srop_onnx.run.parts import Expected, load_parts, part_path, prepare_parts


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Nine images (the example's, under other names), so three shards of three."""
    d = tmp_path_factory.mktemp("images")
    src = sorted(EXAMPLE_IMAGES.iterdir())
    for i in range(9):
        shutil.copyfile(src[i % len(src)], d / f"{i:02d}_{src[i % len(src)].name}")
    return d


@pytest.fixture(scope="module")
def single(images):
    return srop_onnx.analyze(EXAMPLE, images)


@pytest.fixture(scope="module")
def shard2(images):
    return srop_onnx.analyze(EXAMPLE, images, shard=(2, 3))


def _expected(part: Profile) -> Expected:
    info = part.extra["shard"]
    return Expected(part.tool_version, part.model["sha256"], info["list_digest"], info["inputs"], part.settings)


# -- what makes a part valid (no Ray) --------------------------------------------------------------

def test_a_part_of_this_run_is_valid(shard2):
    assert _expected(shard2).problem(shard2, 2, 3) is None


@pytest.mark.parametrize("change, why", [
    (lambda e: replace(e, sha256="0" * 64), "another model"),
    (lambda e: replace(e, list_digest="f" * 64), "another input list"),
    (lambda e: replace(e, inputs=10), "another input list"),
    (lambda e: replace(e, tool_version="0.0.1"), "written by srop-onnx"),
    (lambda e: replace(e, settings=dict(e.settings, kappa=0.9)), "other settings (kappa: 0.85 vs 0.9)"),
])
def test_a_part_of_another_run_is_stale_and_says_why(shard2, change, why):
    problem = change(_expected(shard2)).problem(shard2, 2, 3)
    assert problem is not None and why in problem


def test_a_part_of_another_shard_or_an_edited_slice_is_stale(shard2):
    e = _expected(shard2)
    assert "not shard 1/3" in e.problem(shard2, 1, 3)
    assert "not shard 2/4" in e.problem(shard2, 2, 4)
    edited = Profile.from_dict(json.loads(shard2.to_json()))
    edited.extra["shard"]["slice"] = [0, 9]
    assert "slice" in e.problem(edited, 2, 3)


def test_part_paths_in_a_folder_and_under_a_prefix(tmp_path):
    assert part_path("s3://b/run/parts/", 3, 12) == "s3://b/run/parts/part-0003-of-0012.json"
    assert part_path("s3://b/run/parts", 3, 12) == "s3://b/run/parts/part-0003-of-0012.json"
    assert part_path(str(tmp_path), 1, 2) == os.path.join(str(tmp_path), "part-0001-of-0002.json")


def test_prepare_parts_makes_the_folder_and_refuses_a_file(tmp_path):
    made = prepare_parts(str(tmp_path / "a" / "b"))
    assert os.path.isdir(made) and os.path.isabs(made)
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match=r"^parts .*f: is a file; give a folder"):
        prepare_parts(str(tmp_path / "f"))


def test_prepare_parts_refuses_a_read_only_disk_before_any_shard_runs(tmp_path):
    with mounted(tmp_path / "ro", "ro,size=64k") as ro:
        with pytest.raises(OutputError, match=r"^parts .*ro: cannot write there \(read-only file system\)"):
            prepare_parts(str(ro))


def test_load_parts_keeps_valid_ones_and_notes_stale_or_unreadable_ones(tmp_path, shard2):
    folder = str(tmp_path)
    shard2.to_json(part_path(folder, 2, 3))
    with open(part_path(folder, 3, 3), "w") as f:
        f.write("{not json")
    kept, notes = load_parts(folder, 3, _expected(shard2))
    assert list(kept) == [2] and kept[2].sources == shard2.sources
    assert len(notes) == 1 and "part-0003-of-0003.json: cannot be used (not JSON" in notes[0]
    assert notes[0].endswith("shard 3/3 runs again")
    # a part made with another kappa is stale
    kept, notes = load_parts(folder, 3, replace(_expected(shard2), settings=dict(shard2.settings, kappa=0.5)))
    assert kept == {} and any("other settings" in n and "shard 2/3 runs again" in n for n in notes)


def test_parts_needs_the_ray_engine(tmp_path):
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), str(EXAMPLE_IMAGES), "--parts", str(tmp_path / "p")])
    assert res.exit_code == 2 and "--parts keeps the shards of --engine ray" in res.output


def test_merge_takes_the_parts_folder(tmp_path, images, single):
    (tmp_path / "parts").mkdir()
    for i in (1, 2, 3):
        srop_onnx.analyze(EXAMPLE, images, shard=(i, 3)).to_json(part_path(str(tmp_path / "parts"), i, 3))
    res = CliRunner().invoke(main, ["merge", str(tmp_path / "parts"), "-o", str(tmp_path / "m.json")])
    assert res.exit_code == 0, res.output
    merged = Profile.load(tmp_path / "m.json")
    assert merged.to_dict()["layers"] == single.to_dict()["layers"] and merged.sources == single.sources
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(main, ["merge", str(tmp_path / "empty"), "-o", str(tmp_path / "m2.json")])
    assert res.exit_code == 2 and "holds no .json files" in res.output


# -- on a local Ray ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray():
    with local_ray() as ray:
        yield ray


def _run(images, parts, notes, **options):
    from srop_onnx.config.settings import Hooks
    from srop_onnx.run.analysis import split_options
    from srop_onnx.run.distributed import ray_analysis

    measure, how, _ = split_options(options)
    return ray_analysis(EXAMPLE, images, measure, how, Hooks(notify=notes.append), shards=3, parts=str(parts))


@pytest.mark.slow
def test_a_rerun_runs_only_the_missing_and_stale_shards(ray, images, single, tmp_path):
    parts, notes = tmp_path / "parts", []
    first = _run(images, parts, notes)
    assert first.to_dict()["layers"] == single.to_dict()["layers"] and first.sources == single.sources
    names = sorted(p.name for p in parts.iterdir())
    assert names == ["part-0001-of-0003.json", "part-0002-of-0003.json", "part-0003-of-0003.json"] and notes == []
    kept = os.stat(parts / names[0]).st_mtime_ns, (parts / names[0]).read_bytes()
    (parts / names[1]).unlink()  # lost with its node
    (parts / names[2]).write_text("{half a fi")  # cut short
    again = _run(images, parts, notes)
    assert again.to_dict() == first.to_dict()
    assert any("part-0003-of-0003.json: cannot be used" in n for n in notes)
    assert "1 of 3 shards are already done" in notes[-1] and "running the other 2" in notes[-1]
    assert (os.stat(parts / names[0]).st_mtime_ns, (parts / names[0]).read_bytes()) == kept  # not run again
    assert sorted(p.name for p in parts.iterdir()) == names
    # another kappa: every part is stale and every shard runs again
    notes.clear()
    other = _run(images, parts, notes, kappa=0.9)
    assert sum("other settings (kappa: 0.85 vs 0.9)" in n for n in notes) == 3
    from srop_onnx.run.distributed import analyze_ray

    assert other.settings["kappa"] == 0.9
    assert other.to_dict() == analyze_ray(EXAMPLE, images, shards=3, kappa=0.9).to_dict()


def test_images_and_arrays_in_memory_run_on_ray_as_in_one_process(ray, images, tmp_path):
    """The tasks get the objects themselves (pickled), each takes its rows; parts are for files."""
    import numpy as np
    from PIL import Image

    from srop_onnx.run.distributed import analyze_ray

    def same(a, b) -> bool:
        return a.to_dict()["layers"] == b.to_dict()["layers"] and a.sources == b.sources and a.settings == b.settings

    pictures = [Image.open(f) for f in sorted(images.iterdir())]
    assert same(analyze_ray(EXAMPLE, pictures, shards=3), srop_onnx.analyze(EXAMPLE, pictures))
    rows = list(np.random.default_rng(1).standard_normal((5, 3, 64, 64)).astype(np.float32))
    assert same(analyze_ray(EXAMPLE, rows, shards=2), srop_onnx.analyze(EXAMPLE, rows))
    pairs = [(np.stack(rows[:3]), np.array([0, 1, 2])), (np.stack(rows[3:]), np.array([2, 0]))]  # a loader's batches
    spread = analyze_ray(EXAMPLE, pairs, shards=2)
    assert same(spread, srop_onnx.analyze(EXAMPLE, rows)) and spread.labels == ["0", "1", "2", "2", "0"]
    with pytest.raises(UsageError, match="^parts keeps the parts of a run over files; inputs in memory have nothing"):
        analyze_ray(EXAMPLE, pictures, shards=3, parts=tmp_path / "parts")
    files = sorted(images.iterdir())  # (path, label) pairs are files: listed once, labelled by place, parts kept
    named = list(zip(files, ["a", "b", "a", "c", "b", "a", "c", "b"][:len(files)]))
    on_ray = analyze_ray(EXAMPLE, named, shards=3, parts=tmp_path / "named")
    assert same(on_ray, srop_onnx.analyze(EXAMPLE, named)) and on_ray.labels == [lab for _, lab in named]
    assert analyze_ray(EXAMPLE, named, shards=3, parts=tmp_path / "named").to_dict() == on_ray.to_dict()  # resumed


def test_ray_takes_a_torch_module_an_onnx_object_and_storage_options(ray, images):
    """As analyze does: a module is exported once and sent to the tasks with its name; an ONNX
    object in memory too; storage_options= is taken (for inputs or parts in a bucket)."""
    import numpy as np
    import onnx

    from srop_onnx.run.distributed import analyze_ray

    torch = pytest.importorskip("torch", reason="needs the frameworks: pip install torch==2.13.0 -e '.[frameworks]'")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.MaxPool2d(2))
    x = np.random.default_rng(2).standard_normal((5, 3, 16, 16)).astype(np.float32)
    merged, single = analyze_ray(net, x, shards=2), srop_onnx.analyze(net, x)
    assert merged.to_dict()["layers"] == single.to_dict()["layers"] and merged.model["path"] == "Sequential.onnx"
    from_proto = analyze_ray(onnx.load(EXAMPLE), images, shards=2, storage_options={"region_name": "eu-west-1"})
    assert from_proto.to_dict()["layers"] == srop_onnx.analyze(EXAMPLE, images).to_dict()["layers"]


def test_a_list_of_inputs_runs_on_ray_as_in_one_process(ray, images, tmp_path, monkeypatch):
    """The list is read once by the driver, from any working directory: tasks get the listing."""
    from srop_onnx.run.distributed import analyze_ray

    names = sorted(p.name for p in images.iterdir())[::2]
    (images.parent / "split.txt").write_text("".join(f"{images.name}/{n}\n" for n in names))
    monkeypatch.chdir(images.parent)
    merged = analyze_ray(EXAMPLE, "@split.txt", shards=2)
    single = srop_onnx.analyze(EXAMPLE, "@split.txt")
    assert merged.sources == single.sources == [f"{images.name}/{n}" for n in names]
    assert merged.to_dict()["layers"] == single.to_dict()["layers"]
    (images.parent / "split.txt").unlink()


@pytest.mark.slow
def test_a_failed_shard_keeps_the_others_and_the_rerun_finishes(ray, images, single, tmp_path):
    """One shard fails (a damaged image, --strict); the other two keep their parts; with the image
    mended (same size, same name: the same input list) the rerun runs only that shard."""
    folder = tmp_path / "images"
    shutil.copytree(images, folder)
    victim = sorted(folder.iterdir())[4]  # in shard 2 of 3
    good = victim.read_bytes()
    victim.write_bytes(good[:8] + bytes(len(good) - 8))
    parts, notes = tmp_path / "parts", []
    with pytest.raises(InputDataError, match=victim.name):
        _run(folder, parts, notes, strict=True)
    assert sorted(p.name for p in parts.iterdir()) == ["part-0001-of-0003.json", "part-0003-of-0003.json"]
    assert "shard 2/3 failed; the 2 finished shard(s) are kept in" in notes[-1]
    victim.write_bytes(good)
    notes.clear()
    done = _run(folder, parts, notes, strict=True)
    assert "2 of 3 shards are already done" in notes[-1]
    assert done.to_dict()["layers"] == single.to_dict()["layers"]


def test_a_lost_worker_is_one_line_that_says_what_to_do():
    """Ray's own errors for a worker or node that died carry no cause of ours: one line (exit 4,
    the input is not at fault) naming the shard; a task's own error passes through as it is."""
    from srop_onnx.errors import ResourceError
    from srop_onnx.run.distributed import _task_error

    class WorkerCrashedError(Exception):
        pass

    err = _task_error(WorkerCrashedError("The worker died unexpectedly while executing this task.\nmore"), 3, 8)
    assert isinstance(err, ResourceError)
    assert str(err).startswith("shard 3/8: the Ray task did not finish, its worker or node was lost (WorkerCrashedError: "
                               "The worker died unexpectedly") and "\n" not in str(err)

    class RayTaskError(Exception):
        cause = InputDataError("val/x.png: not an image")

    assert _task_error(RayTaskError("wrapped"), 1, 2) is RayTaskError.cause


def test_parts_never_go_among_the_inputs(tmp_path, images):
    with pytest.raises(UsageError, match=r"^parts .*: is inside .*, which holds your inputs"):
        prepare_parts(str(images / "parts"), [str(images)])
    with pytest.raises(UsageError, match=r"^parts s3://b/val/parts/: is inside s3://b/val/"):
        prepare_parts("s3://b/val/parts/", ["s3://b/val/"])
    assert prepare_parts(str(tmp_path / "p"), [str(images)]) == str(tmp_path / "p")
    pytest.importorskip("s3fs", reason="needs the s3 extra: pip install -e '.[s3]'")
    assert prepare_parts("s3://b/parts/", ["s3://b/val/"]) == "s3://b/parts/"


def test_part_counts_reads_the_names_there(tmp_path):
    from srop_onnx.run.parts import part_counts

    assert part_counts(str(tmp_path / "new")) == {}
    for name in ("part-0001-of-0008.json", "part-0002-of-0008.json", "part-0001-of-0004.json", "notes.json",
                 "part-1-of-2.json"):
        (tmp_path / name).write_text("{}")
    assert part_counts(str(tmp_path)) == {8: 2, 4: 1}


@pytest.mark.slow
def test_a_rerun_without_shards_takes_the_count_of_the_parts_there(ray, images, single, tmp_path):
    """The default shard count is the cluster's CPUs, which a lost node changes: a rerun without
    --shards resumes in the count the parts were made in, and says so."""
    from srop_onnx.config.settings import Hooks
    from srop_onnx.run.analysis import split_options
    from srop_onnx.run.distributed import ray_analysis

    parts, notes = tmp_path / "parts", []
    measure, how, _ = split_options({})
    ray_analysis(EXAMPLE, images, measure, how, shards=3, parts=str(parts))
    again = ray_analysis(EXAMPLE, images, measure, how, Hooks(notify=notes.append), parts=str(parts))
    assert "holds 3 part(s) of a run in 3 shards: running in 3 shards" in notes[0]
    assert "3 of 3 shards are already done" in notes[-1]
    assert again.extra["engine"]["shards"] == 3 and again.to_dict()["layers"] == single.to_dict()["layers"]
    notes.clear()
    ray_analysis(EXAMPLE, images, measure, how, Hooks(notify=notes.append), shards=2, parts=str(parts))
    assert "holds parts of a run in 3 shards, which shards=2 does not use; give shards=3 to resume" in notes[0]


def test_a_fifo_named_like_a_part_is_noted_not_waited_on(tmp_path, shard2):
    """Issue 40: a FIFO where a part should be (no writer) is a part that cannot be used, at once."""
    if os.name != "posix":
        pytest.skip("FIFOs are POSIX")
    folder = str(tmp_path)
    shard2.to_json(part_path(folder, 2, 3))
    os.mkfifo(part_path(folder, 1, 3))
    import time

    t0 = time.monotonic()
    kept, notes = load_parts(folder, 3, _expected(shard2))
    assert time.monotonic() - t0 < 20
    assert list(kept) == [2] and any("part-0001-of-0003.json: cannot be used" in n and "shard 1/3 runs again" in n
                                     for n in notes), notes
