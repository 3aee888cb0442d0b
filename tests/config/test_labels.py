"""Issue 38: where a sample's class comes from (config/labels.py), rule by rule."""

from __future__ import annotations

import numpy as np
import pytest

from srop_onnx.config.labels import label_notes, label_rule, label_text
from srop_onnx.errors import InputDataError, UsageError


def test_folders_take_the_first_folder_of_the_identity():
    rule = label_rule("folders")
    assert rule.of("cat/1.png") == "cat" and rule.of("cat/sub/2.png") == "cat"
    assert rule.of("loose.png") is None and rule.of("batch.npz[3]") is None


def test_a_table_labels_rows_by_their_file_and_names_unused_paths(tmp_path):
    table = tmp_path / "l.csv"
    table.write_text("\ufefflabel,path\ndog,a.png\ncat,batch.npz\nbird,batch.npz[2]\nfish,win\\x.png\n\n")
    rule = label_rule(str(table))
    assert rule.of("a.png") == "dog" and rule.of("batch.npz[0]") == "cat" and rule.of("batch.npz[2]") == "bird"
    assert rule.of("win/x.png") == "fish" and rule.of("b.png") is None  # a Windows path's separators
    assert rule.unused(["a.png", "batch.npz[0]", "batch.npz[2]"]) == ["win/x.png"]
    notes = label_notes(rule, ["a.png", "b.png"], ["dog", None])
    assert notes[0].startswith("note: 1 of 2 sample(s) have no label, not in ")
    assert "3 path(s) name no analysed sample: batch.npz, batch.npz[2], win/x.png" in notes[1]


def test_a_rule_is_what_a_checkpoint_remembers():
    assert label_rule("folders").fingerprint() != label_rule("npz:y").fingerprint()
    assert label_rule({"a": 1}).fingerprint() == label_rule({"a": "1"}).fingerprint()
    assert label_rule({"a": 1}).fingerprint() != label_rule({"a": 2}).fingerprint()


def test_label_text_keeps_whole_numbers_whole():
    assert [label_text(v) for v in (3, 3.0, np.int64(7), np.float32(2.0), 2.5, b"cat", " x ")] == \
        ["3", "3", "7", "2", "2.5", "cat", "x"]
    with pytest.raises(InputDataError, match="a label is empty"):
        label_text("  ")


@pytest.mark.parametrize("value, message", [
    ("npz:", "npz:KEY names the .npz array"),
    ("cats", "^labels takes 'folders', a CSV file"),
    (3, "labels must be 'folders', a CSV path"),
])
def test_bad_rules_are_one_line(value, message):
    with pytest.raises(UsageError, match=message):
        label_rule(value)


def test_a_missing_table_names_the_file(tmp_path):
    with pytest.raises(InputDataError, match=r"nope\.csv: no such file"):
        label_rule(str(tmp_path / "nope.csv"))
