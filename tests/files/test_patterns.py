"""Input arguments that are glob patterns (``images/*.png``): Windows' shells, and Python, pass them
unexpanded. They expand in sorted order, folders matched are searched, and each sample is known by
its path under the pattern's fixed folders."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES
from srop_onnx import InputDataError
from srop_onnx.cli import main
from srop_onnx.files.patterns import is_pattern
from srop_onnx.model.modelio import discover_keyed


@pytest.fixture
def data(tmp_path, monkeypatch):
    """val/cat/{0,1}.png, val/dog/{0,1}.png, val/notes.txt; the working directory is tmp_path."""
    root = tmp_path / "val"
    for cls, src in (("cat", "disk"), ("dog", "cross")):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            shutil.copyfile(EXAMPLE_IMAGES / f"{src}_{i}.png", root / cls / f"{i}.png")
    (root / "notes.txt").write_text("not an image")
    monkeypatch.chdir(tmp_path)
    return root


def _keys(found) -> list[str]:
    return [k for _, k in found]


def test_a_pattern_expands_sorted_keyed_under_its_fixed_folders(data):
    assert _keys(discover_keyed(["val/*/*.png"])) == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]
    assert _keys(discover_keyed(["val/dog/*.png"])) == ["0.png", "1.png"]
    assert _keys(discover_keyed(["val/*"])) == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]  # folders searched
    assert _keys(discover_keyed(["**/1.png"])) == ["val/cat/1.png", "val/dog/1.png"]  # ** spans folders
    assert _keys(discover_keyed([str(data / "c?t" / "[0]*")])) == ["cat/0.png"]  # an absolute pattern
    # the shell's expansion names both val/cat/0.png and val/dog/0.png '0.png'; the pattern keeps them apart
    labelled = srop_onnx.analyze(EXAMPLE, "val/*/*.png", labels="folders", progress=False)
    folder = srop_onnx.analyze(EXAMPLE, "val", labels="folders", progress=False)
    assert labelled.sources == folder.sources and labelled.labels == ["cat", "cat", "dog", "dog"]
    assert labelled.to_dict()["layers"] == folder.to_dict()["layers"]


def test_a_file_named_like_a_pattern_is_that_file(data):
    odd = data / "cat" / "a[1].png"
    shutil.copyfile(EXAMPLE_IMAGES / "disk_0.png", odd)
    assert not is_pattern(str(odd)) and is_pattern("val/cat/a[2].png")
    assert _keys(discover_keyed([str(odd)])) == ["a[1].png"]


@pytest.mark.parametrize("pattern, message", [
    ("val/*/*.jpg", r"^val/\*/\*\.jpg: matches no file or folder; give image files"),
    ("val/*.txt", r"^val/\*\.txt: matches 1 path\(s\), none of them an image or array \(\.bmp, .*\); give image files"),
])
def test_a_pattern_that_matches_no_input_says_so(data, pattern, message):
    with pytest.raises(InputDataError, match=message):
        discover_keyed([pattern])


def test_the_cli_takes_the_pattern_a_windows_shell_passes(data, tmp_path):
    out = tmp_path / "p.json"
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), "val/*/*.png", "--labels", "folders", "--json", str(out),
                                    "-q"])
    assert res.exit_code == 0, res.output
    assert srop_onnx.Profile.load(out).sources == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), "val/*.jpg"])
    assert res.exit_code == 2 and res.output.startswith("error: val/*.jpg: matches no file or folder")


@pytest.mark.parametrize("pattern, key, matches", [
    ("*.jpg", "a.jpg", True), ("*.jpg", "d/a.jpg", False),  # * stays within a folder, as glob's
    ("*/*.jpg", "d/a.jpg", True), ("**/*.jpg", "a.jpg", True), ("**/*.jpg", "x/y/a.jpg", True),
    ("val/**", "val/x/y.png", True), ("?.png", "ab.png", False), ("[ab]?.png", "a1.png", True),
    ("[!ab]?.png", "a1.png", False), ("[]]x", "]x", True), ("a+b(1).png", "a+b(1).png", True),
])
def test_a_bucket_pattern_matches_keys_as_glob_matches_paths(pattern, key, matches, tmp_path):
    from srop_onnx.files.patterns import _key_regex

    assert bool(_key_regex(pattern).fullmatch(key)) is matches
    if "]x" not in key:  # the same pattern over the same tree on disk (glob itself) agrees
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(b"")
        import glob

        hits = glob.glob(str(tmp_path / pattern), recursive=True)
        assert (str(tmp_path / key) in hits) is matches


def test_an_output_the_pattern_would_read_is_refused_before_the_run(data, tmp_path):
    """``--kernels val/cat/k.npz`` with the input ``val/*/*.np?`` was written where the next run over the
    same pattern would read it as an input; an output the pattern does not match is written."""
    import numpy as np

    np.save(data / "cat" / "x.npy", np.zeros((1, 3, 64, 64), np.float32))
    for pattern, out in (("val/*/*.np?", "val/cat/k.npz"), ("va*", "val/dog/k.npz"), ("**/*.npz", "val/k.npz")):
        res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), pattern, "--kernels", out])
        assert res.exit_code == 2, (pattern, res.output)
        assert res.output.strip() == (f"error: --kernels {out}: that is a file the input pattern {pattern} matches; "
                                      "refusing to overwrite it, choose another path")
        assert not (tmp_path / out).exists()
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), "val/*/*.npy", "--kernels", "val/cat/k.npz", "-q"])
    assert res.exit_code == 0, res.output
    assert (data / "cat" / "k.npz").exists()


def test_a_list_entry_may_be_a_pattern_keyed_as_the_list_writes_it(data, tmp_path):
    """Each entry of an @list is what an input argument may be; a pattern now too. Its samples are
    keyed below the entry's fixed folders, as a folder entry's are; one that matches nothing is
    skipped with its reason, as a missing file is."""
    (tmp_path / "split.txt").write_text("val/*/0.png\nval/dog/1.*\nnothing/*.png\n")
    notes: list[str] = []
    prof = srop_onnx.analyze(EXAMPLE, "@split.txt", progress=False, notify=notes.append)
    assert prof.sources == ["val/cat/0.png", "val/dog/0.png", "val/dog/1.png"]
    assert any("nothing/*.png: a pattern that matches no input; skipping it" in n for n in notes)
