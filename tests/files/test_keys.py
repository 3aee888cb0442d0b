"""Sample identities tell every input apart: keys that different files share are lengthened by
their own parent folders, and only those."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES
from srop_onnx.cli import main
from srop_onnx.files.keys import unique_keys
from srop_onnx.files.remote import RemoteFile
from srop_onnx.model.modelio import discover_keyed


def _keys(found) -> list[str]:
    return [k for _, k in found]


def test_unique_keys_are_left_as_they_are(tmp_path):
    found = [(tmp_path / "a" / "x.png", "x.png"), (tmp_path / "b" / "y.png", "y.png"),
             (tmp_path / "c" / "d" / "z.png", "d/z.png")]
    assert unique_keys(found) == found


def test_shared_keys_grow_by_one_folder_at_a_time_until_they_differ(tmp_path):
    found = [(tmp_path / "val" / "cat" / "0.png", "0.png"), (tmp_path / "val" / "dog" / "0.png", "0.png"),
             (tmp_path / "val" / "dog" / "1.png", "1.png")]
    assert _keys(unique_keys(found)) == ["cat/0.png", "dog/0.png", "1.png"]
    deeper = [(tmp_path / "train" / "cat" / "0.png", "cat/0.png"), (tmp_path / "val" / "cat" / "0.png", "cat/0.png"),
              (tmp_path / "val" / "cat" / "1.png", "cat/1.png")]
    assert _keys(unique_keys(deeper)) == ["train/cat/0.png", "val/cat/0.png", "cat/1.png"]


def test_a_key_lengthened_into_another_grows_again(tmp_path):
    """x/0.png and y/0.png share 0.png; lengthened, x/0.png meets the key of a file of a folder
    argument: those two grow once more."""
    found = [(tmp_path / "x" / "0.png", "0.png"), (tmp_path / "y" / "0.png", "0.png"),
             (tmp_path / "f" / "x" / "0.png", "x/0.png")]
    assert _keys(unique_keys(found)) == [f"{tmp_path.name}/x/0.png", "y/0.png", "f/x/0.png"]


def test_the_same_file_twice_keeps_one_key_whatever_its_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    found = [(tmp_path / "a" / "0.png", "0.png"), (os.path.join("a", "..", "a", "0.png"), "0.png")]
    assert _keys(unique_keys(found)) == ["0.png", "0.png"]


def test_objects_of_two_prefixes_are_told_apart_by_theirs():
    found = [(RemoteFile("s3://data/train/cat/0.png", 10), "cat/0.png"),
             (RemoteFile("s3://data/val/cat/0.png", 10), "cat/0.png")]
    assert _keys(unique_keys(found)) == ["train/cat/0.png", "val/cat/0.png"]


def test_files_given_one_by_one_from_class_folders_keep_their_class_in_the_key(tmp_path, monkeypatch):
    """What ``srop-onnx analyze model.onnx val/*/*.png`` gives: the shell lists the files."""
    for cls, src in (("cat", "disk"), ("dog", "cross")):
        (tmp_path / "val" / cls).mkdir(parents=True)
        for i in range(2):
            shutil.copyfile(EXAMPLE_IMAGES / f"{src}_{i}.png", tmp_path / "val" / cls / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    files = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "val").glob("*/*.png"))
    assert _keys(discover_keyed(files)) == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]
    assert _keys(discover_keyed([tmp_path / "val"])) == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]
    result = CliRunner().invoke(main, ["analyze", str(EXAMPLE), *files, "--json", "p.json", "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["inputs"]["sources"] == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png"]
    os.remove("p.json")


@pytest.mark.parametrize("sub", ["a", "b"])
def test_keys_do_not_depend_on_the_working_directory(tmp_path, monkeypatch, sub):
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        shutil.copyfile(EXAMPLE_IMAGES / "disk_0.png", tmp_path / d / "0.png")
    (tmp_path / sub).mkdir()
    monkeypatch.chdir(tmp_path / sub)
    assert _keys(discover_keyed(["../x/0.png", str(tmp_path / "y" / "0.png")])) == ["x/0.png", "y/0.png"]
