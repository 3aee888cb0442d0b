"""Issue 40 (items 1-4): a track folder that cannot be fooled or lose a step. The step profiles are
the truth: an index that says otherwise is refused when read and rewritten by the next ``track``
run; two runs into one folder take turns; hostile steps and disks that say no are one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import srop_onnx
from srop_onnx import InputDataError, SropError, UsageError
from srop_onnx.cli import main
from conftest import mounted
from test_tracking import _model, ckpts  # noqa: F401 - the fixture

INDEX = "track.json"


def _track(folder, inputs, out, *extra):
    return CliRunner().invoke(main, ["track", str(folder), "--inputs", str(inputs), "-o", str(out), "-q", "-b", "4",
                                     *map(str, extra)])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}


@pytest.fixture
def built(ckpts, tmp_path):  # noqa: F811
    folder, inputs = ckpts
    out = tmp_path / "track"
    res = _track(folder, inputs, out)
    assert res.exit_code == 0, res.output
    return folder, inputs, out, _files(out)


def _edit_index(out: Path, change) -> None:
    index = json.loads((out / INDEX).read_text())
    change(index)
    (out / INDEX).write_text(json.dumps(index, indent=1))


def _copy_profile(out: Path) -> None:
    shutil.copy(out / "profiles" / "step-00000001.json", out / "profiles" / "step-00000002.json")


TAMPERING = {
    "a profile copied over another step's": _copy_profile,
    "an entry pointing at another step's profile":
        lambda out: _edit_index(out, lambda d: d["steps"][2].update(profile=d["steps"][1]["profile"])),
    "a renumbered step": lambda out: _edit_index(out, lambda d: d["steps"][2].update(step=5)),
    "a zeroed sha256": lambda out: _edit_index(out, lambda d: d["steps"][1]["model"].update(sha256="0" * 64)),
    "a number edited by hand": lambda out: _edit_index(out, lambda d: d["steps"][3]["layers"][0].update(mean=0.5)),
    "a deleted profile": lambda out: (out / "profiles" / "step-00000002.json").unlink(),
    "a truncated profile": lambda out: (out / "profiles" / "step-00000002.json").write_text('{"format": "srop-onn'),
    "an unlisted profile": lambda out: shutil.copy(out / "profiles" / "step-00000001.json",
                                                   out / "profiles" / "step-00000007.json"),
}


@pytest.mark.parametrize("case", list(TAMPERING), ids=lambda c: c.replace(" ", "-"))
def test_a_tampered_track_is_refused_when_read_and_rebuilt_by_the_next_run(built, case, tmp_path):
    folder, inputs, out, before = built
    TAMPERING[case](out)
    with pytest.raises(InputDataError, match="rebuild it|missing or unreadable"):
        srop_onnx.Track.load(out)
    for cmd in (["plot", str(out / INDEX), "-o", str(tmp_path / "h.png"), "--kind", "heatmap"],
                ["report", str(out / INDEX), "-o", str(tmp_path / "r.html")]):
        res = CliRunner().invoke(main, cmd)
        assert res.exit_code == 2 and res.output.count("error:") == 1, res.output
        assert not (tmp_path / "h.png").exists() and not (tmp_path / "r.html").exists()
    if case == "an unlisted profile":  # a profile whose own step says 1: the rerun leaves it out
        (out / "profiles" / "step-00000007.json").unlink()
    res = _track(folder, inputs, out)
    assert res.exit_code == 0, res.output
    assert _files(out) == before  # the same bytes as the untouched track
    assert srop_onnx.Track.load(out).steps == [0, 1, 2, 10]


def test_an_unreadable_index_is_rebuilt_from_the_profiles(built):
    folder, inputs, out, before = built
    (out / INDEX).write_text("{ not json")
    res = _track(folder, inputs, out)
    assert res.exit_code == 0, res.output
    assert _files(out) == before


def _concurrent(cmds: list[list[str]]) -> list[subprocess.CompletedProcess]:
    procs = [subprocess.Popen([sys.executable, "-m", "srop_onnx", *c], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for c in cmds]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate()) for p in procs]


def test_two_runs_into_one_folder_keep_every_step(ckpts, tmp_path):  # noqa: F811
    folder, inputs = ckpts
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for e in (0, 2):
        shutil.copy(folder / f"epoch_e{e}.onnx", a)
    for e in (1, 10):
        shutil.copy(folder / f"epoch_e{e}.onnx", b)
    out = tmp_path / "track"
    runs = _concurrent([["track", str(d), "--inputs", str(inputs), "-o", str(out), "-q", "-b", "4"] for d in (a, b)])
    assert [r.returncode for r in runs] == [0, 0], [r.stderr for r in runs]
    track = srop_onnx.Track.load(out)
    assert track.steps == [0, 1, 2, 10]
    alone = srop_onnx.track(folder, inputs, tmp_path / "alone", batch_size=4)
    def numbers(entries):  # the models sat in other folders: their paths differ, nothing else
        return [{**e, "model": e["model"]["sha256"]} for e in entries]

    assert numbers(json.loads((out / INDEX).read_text())["steps"]) == numbers(alone.index["steps"])


def test_a_second_writer_with_other_settings_is_refused_and_the_folder_stays_whole(ckpts, tmp_path):  # noqa: F811
    folder, inputs = ckpts
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    shutil.copy(folder / "epoch_e0.onnx", a)
    shutil.copy(folder / "epoch_e1.onnx", b)
    out = tmp_path / "track"
    runs = _concurrent([["track", str(a), "--inputs", str(inputs), "-o", str(out), "-q"],
                        ["track", str(b), "--inputs", str(inputs), "-o", str(out), "-q", "--kappa", "0.9"]])
    codes = sorted(r.returncode for r in runs)
    assert codes == [0, 2], [r.stderr for r in runs]
    refused = next(r for r in runs if r.returncode == 2)
    lines = [ln for ln in refused.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "settings" in lines[0], refused.stderr
    track = srop_onnx.Track.load(out)  # whole: one run's step, its settings
    assert len(track.steps) == 1


@pytest.mark.parametrize("step", [-1, 2.7, "epoch-3", True, 2**63, None])
def test_a_step_that_is_not_a_whole_number_from_0_is_refused_in_one_line(ckpts, step):  # noqa: F811
    folder, inputs = ckpts
    tk = srop_onnx.Tracker(None, inputs)
    with pytest.raises(UsageError, match=r"steps are whole numbers from 0 to 2\^63-1"):
        tk.add(step, folder / "epoch_e0.onnx")
    assert tk.add(np.int64(3), folder / "epoch_e0.onnx").analyzed == 6  # a NumPy integer is a step


@pytest.mark.parametrize("name, steps", [("e99999999999999999999.onnx", None), ("e" + "7" * 245 + ".onnx", None),
                                         ("e0.onnx", "9" * 250), ("e0.onnx", str(2**63))])
def test_a_step_beyond_int64_is_one_line(ckpts, tmp_path, name, steps):  # noqa: F811
    folder, inputs = ckpts
    weird = tmp_path / "weird"
    weird.mkdir()
    shutil.copy(folder / "epoch_e0.onnx", weird / name)
    extra = ["--steps", steps] if steps else []
    res = _track(weird, inputs, tmp_path / "out", "--tensorboard", tmp_path / "tb", *extra)
    assert res.exit_code == 2 and res.output.count("error:") == 1 and "2^63-1" in res.output, res.output
    assert not (tmp_path / "out").exists()


def test_a_tracker_whose_folder_is_a_file_is_one_line(ckpts, tmp_path):  # noqa: F811
    _folder, inputs = ckpts
    (tmp_path / "f").write_text("x")
    with pytest.raises(SropError, match="is a file, not a folder"):
        srop_onnx.Tracker(tmp_path / "f", inputs)


def test_a_track_on_a_read_only_disk_is_refused_before_any_step(ckpts, tmp_path):  # noqa: F811
    folder, inputs = ckpts
    with mounted(tmp_path / "ro", "ro,size=1m") as ro:
        res = _track(folder, inputs, ro / "track")
        assert res.exit_code == 2 and "read-only file system" in res.output and res.output.count("error:") == 1


def test_tensorboard_on_a_full_disk_is_one_line(ckpts, tmp_path):  # noqa: F811
    folder, inputs = ckpts
    with mounted(tmp_path / "full", "size=12k") as full:
        (full / "filler").write_bytes(b"\0" * 4096 * 3)  # the disk is full now
        res = subprocess.run([sys.executable, "-m", "srop_onnx", "track", str(folder), "--inputs", str(inputs), "-o",
                              str(tmp_path / "track"), "-q", "--tensorboard", str(full / "tb")],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 2 and res.stderr.count("error:") == 1, res.stderr
        assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr  # nothing at exit either
        assert "--tensorboard" in res.stderr and "No space left" in res.stderr


@pytest.mark.parametrize("extra, needle", [(["--kappa", "0.9"], "other settings"), (["--limit", "3"], "another --limit")])
def test_a_rerun_over_steps_already_there_with_other_settings_or_limit_is_refused(built, extra, needle):
    """Issue 37 item 5: never "already in the track, skipped" while showing numbers of other settings."""
    folder, inputs, out, before = built
    res = _track(folder, inputs, out, *extra)
    assert res.exit_code == 2 and needle in res.output and res.output.count("error:") == 1, res.output
    assert _files(out) == before


def test_a_track_can_be_named_and_keeps_one_name(ckpts, tmp_path):  # noqa: F811
    """Issue 37 item 7: the report is titled after the run's name, not after its first file."""
    folder, inputs = ckpts
    out = tmp_path / "t"
    assert _track(folder, inputs, out, "--name", "run 7 (lr 1e-3)").exit_code == 0
    index = json.loads((out / INDEX).read_text())
    assert index["name"] == "run 7 (lr 1e-3)"
    before = _files(out)
    assert _track(folder, inputs, out).exit_code == 0 and _files(out) == before  # no name given: the track's
    res = _track(folder, inputs, out, "--name", "another")
    assert res.exit_code == 2 and "is named 'run 7 (lr 1e-3)'" in res.output
    report = CliRunner().invoke(main, ["report", str(out), "-o", str(tmp_path / "r.html")])
    assert report.exit_code == 0 and "SROP across training: run 7 (lr 1e-3) (4 steps)" in (tmp_path / "r.html").read_text()
    assert srop_onnx.Track.load(out).index["name"] == "run 7 (lr 1e-3)"
