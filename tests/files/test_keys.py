"""Inputs that share an identity (a name given twice from two folders, two folders of one layout):
the identities stay as the method defines them (sweep noise is seeded by them), and the run says in
one line which inputs cannot be told apart, and how to tell them apart."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES
from srop_onnx.cli import main
from srop_onnx.files.keys import identity_note, shared_identities
from srop_onnx.files.remote import RemoteFile
from srop_onnx.model.modelio import discover_keyed


def test_distinct_identities_say_nothing(tmp_path):
    found = [(tmp_path / "a" / "x.png", "x.png"), (tmp_path / "b" / "y.png", "y.png"),
             (tmp_path / "c" / "d" / "z.png", "d/z.png")]
    assert shared_identities(found) == {} and identity_note(found) is None


def test_the_same_file_twice_shares_nothing_whatever_its_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = [(tmp_path / "a" / "0.png", "0.png"), (os.path.join("a", "..", "a", "0.png"), "0.png")]
    assert shared_identities(found) == {}


def test_different_files_of_one_identity_are_named_in_one_line(tmp_path):
    found = [(tmp_path / "cat" / "0.png", "0.png"), (tmp_path / "dog" / "0.png", "0.png"),
             (tmp_path / "dog" / "1.png", "1.png"), (RemoteFile("s3://b/train/cat/1.png", 3), "1.png")]
    assert list(shared_identities(found)) == ["0.png", "1.png"]
    note = identity_note(found)
    assert note.startswith(f"note: 2 inputs share the identity 0.png ({tmp_path / 'cat' / '0.png'}, "
                           f"{tmp_path / 'dog' / '0.png'}) and 1 more identity: sources, labels and sweep noise "
                           "cannot tell them apart; give the folder above them")
    assert "\n" not in note


@pytest.fixture
def classes(tmp_path):
    for cls, src in (("cat", "disk"), ("dog", "cross")):
        (tmp_path / "val" / cls).mkdir(parents=True)
        for i in range(2):
            shutil.copyfile(EXAMPLE_IMAGES / f"{src}_{i}.png", tmp_path / "val" / cls / f"{i}.png")
    return tmp_path / "val"


def test_files_given_one_by_one_from_class_folders_are_told_and_keep_their_names(classes, tmp_path, monkeypatch):
    """What ``srop-onnx analyze model.onnx val/*/*.png`` gives: the shell lists the files."""
    monkeypatch.chdir(tmp_path)
    files = sorted(str(p.relative_to(tmp_path)) for p in classes.glob("*/*.png"))
    assert [k for _, k in discover_keyed(files)] == ["0.png", "1.png", "0.png", "1.png"]  # the method's identities
    result = CliRunner().invoke(main, ["analyze", str(EXAMPLE), *files, "--json", "p.json"])
    assert result.exit_code == 0, result.output
    assert "note: 2 inputs share the identity 0.png (val/cat/0.png, val/dog/0.png) and 1 more identity" \
        in result.output
    assert json.loads((tmp_path / "p.json").read_text())["inputs"]["sources"] == ["0.png", "1.png", "0.png", "1.png"]
    os.remove("p.json")
    notes: list[str] = []
    srop_onnx.analyze(EXAMPLE, classes, notify=notes.append)  # the folder above them: nothing to say
    assert not any("share the identity" in n for n in notes)


def test_a_track_over_inputs_that_share_an_identity_says_so_once(classes, tmp_path):
    files = [str(classes / "cat" / "0.png"), str(classes / "dog" / "0.png")]
    result = CliRunner().invoke(main, ["track", str(EXAMPLE), "--steps", "3", "--inputs", files[0], "--inputs", files[1],
                                       "-o", str(tmp_path / "track")])
    assert result.exit_code == 0, result.output
    assert result.output.count("note: 2 inputs share the identity 0.png") == 1
