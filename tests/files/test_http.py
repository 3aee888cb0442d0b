"""http:// and https:// URLs are read (a model, an input, a folder the server lists), never
written; a plain web server (Python's own ``http.server``) started on a free port of 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import EXAMPLE, EXAMPLE_IMAGES

pytest.importorskip("fsspec", reason="http URLs need the [http] extra")
pytest.importorskip("aiohttp", reason="http URLs need the [http] extra")

from s3server import free_port, stop, wait_for  # noqa: E402


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("site")
    shutil.copy(EXAMPLE, root / "example.onnx")
    shutil.copytree(EXAMPLE_IMAGES, root / "images")
    (root / "empty").mkdir()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, proc)
        yield {"url": f"http://127.0.0.1:{port}", "proc": proc, "root": root}
    finally:
        stop(proc)


def _cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "srop_onnx", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


def test_a_model_and_a_listed_folder_over_http_give_the_local_profile(site, tmp_path):
    """The folder's objects are the server's own links (``http://host/images/a.png``), not the
    protocol joined once more (``http://http://...``: every image skipped, before)."""
    res = _cli("analyze", f"{site['url']}/example.onnx", f"{site['url']}/images/", "-q", "--json",
               tmp_path / "web.json")
    assert res.returncode == 0 and "skipped" not in res.stderr, res.stderr
    res = _cli("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", tmp_path / "local.json")
    assert res.returncode == 0, res.stderr
    web, local = (json.loads((tmp_path / n).read_text()) for n in ("web.json", "local.json"))
    assert web["model"].pop("path") == f"{site['url']}/example.onnx"
    local["model"].pop("path")
    assert web == local  # the same bytes read: the same inputs, keys, sums and roll-offs


@pytest.mark.parametrize("what, words", [
    ("missing model", "{url}/nothing.onnx: cannot read it: no such file on the server"),
    ("missing folder", "{url}/nothing/: no such object or prefix"),
    ("empty folder", "{url}/empty/: no images or arrays there"),
    ("output", "--json {url}/p.json: an http(s) URL is read, never written; write to a local path or a bucket"),
])
def test_http_mistakes_are_one_line(site, what, words):
    url = site["url"]
    args = {"missing model": [f"{url}/nothing.onnx", EXAMPLE_IMAGES], "missing folder": [EXAMPLE, f"{url}/nothing/"],
            "empty folder": [EXAMPLE, f"{url}/empty/"],
            "output": [EXAMPLE, EXAMPLE_IMAGES, "--json", f"{url}/p.json"]}[what]
    res = _cli("analyze", *args, "-q")
    assert res.returncode == 2 and res.stderr.count("error:") == 1, res.stderr
    assert res.stderr.strip().startswith("error: " + words.format(url=url)), res.stderr


def test_a_server_that_does_not_answer_is_said_so(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    for args, words in (([f"{url}/m.onnx", EXAMPLE_IMAGES], f"{url}/m.onnx: cannot read it: the server does not answer"),
                        ([EXAMPLE, f"{url}/images/"], f"{url}/images/: cannot list it: the server does not answer")):
        res = _cli("analyze", *args, "-q")
        assert res.returncode == 2 and res.stderr.strip() == f"error: {words}", res.stderr


def test_python_refuses_to_write_a_profile_to_http_in_one_line(site):
    import srop_onnx

    profile = srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES)
    with pytest.raises(srop_onnx.OutputError, match=r"/p.json: an http\(s\) URL is read, never written"):
        profile.to_json(f"{site['url']}/p.json")


def test_a_list_on_a_web_server_names_files_beside_it(site, tmp_path):
    """``@http://host/lists/val.txt``: entries found from the list's folder on the server; one the
    server does not have is skipped with its reason."""
    root = site["root"]
    (root / "lists").mkdir(exist_ok=True)
    (root / "lists" / "val.txt").write_text("../images/disk_0.png\n../images/cross_1.png\n../images/gone.png\n")
    res = _cli("analyze", EXAMPLE, f"@{site['url']}/lists/val.txt", "-q", "--json", tmp_path / "p.json")
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["inputs"]["sources"] == ["disk_0.png", "cross_1.png"]
    assert [s["path"] for s in doc["inputs"]["skipped"]] == [f"{site['url']}/images/gone.png"]
    assert "no such file on the server" in doc["inputs"]["skipped"][0]["reason"]
