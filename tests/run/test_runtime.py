"""Execution plumbing: IOBinding, OOM halving, auto batch; GPU agreement and zero copy (GPU only)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import EXAMPLE, EXAMPLE_IMAGES, gpu_available
from srop_onnx import ModelError, ResourceError, analyze
from srop_onnx.core.cuda import DeviceOutOfMemory, cuda_problem, is_out_of_memory

needs_gpu = pytest.mark.skipif(cuda_problem() is not None or not gpu_available(),
                               reason=f"CUDA path not usable here: {cuda_problem()}")


@pytest.fixture(scope="module")
def reference():
    return analyze(EXAMPLE, EXAMPLE_IMAGES, provider="cpu", batch_size=8)


def _same(a, b):
    return [lay.stats for lay in a.layers] == [lay.stats for lay in b.layers]


def test_iobinding_on_cpu_gives_the_same_profile(reference):
    bound = analyze(EXAMPLE, EXAMPLE_IMAGES, provider="cpu", iobinding=True)
    assert bound.run["iobinding"] is True
    assert _same(bound, reference)


def test_out_of_memory_halves_the_batch_and_counts_nothing_twice(reference):
    notes = []
    # one sample's tap outputs of the example are ~0.6 MB: a 1.5 MB budget forces 8 -> 4 -> 2
    prof = analyze(EXAMPLE, EXAMPLE_IMAGES, provider="cpu", batch_size=8, memory_budget=1_500_000, notify=notes.append)
    assert _same(prof, reference)
    assert prof.run["run_batch"] == 2
    assert [n for n in notes if n.startswith("out of memory")] == [
        "out of memory at a batch of 8: retrying with 4", "out of memory at a batch of 4: retrying with 2"]
    assert [lay.stats.samples for lay in prof.layers] == [8] * len(prof.layers)


def test_out_of_memory_at_batch_one_is_a_clear_error():
    with pytest.raises(ResourceError, match="out of memory even for a batch of 1"):
        analyze(EXAMPLE, EXAMPLE_IMAGES, provider="cpu", memory_budget=1000)


def test_auto_batch_size(reference):
    notes = []
    prof = analyze(EXAMPLE, EXAMPLE_IMAGES, provider="cpu", batch_size="auto", notify=notes.append)
    assert _same(prof, reference)
    assert any(n.startswith("batch_size='auto': ") for n in notes)
    assert prof.run["batch_size"] >= 8


@pytest.mark.parametrize("exc, oom", [
    (MemoryError(), True), (DeviceOutOfMemory("x"), True),
    (RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for requested buffer"), True),
    (RuntimeError("CUDA error cudaErrorMemoryAllocation: out of memory"), True),
    (RuntimeError("cuFFT error: CUFFT_ALLOC_FAILED"), True),
    (RuntimeError("CUBLAS_STATUS_ALLOC_FAILED"), True),
    (RuntimeError("Got invalid dimensions for input"), False),
])
def test_out_of_memory_detection(exc, oom):
    assert is_out_of_memory(exc) is oom


class _FakeCupy:
    """Just enough of CuPy's memory API to check the adapter's bookkeeping without a GPU."""

    def __init__(self, free_total):
        import contextlib
        from types import SimpleNamespace

        self.readings = list(free_total)
        self.freed = 0
        self.cleared = 0
        self.cuda = SimpleNamespace(Device=lambda _i: contextlib.nullcontext(),
                                    runtime=SimpleNamespace(memGetInfo=lambda: self.readings.pop(0)))
        pool = SimpleNamespace(total_bytes=lambda: 123, free_all_blocks=self._free)
        self.get_default_memory_pool = lambda: pool
        plans = SimpleNamespace(clear=self._clear)
        self.fft = SimpleNamespace(config=SimpleNamespace(get_plan_cache=lambda: plans))

    def _free(self):
        self.freed += 1

    def _clear(self):
        self.cleared += 1


def test_device_memory_bookkeeping_is_a_no_op_without_cupy_and_keeps_the_peak_with_it(monkeypatch):
    import sys

    import srop_onnx.core.cuda as cuda

    monkeypatch.setattr(cuda, "_peak_used", None)
    if "cupy" not in sys.modules:  # the CPU path never imports CuPy: nothing to record or release
        cuda.record_device_memory()
        cuda.release_cached_memory()
        assert cuda.peak_device_memory() is None
    fake = _FakeCupy([(70, 100), (40, 100), (90, 100)])  # used: 30, 60, 10 bytes
    monkeypatch.setitem(sys.modules, "cupy", fake)
    for _ in range(3):
        cuda.record_device_memory()
    assert cuda.peak_device_memory() == {"device_pool_bytes": 123, "device_peak_used_bytes": 60}
    cuda.release_cached_memory()
    assert (fake.freed, fake.cleared) == (1, 1)


def test_auto_provider_falls_back_with_a_note():
    from srop_onnx.run.runtime import choose_provider

    choice = choose_provider("auto")
    if cuda_problem() is None:
        assert choice.name == "CUDAExecutionProvider"
    else:
        assert choice.name == "CPUExecutionProvider" and cuda_problem() in choice.note


# -- a CUDA provider that does not start (this CPU-only onnxruntime stands in for missing CUDA libraries)
cuda_absent = pytest.mark.skipif(cuda_problem() is None, reason="CUDA starts here")


@cuda_absent
def test_a_cuda_session_that_falls_back_to_cpu_is_a_device_error(fixtures):
    from srop_onnx import DeviceError
    from srop_onnx.inputs.inputspec import input_spec
    from srop_onnx.model.modelio import load_model
    from srop_onnx.run.runtime import ProviderChoice, Runner

    model = load_model(fixtures["nchw"])
    with pytest.raises(DeviceError, match=r"CUDA execution provider did not start \(.+\); .*'srop-onnx\[gpu\]'"):
        Runner(model.proto.SerializeToString(), ProviderChoice("CUDAExecutionProvider", "test"),
               input_spec(model.proto), ["c1"])


@cuda_absent
def test_auto_falls_back_to_cpu_when_cuda_does_not_start(reference, monkeypatch):
    import srop_onnx.run.runtime as runtime

    monkeypatch.setattr(runtime, "choose_provider",
                        lambda _p: runtime.ProviderChoice("CUDAExecutionProvider", "CUDA (pretended)"))
    notes = []
    prof = analyze(EXAMPLE, EXAMPLE_IMAGES, provider="auto", batch_size=8, notify=notes.append)
    assert _same(prof, reference) and prof.settings["provider"] == "CPUExecutionProvider"
    assert prof.run["iobinding"] is False
    assert notes[:2] == ["provider: CUDA (pretended)", notes[1]] and notes[1].startswith(
        "provider: CPU; CUDA not used: onnxruntime's CUDA execution provider did not start")


@cuda_absent
def test_provider_cuda_that_does_not_start_is_one_line_and_exit_2(monkeypatch):
    from click.testing import CliRunner

    import srop_onnx.core.cuda as cuda
    from srop_onnx.cli import main

    monkeypatch.setattr(cuda, "cuda_problem", lambda: None)  # every check passes, the session still fails
    res = CliRunner().invoke(main, ["analyze", str(EXAMPLE), str(EXAMPLE_IMAGES), "--provider", "cuda"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "--provider cuda: onnxruntime's CUDA execution provider did not start" in errors[0]


# -- GPU only ---------------------------------------------------------------------------
@pytest.mark.gpu
@needs_gpu
def test_gpu_profile_agrees_with_cpu_per_spec8(reference):
    gpu = analyze(EXAMPLE, EXAMPLE_IMAGES, provider="cuda", keep_bins=True)
    cpu = analyze(EXAMPLE, EXAMPLE_IMAGES, provider="cpu", keep_bins=True)
    assert gpu.settings["provider"] == "CUDAExecutionProvider"
    for g, c in zip(gpu.layers, cpu.layers):
        diff = np.abs(g.bins.astype(int) - c.bins.astype(int))
        assert diff.max() <= 1 and np.mean(diff == 0) >= 0.995
    # the baseline's pooling chain ran on the device too: same levels, means within one bin
    for g, c in zip(gpu.extra["baseline"]["chain"], cpu.extra["baseline"]["chain"]):
        assert (g["side"], g["count"]) == (c["side"], c["count"])
        assert abs(g["mean_band"] - c["mean_band"]) <= 1 / c["m"]
    assert gpu.run["device_peak_used_bytes"] > 0


@pytest.mark.gpu
@needs_gpu
def test_cupy_views_are_zero_copy():
    import onnxruntime as ort

    from srop_onnx.core.cuda import ortvalue_to_cupy

    value = ort.OrtValue.ortvalue_from_numpy(np.arange(24, dtype=np.float32).reshape(2, 3, 4), "cuda", 0)
    arr = ortvalue_to_cupy(value)
    assert arr.data.ptr == value.data_ptr()
    np.testing.assert_array_equal(arr.get(), np.arange(24, dtype=np.float32).reshape(2, 3, 4))


@pytest.mark.gpu
@needs_gpu
def test_gpu_out_of_memory_recovery(reference):
    prof = analyze(EXAMPLE, EXAMPLE_IMAGES, provider="cuda", batch_size=8, memory_budget=1_500_000)
    assert prof.run["run_batch"] == 2
    for g, c in zip(prof.layers, reference.layers):
        assert abs(g.summary().mean - c.summary().mean) < 0.01


def test_reduction_is_namespace_agnostic(reference, monkeypatch):
    """On a GPU the runner hands CuPy arrays to the reducer. Stand in with array-api-strict
    arrays: the reduction must use only the array API and give the same statistics."""
    xps = pytest.importorskip("array_api_strict")
    from srop_onnx.run.runtime import Runner

    real = Runner._run_plain

    def as_strict(self, batch, names, extras):
        return {k: xps.asarray(v) for k, v in real(self, batch, names, extras).items()}

    monkeypatch.setattr(Runner, "_run_plain", as_strict)
    prof = analyze(EXAMPLE, EXAMPLE_IMAGES, provider="cpu", batch_size=8)
    assert _same(prof, reference)


# -- docs/models.md: models written by a newer onnx; a model error is never an install problem ----------
def _rewritten(path, tmp_path, name, change):
    import onnx

    m = onnx.load(str(path))
    change(m)
    out = tmp_path / name
    onnx.save(m, str(out))
    return out


def test_a_model_above_the_runtimes_ir_version_is_lowered_in_memory_with_a_note(fixtures, tmp_path):
    """onnx 1.23 writes IR 14; onnxruntime-gpu 1.31 reads up to 13. IR 99 is above any runtime."""
    from conftest import sha256

    path = _rewritten(fixtures["nchw"], tmp_path, "ir99.onnx", lambda m: setattr(m, "ir_version", 99))
    before = sha256(path)
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16)).astype(np.float32)
    notes: list[str] = []
    lowered = analyze(path, x, provider="cpu", notify=notes.append)
    plain = analyze(fixtures["nchw"], x, provider="cpu")
    assert _same(lowered, plain)
    ir_notes = [n for n in notes if "IR version 99" in n]
    assert len(ir_notes) == 1 and "in-memory copy" in ir_notes[0]
    assert sha256(path) == before  # the user's file is never written


def test_ir_lowering_that_does_not_help_names_both_versions_and_the_fix(fixtures, tmp_path):
    from click.testing import CliRunner

    from srop_onnx.cli import main

    def future(m):
        m.ir_version = 99
        m.opset_import[0].version = 99  # an opset no runtime knows: lowering the IR alone cannot help

    path = _rewritten(fixtures["nchw"], tmp_path, "future.onnx", future)
    with pytest.raises(ModelError, match=r"IR version 99 .* reads up to \d+; .*newer onnxruntime"):
        analyze(path, np.zeros((1, 3, 16, 16), np.float32), provider="cpu")
    res = CliRunner().invoke(main, ["analyze", str(path), str(EXAMPLE_IMAGES / "disk_0.png"), "--size", "16"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "newer onnxruntime" in res.output and "onnxruntime-gpu with its CUDA" not in res.output


@cuda_absent
@pytest.mark.parametrize("provider", ["cuda", "auto"])
def test_a_model_error_is_never_reported_as_a_broken_gpu_install(fixtures, tmp_path, monkeypatch, provider):
    """A model ONNX Runtime cannot load fails as a model error under --provider cuda and auto
    (auto must not fall back to the CPU and fail again with an install hint)."""
    from click.testing import CliRunner

    import srop_onnx.core.cuda as cuda
    from srop_onnx.cli import main

    def broken(m):
        m.graph.node[0].op_type = "NoSuchOp"  # a model problem on every provider

    path = _rewritten(fixtures["nchw"], tmp_path, "broken.onnx", broken)
    monkeypatch.setattr(cuda, "cuda_problem", lambda: None)  # CUDA "looks" usable; its session fails
    res = CliRunner().invoke(main, ["analyze", str(path), str(EXAMPLE_IMAGES / "disk_0.png"), "--size", "16",
                                    "--provider", provider, "--ops", "Relu,MaxPool"])
    assert res.exit_code == 2 and "Traceback" not in res.output
    error = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(error) == 1 and "NoSuchOp" in error[0], res.output
    assert "install" not in error[0] and "CUDA" not in error[0]
    with pytest.raises(ModelError, match="NoSuchOp"):
        analyze(path, np.zeros((1, 3, 16, 16), np.float32), provider=provider, ops=["Relu", "MaxPool"])


def test_the_suite_pins_the_cpu_and_the_environment_picks_the_provider(monkeypatch):
    """Exact-histogram tests run on the CPU even where --provider auto would pick CUDA
    (conftest sets SROP_ONNX_PROVIDER=cpu); the variable is the user's default too."""
    from srop_onnx import UsageError
    from srop_onnx.config.settings import Execution

    assert Execution().provider == "cpu"
    monkeypatch.setenv("SROP_ONNX_PROVIDER", "auto")
    assert Execution().provider == "auto" and Execution(provider="cpu").provider == "cpu"
    monkeypatch.setenv("SROP_ONNX_PROVIDER", "gpu")
    with pytest.raises(UsageError, match="SROP_ONNX_PROVIDER must be one of auto, cpu, cuda, got 'gpu'"):
        Execution()


