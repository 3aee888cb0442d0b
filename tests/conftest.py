from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Keras 3 runs on its PyTorch backend in the tests (no TensorFlow is installed for them)
os.environ.setdefault("KERAS_BACKEND", "torch")

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "models"))

# Tests that expect exact histograms run on the CPU, also on a GPU machine with onnxruntime-gpu
# (where --provider auto would pick CUDA); GPU tests name provider="cuda" and use the docs/method.md bound.
os.environ.setdefault("SROP_ONNX_PROVIDER", "cpu")
# The CLI sizes its tables to $COLUMNS when it is set (else 160 columns off a terminal); the tests
# read whole tables, so they never take the width of whatever terminal or harness started them
# (a pytest-xdist worker can have COLUMNS=80).
os.environ.pop("COLUMNS", None)


@pytest.fixture(autouse=True)
def _no_terminal_width(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture
def rng():
    return np.random.default_rng(20261124)


def _cupy_usable() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


_XP_PARAMS = [
    pytest.param("numpy", id="numpy"),
    pytest.param("array_api_strict", id="array_api_strict"),
    pytest.param("cupy", id="cupy", marks=pytest.mark.gpu),
]


@pytest.fixture(params=_XP_PARAMS)
def xp(request):
    """Array namespace: NumPy, array-api-strict (portability proof), CuPy (GPU only)."""
    name = request.param
    if name == "cupy" and not _cupy_usable():
        pytest.skip("CuPy with a CUDA device is not available")
    if name == "array_api_strict":
        mod = pytest.importorskip("array_api_strict")
        return mod
    import array_api_compat

    mod = importlib.import_module(name)
    return array_api_compat.array_namespace(mod.asarray([1.0]))


def to_np(a):
    from srop_onnx.core._xp import to_numpy

    return np.asarray(to_numpy(a))


def gpu_available() -> bool:
    return _cupy_usable()


REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "models" / "example.onnx"
EXAMPLE_RANDOM = REPO / "models" / "example-random.onnx"
EXAMPLE_IMAGES = REPO / "models" / "images"


@pytest.fixture(scope="session")
def fixtures(tmp_path_factory):
    """Tiny hand-built ONNX models (tests/models/make_models.py), written fresh per session."""
    sys.path.insert(0, str(Path(__file__).parent / "models"))
    from make_models import build_all

    return build_all(tmp_path_factory.mktemp("onnx-fixtures"))


def sha256(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def ort_outputs(model_path, feeds: dict, tensors: list[str]) -> dict:
    """Run ONNX Runtime directly with ``tensors`` added as outputs (independent of srop_onnx.model.graph)."""
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(model_path))
    have = {o.name for o in m.graph.output}
    for t in tensors:
        if t not in have:
            vi = onnx.ValueInfoProto()
            vi.name = t
            m.graph.output.append(vi)
    sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    return dict(zip(tensors, sess.run(tensors, feeds)))


def assert_matches_reference(profile, model_path, batch, input_name, dims=2, others=None):
    """Every layer histogram equals the literal reference on ORT activations (``others``: the
    model's other inputs, fed with the whole batch at once)."""
    from reference import ref_bins, ref_m

    acts = ort_outputs(model_path, {input_name: batch, **(others or {})}, [lay.tensor for lay in profile.layers])
    for lay in profile.layers:
        ref = ref_bins(acts[lay.tensor].astype(np.float64), 0.85, dims=dims)
        hist = np.bincount(ref[ref >= 0], minlength=lay.stats.m + 1)
        np.testing.assert_array_equal(lay.stats.histogram, hist, err_msg=lay.name)
        assert lay.stats.dead == np.count_nonzero(ref == -1)
        assert lay.stats.m == (ref_m(max(lay.shape[1:])) if dims == 2 else lay.shape[1] // 2)


# -- nothing is left behind in the working tree ------------------------------------------------------
#: what a test run may add at the top of the tree and of tests/ (caches, the CI's environment, the
#: browser tests' screenshots in test-output/, kept for a person to look at)
_MAY_APPEAR = re.compile(r"^(?:test-output|\.pytest_cache|__pycache__|\.venv.*|\.coverage.*|\.hypothesis"
                         r"|.*\.egg-info|build)$")
_TREE_BEFORE: dict = {}


@contextlib.contextmanager
def mounted(path: Path, options: str):
    """A small tmpfs at ``path`` (read-only, or a few kB) where this machine lets the tests mount one
    (Linux, root); the test is skipped elsewhere."""
    path.mkdir(parents=True, exist_ok=True)
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a test file system needs Linux and root")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a test file system here: {res.stderr.strip()[:100]}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def interrupted_at_batch(monkeypatch, batch: int = 3):
    """A run stopped as by Ctrl-C when it feeds its ``batch``-th batch (the ones before are done and,
    with a checkpoint, saved); the model is fed as usual again after the block."""
    import srop_onnx.run.execution as ex

    real, calls = ex.feed, {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == batch:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(ex, "feed", flaky)
    try:
        with pytest.raises(KeyboardInterrupt):
            yield
    finally:
        monkeypatch.setattr(ex, "feed", real)


@contextlib.contextmanager
def local_ray():
    """A local Ray of two CPUs and a small object store for the test, shut down after it. Ray gives
    its raylet a fixed 30 s to register; on two cores shared with other test processes (``-n 2``) a
    start once took longer, so a start that times out is tried once more. Skipped without Ray (the
    servers extra)."""
    ray = pytest.importorskip("ray", reason="needs the test servers: pip install -e '.[servers]'")
    for attempt in (1, 2):
        try:
            ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                     object_store_memory=256 * 2**20)  # not Ray's 30 % of the machine: the tests send kilobytes
            break
        except Exception as e:  # noqa: BLE001 - Ray raises a bare Exception for this
            ray.shutdown()
            if attempt == 2 or "timed out during startup" not in str(e):
                raise
    try:
        yield ray
    finally:
        ray.shutdown()


def _tree_entries() -> dict:
    return {folder: set(os.listdir(folder)) for folder in (REPO, REPO / "tests")}


def pytest_sessionstart(session):
    _TREE_BEFORE.update(_tree_entries())


def pytest_sessionfinish(session, exitstatus):
    """A file a test (or the code under test) leaves in the working tree, as ONNX Runtime's shape
    inference once left ``sym_shape_infer_temp.onnx`` in the directory it ran from, fails the run."""
    if not _TREE_BEFORE or hasattr(session.config, "workerinput"):  # pytest-xdist: the controller checks
        return
    new = sorted(str(folder.relative_to(REPO) / name) for folder, names in _tree_entries().items()
                 for name in names - _TREE_BEFORE.get(folder, set()) if not _MAY_APPEAR.match(name))
    if new:
        session.config.get_terminal_writer().line(f"files left in the working tree by the tests: {', '.join(new)}",
                                                  red=True)
        session.exitstatus = 1
