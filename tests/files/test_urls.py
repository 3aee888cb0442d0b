"""Issue 29: URLs wherever a path is accepted, through fsspec's in-memory filesystem (the S3
servers are in test_buckets.py): every command's inputs and outputs, one-PUT writes, and the
checks that keep outputs off inputs and credentials off the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES
from srop_onnx import UsageError, analyze
from srop_onnx.cli import main

fsspec = pytest.importorskip("fsspec")


@pytest.fixture
def bucket():
    fs = fsspec.filesystem("memory")
    root = "/t29"
    for p in sorted(EXAMPLE_IMAGES.iterdir()):
        fs.pipe_file(f"{root}/val/sub/{p.name}" if p.name.startswith("c") else f"{root}/val/{p.name}", p.read_bytes())
    fs.pipe_file(f"{root}/model.onnx", EXAMPLE.read_bytes())
    yield fs, f"memory:/{root}"
    fs.rm(root, recursive=True)


def test_every_command_reads_and_writes_urls(bucket, tmp_path):
    fs, url = bucket
    run = CliRunner().invoke
    steps = [["analyze", f"{url}/model.onnx", f"{url}/val/", "-q", "--shard", "1/2", "--json", f"{url}/out/a.json",
              "--csv", f"{url}/out/a.csv", "--report", f"{url}/out/a.html"],
             ["analyze", str(EXAMPLE), f"{url}/val/", "-q", "--shard", "2/2", "--json", f"{url}/out/b.json"],
             ["merge", f"{url}/out/a.json", f"{url}/out/b.json", "-o", f"{url}/out/m.json"],
             ["check", f"{url}/out/m.json", "--against", f"{url}/out/m.json"],
             ["compare", f"{url}/out/m.json", f"{url}/out/m.json"],
             ["plot", f"{url}/out/m.json", "-o", f"{url}/out/d.png"],
             ["report", f"{url}/out/m.json", "-o", f"{url}/out/r.html"],
             ["sweep", str(EXAMPLE), f"{url}/val/", "--levels", "0,1", "--noise", "gaussian", "-q", "-o",
              f"{url}/out/s.json"]]
    for args in steps:
        res = run(main, args)
        assert res.exit_code == 0, (args[0], res.output)
    made = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(url[len("memory:/"):] + "/out", detail=False))
    assert made == ["a.csv", "a.html", "a.json", "b.json", "d.png", "m.json", "r.html", "s.json"]
    assert fs.cat_file(url[len("memory:/"):] + "/out/d.png")[:4] == b"\x89PNG"


def test_keys_and_digest_equal_a_local_copy(bucket, tmp_path):
    fs, url = bucket
    local = tmp_path / "val"
    fs.get(url[len("memory:/"):] + "/val/", str(local) + "/", recursive=True)
    a, b = analyze(EXAMPLE, f"{url}/val/"), analyze(EXAMPLE, local)
    assert a.sources == b.sources and any("/" in s for s in a.sources)  # sub/... keys, as a local folder gives
    assert a.to_dict() == b.to_dict()


def test_outputs_never_land_on_inputs_and_credentials_never_on_the_command_line(bucket):
    _fs, url = bucket
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), f"{url}/val/", "-q", "--json", f"{url}/val/p.json"])
    assert res.exit_code == 2 and "that is an input" in res.output
    from srop_onnx.files.remote import set_storage_options, storage_options

    with pytest.raises(UsageError, match="credentials are never given on the command line"):
        set_storage_options(["aws_secret_access_key=abc"])
    with pytest.raises(UsageError, match="give KEY=VALUE"):
        set_storage_options(["endpoint_url"])
    set_storage_options(["region_name=eu-west-1"])
    assert storage_options() == {"region_name": "eu-west-1"}
    set_storage_options([])
    res = CliRunner().invoke(main, ["--storage-option", "token=abc", "layers", str(EXAMPLE)])
    assert res.exit_code == 2 and "abc" not in res.output


def test_a_missing_object_is_one_line(bucket):
    _fs, url = bucket
    res = CliRunner().invoke(main, ["analyze", f"{url}/nothing.onnx", f"{url}/val/", "-q"])
    assert res.exit_code == 2 and "no such object" in res.output and len(res.output.strip().splitlines()) == 1
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), f"{url}/empty/", "-q"])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output
    assert Path(str(EXAMPLE)).exists()