def test_onnx_runtime_takes_as_many_threads_as_the_process_may_use(monkeypatch):
    from srop_onnx.core._xp import usable_cores
    from srop_onnx.run.runtime import ort_threads

    import os

    monkeypatch.delenv("SROP_ONNX_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: usable_cores())
    assert ort_threads() is None  # every core: ONNX Runtime's own default (a thread per physical core)
    monkeypatch.setattr(os, "cpu_count", lambda: usable_cores() + 8)  # a job given part of a node
    assert ort_threads() == usable_cores()
    monkeypatch.setenv("SROP_ONNX_THREADS", "1")
    assert ort_threads() == 1


@pytest.mark.skipif(not hasattr(__import__("os"), "sched_setaffinity") or len(__import__("os").sched_getaffinity(0)) < 2,
                    reason="needs Linux's CPU affinity and two cores")
def test_a_run_under_taskset_keeps_every_thread_on_the_cores_it_was_given(tmp_path):
    """ONNX Runtime's default pool pins a thread to each core of the machine: under ``taskset -c 0``
    one of its threads ran on core 1 (the threads are looked at while the run goes on)."""
    import subprocess
    import sys

    code = f"""
import glob, os, threading
core = min(os.sched_getaffinity(0))
os.sched_setaffinity(0, {{core}})
import numpy as np, srop_onnx
seen = set()
def look():
    for t in glob.glob(f"/proc/{{os.getpid()}}/task/*/status"):
        try:
            seen.add([l for l in open(t).read().splitlines() if l.startswith("Cpus_allowed_list")][0].split()[-1])
        except (OSError, IndexError):
            pass
done = threading.Event()
def watch():
    while not done.is_set():
        look()
        done.wait(0.005)
watcher = threading.Thread(target=watch)
watcher.start()
x = np.random.default_rng(0).standard_normal((64, 3, 64, 64)).astype(np.float32)
try:
    srop_onnx.analyze({str(EXAMPLE)!r}, x, batch_size=4)
finally:
    done.set()
    watcher.join()
print(sorted(seen), core)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    seen, core = out.stdout.rsplit(" ", 1)
    assert seen == str([core.strip()]), out.stdout
