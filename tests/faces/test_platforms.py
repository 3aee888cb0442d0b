"""Issue 21: the CLI's main paths run where the Unix-only pieces are missing (Windows: no
``resource``, ``fcntl``, ``os.sysconf``, ``/proc``; macOS: no ``SC_AVPHYS_PAGES``, no
``sched_getaffinity``). Memory figures fall back to psutil or to "unknown", never to an error."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES, REPO
from srop_onnx.cli import main


@pytest.fixture
def no_unix(monkeypatch, tmp_path):
    """Make the Unix-only pieces unavailable, as on Windows (and macOS for sysconf/affinity)."""
    import srop_onnx.run.runtime as runtime

    monkeypatch.setitem(sys.modules, "resource", None)  # `import resource` raises ImportError
    monkeypatch.setitem(sys.modules, "fcntl", None)
    monkeypatch.setitem(sys.modules, "psutil", None)  # and no psutil to fall back on: "unknown"

    def sysconf(name):
        raise ValueError(f"unrecognized configuration name {name!r}")

    monkeypatch.setattr(os, "sysconf", sysconf)
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    if hasattr(os, "process_cpu_count"):  # Python 3.13: where there is no affinity, os defines it as cpu_count
        monkeypatch.setattr(os, "process_cpu_count", os.cpu_count)
    monkeypatch.setattr(runtime, "MEMINFO", str(tmp_path / "no-proc-meminfo"))
    return tmp_path


def run(*args):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code in (0, 1), res.output
    return res


def test_without_unix_pieces_memory_is_unknown_or_a_default_never_an_error(no_unix):
    from srop_onnx.run.execution import peak_memory
    from srop_onnx.run.runtime import UNKNOWN_FREE_MEMORY, available_memory
    from srop_onnx.core._xp import cpu_workers

    assert peak_memory()["peak_rss_bytes"] is None
    assert available_memory("cpu") == UNKNOWN_FREE_MEMORY
    assert cpu_workers() >= 1


def test_where_free_memory_is_unknown_a_data_loader_is_not_bounded_by_a_guess(no_unix, rng):
    """A loader held in memory is refused past half the free memory where the platform says what is
    free; where it does not (macOS, Windows without psutil), a guess of 2 GiB would refuse loaders that
    fit: there is no bound."""
    import srop_onnx
    from srop_onnx.run.stages import held_budget

    assert held_budget() is None
    batches = (rng.standard_normal((2, 3, 64, 64)).astype(np.float32) for _ in range(3))
    assert srop_onnx.analyze(EXAMPLE, batches, progress=False).analyzed == 6


def test_analyze_with_every_output_and_auto_batch(no_unix):
    d = no_unix
    res = run("--debug", "analyze", EXAMPLE, EXAMPLE_IMAGES, "-b", "auto", "--record-run", "--json", d / "p.json",
              "--csv", d / "p.csv", "--report", d / "r.html", "--kernels", d / "k.npz")
    assert "peak_rss_bytes None" in res.output  # --debug says "unknown", and the run went on
    doc = json.loads((d / "p.json").read_text())
    assert doc["settings"]["batch_size"] == "auto" and doc["extra"]["run"]["peak_rss_bytes"] is None
    assert (d / "p.csv").read_text().splitlines()[0].endswith(",units,kappa")
    assert (d / "k.npz").stat().st_size > 0 and "<html" in (d / "r.html").read_text()


def test_sweep_check_merge_plot_report(no_unix):
    d = no_unix
    run("sweep", EXAMPLE, EXAMPLE_IMAGES, "--noise", "gaussian", "--levels", "0,1", "-o", d / "s.json",
        "--profiles", d / "levels", "--plot", d / "s.png", "--report", d / "s.html", "-q")
    run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", d / "g.json")
    res = run("check", d / "levels" / "level-0.json", "--against", d / "g.json", "--tol", "0", "--junit", d / "j.xml")
    assert res.exit_code == 0 and "PASS" in res.output
    for i in (1, 2):
        run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--shard", f"{i}/2", "--json", d / f"part{i}.json")
    run("merge", d / "part1.json", d / "part2.json", "-o", d / "m.json")
    assert json.loads((d / "m.json").read_text())["inputs"]["analyzed"] == 8
    for kind in ("depth", "box", "kde", "kernels"):
        run("plot", d / "g.json", "-o", d / f"{kind}.png", "--kind", kind)
    run("plot", d / "s.json", "-o", d / "sweep.svg")
    run("report", d / "g.json", d / "m.json", "-o", d / "two.html")
    run("compare", d / "g.json", d / "m.json")


def test_checkpoint_resume(no_unix, monkeypatch):
    """A run stopped after its first checkpoint resumes to the same profile as a clean run."""
    from srop_onnx.run.stages import Checkpointer

    d = no_unix
    saves = []
    original = Checkpointer.save

    def stop_after_first(self, run, profile, complete):
        original(self, run, profile, complete)
        saves.append(complete)
        if not complete:
            raise KeyboardInterrupt

    monkeypatch.setattr(Checkpointer, "save", stop_after_first)
    args = ("analyze", EXAMPLE, EXAMPLE_IMAGES, "-b", "2", "--checkpoint", d / "c.ckpt", "--checkpoint-every", "1")
    res = CliRunner().invoke(main, [str(a) for a in (*args, "-q", "--json", d / "a.json")])
    assert res.exit_code == 130 and saves == [False]
    monkeypatch.setattr(Checkpointer, "save", original)
    res = run(*args, "--json", d / "a.json")
    assert "resuming from" in res.output
    run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "-b", "2", "--json", d / "clean.json")
    a, clean = (json.loads((d / n).read_text()) for n in ("a.json", "clean.json"))
    assert a["layers"] == clean["layers"] and a["inputs"]["sources"] == clean["inputs"]["sources"]


def test_the_ci_workflow_runs_the_readme_test_command_on_three_systems():
    yaml = pytest.importorskip("yaml")
    path = REPO / ".github" / "workflows" / "tests.yml"
    if not path.exists():
        pytest.skip("the workflow is not part of this copy (an sdist)")
    flow = yaml.safe_load(path.read_text())
    job = flow["jobs"]["tests"]
    assert set(job["strategy"]["matrix"]["os"]) == {"ubuntu-latest", "macos-latest", "windows-latest"}
    pythons = job["strategy"]["matrix"]["python-version"]
    floor = (REPO / "pyproject.toml").read_text().split('requires-python = ">=')[1].split('"')[0]
    assert pythons[0] == floor and len(pythons) >= 3
    steps = " ".join(str(s.get("run", "")) for s in job["steps"])
    readme = (REPO / "README.md").read_text()
    assert "python -m pytest -q" in steps and "python -m pytest -q" in readme
    assert ".github/workflows/tests.yml" in readme


def test_paths_written_into_files_use_forward_slashes(tmp_path):
    """Identity keys (what seeds a sweep's noise) are the same on every system."""
    from srop_onnx.model.modelio import discover_keyed

    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/b/x.npy", "a/y.npy"):
        (tmp_path / name).write_bytes(b"")
    keys = [k for _, k in discover_keyed([tmp_path / "a"])]
    assert keys == ["b/x.npy", "y.npy"]
    assert all("\\" not in k for k in keys) and Path(REPO).exists()
