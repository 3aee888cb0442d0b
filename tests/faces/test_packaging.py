"""Issue 30: what a pip user meets. The wheel's package page (absolute links, Project-URLs), the
shipped example (``pip install srop-onnx && srop-onnx example`` in a fresh environment, outside the
repository), and a version that says which code a build is."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    return next(out.glob("srop_onnx-*.whl"))


def _metadata(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as z:
        return z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()


def test_the_package_page_has_absolute_links_and_project_urls(wheel):
    meta = _metadata(wheel)
    urls = dict(line.split(": ", 1)[1].split(", ", 1) for line in meta.splitlines() if line.startswith("Project-URL"))
    assert {"Repository", "Documentation", "Changelog", "Issues"} <= set(urls)
    repo = urls["Repository"]
    body = meta.split("\n\n", 1)[1]
    targets = re.findall(r"\]\(([^)]+)\)", body)
    assert targets and all(t.startswith(("https://", "#")) for t in targets), [t for t in targets if "://" not in t]
    assert f"{repo}/raw/main/docs/depth.png" in body  # the figure shows on the package page
    assert "OWNER" not in body and "OWNER" not in (REPO / "docs" / "cli.md").read_text()


def test_the_wheel_ships_the_example(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    assert any(n.endswith("data/share/srop-onnx/example/example.onnx") for n in names)
    assert sum(n.endswith(".png") and "/example/images/" in n for n in names) == 8


def test_pip_install_then_srop_onnx_example_runs_outside_the_repository(wheel, tmp_path):
    """A fresh venv with the wheel (its dependencies borrowed from this environment, offline): the
    README's user command, from a folder that is not the repository."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    res = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                          "--quiet", str(wheel)], capture_output=True, text=True)
    if res.returncode != 0 and "no such option: --python" in res.stderr:
        pytest.skip("this pip cannot install into another environment (--python)")
    assert res.returncode == 0, res.stderr[-2000:]
    env = dict(os.environ, PYTHONPATH=sysconfig.get_paths()["purelib"] + os.pathsep + sysconfig.get_paths()["platlib"])
    where = tmp_path / "elsewhere"
    where.mkdir()
    exe = venv / ("Scripts/srop-onnx.exe" if os.name == "nt" else "bin/srop-onnx")
    out = subprocess.run([str(exe), "example"], cwd=where, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "block3.0" in out.stdout and str(REPO) not in out.stdout + out.stderr
    check = subprocess.run([str(py), "-c", "import srop_onnx, sys; print(srop_onnx.__file__)"], cwd=where,
                           capture_output=True, text=True, env=env)
    assert str(venv) in check.stdout  # the installed wheel ran, not the source tree
    copied = subprocess.run([str(exe), "example", "--copy", "try"], cwd=where, capture_output=True, text=True,
                            env=env)
    assert copied.returncode == 0 and (where / "try" / "example.onnx").is_file()
    assert len(list((where / "try" / "images").glob("*.png"))) == 8


def test_the_version_is_the_newest_release_of_the_changelog():
    import srop_onnx

    text = (REPO / "CHANGELOG.md").read_text()
    newest = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, re.M)[0]
    pyproject = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.M).group(1)
    assert pyproject == newest == srop_onnx.__version__
