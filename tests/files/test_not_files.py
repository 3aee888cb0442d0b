"""Issue 40 (items 5, 6, 8b): what is not a file behind a path or URL, and storage that never
answers. A FIFO, a device or a silent endpoint is one line and an exit code in bounded time; a
pipe is a fair way to pass a profile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from conftest import EXAMPLE, EXAMPLE_IMAGES

POSIX = os.name == "posix"


def _cli(*args, env=None, timeout=120):
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "srop_onnx", *map(str, args)], capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, **(env or {})})
    return res, time.monotonic() - t0


def _one_error(res) -> str:
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    return lines[0]


@pytest.fixture
def fifo(tmp_path):
    if not POSIX:
        pytest.skip("FIFOs are POSIX")
    path = tmp_path / "named.onnx"
    os.mkfifo(path)
    return path


def test_a_file_url_to_a_fifo_or_a_device_is_refused_at_once(fifo):
    for url in (f"file://{fifo}", "file:///dev/zero"):
        res, took = _cli("analyze", url, EXAMPLE_IMAGES, "-q", timeout=60)
        assert "not a regular file" in _one_error(res) and took < 30


def test_a_file_url_to_a_fifo_among_inputs_is_skipped_and_the_run_goes_on(tmp_path):
    if not POSIX:
        pytest.skip("FIFOs are POSIX")
    shutil.copytree(EXAMPLE_IMAGES, tmp_path / "val")
    os.mkfifo(tmp_path / "val" / "z_fifo.png")
    res, took = _cli("analyze", EXAMPLE, f"file://{tmp_path / 'val'}/", "-q", "--json", tmp_path / "p.json",
                     timeout=120)
    assert res.returncode == 0, res.stderr
    assert "z_fifo.png" in res.stderr and (tmp_path / "p.json").is_file()


def test_a_profile_through_a_pipe_is_read_and_a_fifo_without_writer_is_one_line(tmp_path, fifo):
    golden = tmp_path / "g.json"
    res, _ = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", golden)
    assert res.returncode == 0, res.stderr
    if shutil.which("bash"):
        piped = subprocess.run(["bash", "-c", f'"{sys.executable}" -m srop_onnx check <(cat "{golden}") --against '
                                              f'"{golden}"'], capture_output=True, text=True, timeout=120)
        assert piped.returncode == 0 and "PASS" in piped.stdout, piped.stderr
    res, took = _cli("check", fifo, "--against", golden, timeout=60)
    assert "the pipe gave nothing" in _one_error(res) and took < 30
    big = subprocess.Popen(["bash", "-c", f'yes "[" | head -c 2000000 > "{fifo}"'])  # a writer, not a profile
    res, _ = _cli("check", fifo, "--against", golden, timeout=60)
    big.wait(timeout=30)
    assert "not JSON" in _one_error(res) or "nested too deeply" in _one_error(res)


@pytest.fixture
def silent_endpoint():
    """An 'S3 endpoint' on 127.0.0.1 that accepts every connection and never answers."""
    from s3server import silent_endpoint as serve

    with serve() as url:
        yield url


def test_an_endpoint_that_never_answers_is_one_line_in_bounded_time(silent_endpoint):
    pytest.importorskip("s3fs", reason="needs the test servers: pip install -e '.[servers]'")
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}
    res, took = _cli("--storage-option", f"endpoint_url={silent_endpoint}", "--storage-option", "read_timeout=1",
                     "analyze", EXAMPLE, "s3://data/val/", "-q", env=env, timeout=120)
    assert "does not answer" in _one_error(res) and took < 30


def test_the_default_waits_add_up_to_about_a_minute():
    """Per request: connect + read timeout, tried twice by botocore, never again by s3fs."""
    pytest.importorskip("s3fs", reason="needs the test servers: pip install -e '.[servers]'")
    from srop_onnx.files import remote

    t = remote.S3_TIMEOUTS
    assert 2 * t["max_attempts"] * (t["connect_timeout"] + t["read_timeout"]) <= 70  # a HEAD and a listing
    remote.set_storage_options(["endpoint_url=http://127.0.0.1:9"])
    try:
        fs, _path = remote._filesystem("s3://bucket/key")
    finally:
        remote.set_storage_options([])
    assert fs.retries == 1
    config = fs.config_kwargs if hasattr(fs, "config_kwargs") else fs.kwargs.get("config_kwargs")
    assert config["read_timeout"] == t["read_timeout"] and config["retries"]["max_attempts"] == 2


@pytest.mark.parametrize("option, needle", [("client_kwargs=x", "give a JSON object"),
                                            ("read_timeout=soon", "positive number of seconds"),
                                            ('client_kwargs={"aws_secret_access_key": "s"}', "never given"),
                                            ("no_such_option=1", "not an option of this storage")])
def test_storage_options_that_cannot_work_are_one_line(option, needle):
    pytest.importorskip("s3fs", reason="needs the test servers: pip install -e '.[servers]'")
    res, _ = _cli("--storage-option", option, "analyze", "s3://bucket/m.onnx", EXAMPLE_IMAGES, "-q", timeout=120)
    assert needle in _one_error(res)


def test_a_url_with_credentials_in_it_is_refused_and_never_echoed():
    res, _ = _cli("analyze", "s3://AKIAEXAMPLEKEY:wJalrSecretValue@bucket/m.onnx", EXAMPLE_IMAGES, "-q", timeout=60)
    line = _one_error(res)
    assert "credentials in it" in line and "s3://***@bucket/m.onnx" in line
    assert "wJalrSecretValue" not in res.stderr + res.stdout and "AKIAEXAMPLEKEY" not in res.stderr + res.stdout
    debug, _ = _cli("--debug", "analyze", "s3://AKIAEXAMPLEKEY:wJalrSecretValue@bucket/m.onnx", EXAMPLE_IMAGES,
                    timeout=60)
    assert "wJalrSecretValue" not in debug.stderr + debug.stdout


@pytest.mark.parametrize("args, needle", [
    (["analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "memory://bucket/out/"], "is a prefix (it ends in /)"),
    (["analyze", EXAMPLE, EXAMPLE_IMAGES, "--storage-option", "region_name=x"],
     "--storage-option goes before the command"),
    (["--storage-option", "endpoint_url=127.0.0.1:9000", "analyze", "s3://b/m.onnx", EXAMPLE_IMAGES],
     "give the endpoint with its scheme, e.g. --storage-option endpoint_url=http://127.0.0.1:9000"),
])
def test_storage_mistakes_of_issue_41_are_one_line(args, needle):
    res, took = _cli(*args, timeout=60)
    assert needle in _one_error(res) and took < 30
