"""Issue 29: URLs wherever a path is accepted, through fsspec's in-memory filesystem (the S3
servers are in test_buckets.py): every command's inputs and outputs, one-PUT writes, and the
checks that keep outputs off inputs and credentials off the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM
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


def _with_external_data(tmp_path, location="example.onnx.data"):
    """The example model saved with every weight in one external data file (``location``)."""
    import onnx

    proto = onnx.load(str(EXAMPLE))
    out = tmp_path / "ext"
    out.mkdir(exist_ok=True)
    onnx.save_model(proto, str(out / "example.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=256)
    return out


def test_a_model_with_external_data_in_a_bucket_is_read_with_its_data(bucket, tmp_path):
    fs, url = bucket
    folder = _with_external_data(tmp_path)
    root = url[len("memory:/"):]
    for p in folder.iterdir():
        fs.pipe_file(f"{root}/ext/{p.name}", p.read_bytes())
    assert (folder / "example.onnx").stat().st_size < EXAMPLE.stat().st_size // 2  # the weights are outside
    remote, local = analyze(f"{url}/ext/example.onnx", EXAMPLE_IMAGES), analyze(folder / "example.onnx", EXAMPLE_IMAGES)
    assert remote.to_dict()["layers"] == local.to_dict()["layers"] == analyze(EXAMPLE, EXAMPLE_IMAGES).to_dict()["layers"]
    assert remote.model["sha256"] == local.model["sha256"]  # the .onnx file's bytes, as for a local model


@pytest.mark.parametrize("location, said", [("../outside.data", "outside the model's folder"),
                                            ("/etc/passwd", "not a file name inside the model's folder"),
                                            ("s3://other/w.data", "not a file name inside the model's folder"),
                                            ("missing.data", "which is missing; put memory://")])
def test_external_data_in_a_bucket_never_leaves_the_models_folder(bucket, tmp_path, location, said):
    import onnx

    fs, url = bucket
    folder = _with_external_data(tmp_path)
    proto = onnx.load(str(folder / "example.onnx"), load_external_data=False)
    for t in proto.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
    root = url[len("memory:/"):]
    fs.pipe_file(f"{root}/ext/example.onnx", proto.SerializeToString())
    fs.pipe_file(f"{root}/outside.data", (folder / "example.onnx.data").read_bytes())  # there, but out of bounds
    res = CliRunner().invoke(main, ["analyze", f"{url}/ext/example.onnx", str(EXAMPLE_IMAGES), "-q"])
    assert res.exit_code == 2 and said in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_a_track_from_checkpoints_in_a_bucket_into_a_bucket(bucket, tmp_path):
    """``track`` reads checkpoints and inputs from a bucket and writes its folder under a prefix;
    a rerun skips the steps there; ``plot`` and ``report`` read it back. The same as a local track."""
    from srop_onnx import Track

    fs, url = bucket
    root = url[len("memory:/"):]
    local_ck = tmp_path / "ck"
    local_ck.mkdir()
    for step, src in ((0, EXAMPLE_RANDOM), (10, EXAMPLE)):
        fs.pipe_file(f"{root}/ck/epoch_{step}.onnx", src.read_bytes())
        (local_ck / f"epoch_{step}.onnx").write_bytes(src.read_bytes())
    run = CliRunner().invoke
    res = run(main, ["track", f"{url}/ck/", "--inputs", f"{url}/val/", "-o", f"{url}/track/", "-q"])
    assert res.exit_code == 0, res.output
    assert sorted(fs.ls(f"{root}/track/profiles", detail=False)) == [f"{root}/track/profiles/step-00000000.json",
                                                                    f"{root}/track/profiles/step-00000010.json"]
    res = run(main, ["track", f"{url}/ck/", "--inputs", f"{url}/val/", "-o", f"{url}/track/"])
    assert res.exit_code == 0 and res.output.count("already in the track") == 2, res.output
    local = tmp_path / "track"
    local_val = tmp_path / "val"
    fs.get(f"{root}/val/", str(local_val) + "/", recursive=True)
    assert run(main, ["track", str(local_ck), "--inputs", str(local_val), "-o", str(local), "-q"]).exit_code == 0
    remote_track, local_track = Track.load(f"{url}/track/"), Track.load(local)
    assert remote_track.steps == local_track.steps == [0, 10]
    assert [p.to_dict()["layers"] for p in remote_track.profiles] == [p.to_dict()["layers"] for p in local_track.profiles]
    for args in (["plot", f"{url}/track/", "--kind", "heatmap", "-o", f"{url}/out/h.png"],
                 ["report", f"{url}/track/track.json", "-o", f"{url}/out/t.html"]):
        res = run(main, args)
        assert res.exit_code == 0, (args[0], res.output)
    assert fs.cat_file(f"{root}/out/h.png")[:4] == b"\x89PNG" and b"<html" in fs.cat_file(f"{root}/out/t.html")[:500]
    res = run(main, ["track", f"{url}/ck/", "--inputs", f"{url}/val/", "-o", f"{url}/val/track"])
    assert res.exit_code == 2 and "holds your inputs or checkpoints" in res.output
    res = run(main, ["track", f"{url}/ck/", "--inputs", f"{url}/val/", "-o", f"{url}/t2", "--tensorboard", f"{url}/tb"])
    assert res.exit_code == 0, res.output  # TensorBoard reads log folders in buckets: events go there too
    events = [k for k in fs.find(f"{root}/tb") if "events.out.tfevents." in k]
    assert len(events) == 1
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                            reason="needs the test frameworks: pip install -e '.[frameworks]'")
    local_tb = tmp_path / "tb"
    local_tb.mkdir()
    (local_tb / Path(events[0]).name).write_bytes(fs.cat_file(events[0]))
    acc = event_accumulator.EventAccumulator(str(local_tb))
    acc.Reload()
    first = local_track.profiles[0].layers[0]
    scalars = acc.Scalars(f"srop/mean/{first.name}")
    assert [s.step for s in scalars] == [0, 10]
    assert scalars[0].value == pytest.approx(first.summary("band").mean, rel=1e-6)


def test_gs_urls_without_gcsfs_name_the_extra_in_one_line():
    """In a process where gcsfs cannot be imported (installed or not here)."""
    import subprocess
    import sys

    cases = [("gs://bucket/val/", "gcsfs"), ("gs://bucket/val/*/*.jpg", "gcsfs"),  # a pattern: named as typed
             ("gs://bucket/val/", "aiohttp")]  # what gcsfs brings, absent too (the contributor install)
    for url, absent in cases:
        code = (f"import sys; sys.modules['gcsfs'] = sys.modules[{absent!r}] = None; from srop_onnx.cli import main; "
                f"main(['analyze', {str(EXAMPLE)!r}, {url!r}, '-q'])")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert res.returncode == 2 and "pip install 'srop-onnx[gcs]'" in res.stderr, res.stderr
        assert res.stderr.startswith(f"error: {url}: "), res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and res.stdout == ""


def test_sweep_profiles_blend_and_twin_go_to_and_come_from_urls(bucket, tmp_path, monkeypatch):
    """``sweep --profiles URL/ --blend URL`` and ``randomize -o URL``: objects under the prefix,
    never a local folder named after the scheme (``memory:/...``)."""
    from srop_onnx import Profile

    fs, url = bucket
    root = url[len("memory:/"):]
    blend = sorted(EXAMPLE_IMAGES.iterdir())[0]
    fs.pipe_file(f"{root}/blend/{blend.name}", blend.read_bytes())
    monkeypatch.chdir(tmp_path)  # anything written locally by mistake would land here
    run = CliRunner().invoke
    res = run(main, ["sweep", f"{url}/model.onnx", f"{url}/val/", "--levels", "0,1", "--blend",
                     f"{url}/blend/{blend.name}", "-q", "--profiles", f"{url}/levels/"])
    assert res.exit_code == 0, res.output
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{root}/levels", detail=False)) == ["level-0.json",
                                                                                        "level-1.json"]
    local = run(main, ["sweep", str(EXAMPLE), str(EXAMPLE_IMAGES), "--levels", "0,1", "--blend", str(blend), "-q",
                       "--profiles", str(tmp_path / "levels")])
    assert local.exit_code == 0, local.output
    assert Profile.load(f"{url}/levels/level-1.json").to_dict()["layers"] == \
        Profile.load(tmp_path / "levels" / "level-1.json").to_dict()["layers"]
    res = run(main, ["randomize", f"{url}/model.onnx", "-o", f"{url}/twin.onnx", "--seed", "3"])
    assert res.exit_code == 0, res.output
    assert fs.cat_file(f"{root}/twin.onnx") != fs.cat_file(f"{root}/model.onnx")
    res = run(main, ["randomize", f"{url}/model.onnx", "-o", f"{url}/model.onnx"])
    assert res.exit_code == 2 and fs.cat_file(f"{root}/model.onnx") == EXAMPLE.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["levels"]  # nothing named memory: here


def test_a_url_that_lost_a_slash_is_refused_not_written_locally(tmp_path):
    from srop_onnx.errors import OutputError
    from srop_onnx.files.writes import atomic_write_text

    with pytest.raises(OutputError, match=r"s3:/bucket/p.json: looks like a URL with one '/'"):
        atomic_write_text("s3:/bucket/p.json", "{}")
    atomic_write_text(tmp_path / "ok.json", "{}")  # a plain path is fine


@pytest.mark.parametrize("exc, said", [
    # botocore's text for a stopped endpoint quotes its URL: a port such as 40343 holds "403"
    (type("EndpointConnectionError", (Exception,), {})(
        'Could not connect to the endpoint URL: "http://127.0.0.1:40343/data?list-type=2"'), "does not answer"),
    (OSError('Could not connect to the endpoint URL: "http://127.0.0.1:14045/x"'), "does not answer"),
    (PermissionError("Forbidden"), "access denied"),
    (OSError("An error occurred (403) when calling the ListObjectsV2 operation: Forbidden"), "access denied"),
    (FileNotFoundError("data/val/x.png"), "no such object"),
    (OSError("An error occurred (404) when calling the HeadObject operation: Not Found"), "no such object"),
    (OSError("An error occurred (NoSuchBucket) when calling the ListObjectsV2 operation"), "no such bucket"),
])
def test_storage_failures_are_told_by_what_they_are_not_by_digits_in_a_url(exc, said):
    from srop_onnx.files.remote import _why

    assert said in _why(exc, "s3://data/val/")
