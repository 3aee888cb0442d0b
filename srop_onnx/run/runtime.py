"""ONNX Runtime execution: provider choice, session, batched runs of the tapped model.

The CUDA-specific parts (IOBinding to device buffers, CuPy views) live in
:mod:`srop_onnx.core.cuda`; this module only asks it whether CUDA is usable.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import DeviceError, ModelError, UsageError, option

__all__ = ["ProviderChoice", "choose_provider", "Runner", "RunnerOptions", "start_runner", "available_memory", "host_memory_free", "ir_refusal",
           "lower_ir_version", "UNKNOWN_FREE_MEMORY"]

PROVIDERS = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class ProviderChoice:
    name: str  # the ONNX Runtime provider name
    note: str  # one line for the user
    notable: bool = True  # worth saying without -v (False: a CPU run on a machine without a GPU)


def choose_provider(requested: str = "auto") -> ProviderChoice:
    """Resolve ``auto|cpu|cuda`` to an ONNX Runtime provider, with a one-line reason."""
    requested = (requested or "auto").lower()
    if requested not in PROVIDERS:
        raise UsageError(f"{option('provider')} must be one of {', '.join(PROVIDERS)}, got {requested!r}")
    if requested == "cpu":
        return ProviderChoice("CPUExecutionProvider", "CPU (requested)")
    from ..core.cuda import cuda_problem, gpu_present

    problem = cuda_problem()
    if problem is None:
        return ProviderChoice("CUDAExecutionProvider", "CUDA (onnxruntime-gpu and a GPU found)")
    if requested == "cuda":
        raise DeviceError(f"{option('provider', 'cuda')}: {problem}")
    return ProviderChoice("CPUExecutionProvider", f"CPU; CUDA not used: {problem}", notable=gpu_present())


@dataclass(frozen=True)
class RunnerOptions:
    """How a :class:`Runner` runs its session.

    ``external_folder``: where external weights live (the graph comes from memory);
    ``iobinding``: bind inputs/outputs (default: on CUDA only); ``memory_budget``: a
    simulated limit on one run's output bytes (tests OOM recovery anywhere); ``tf32``:
    let the CUDA provider compute in TF32 (docs/method.md: off unless asked); ``notify``: one-line notes.
    """

    external_folder: str | None = None
    iobinding: bool | None = None
    memory_budget: int | None = None
    tf32: bool = False
    notify: Callable[[str], None] | None = None
    #: ``(names, arrays)`` of weights handed over from memory (:func:`srop_onnx.model.graph.split_weights`)
    weights: tuple[list[str], list] | None = None
    #: other model inputs to feed with every run (named arrays of an .npz)
    feeds: dict | None = None
    #: other model inputs whose rows come with each batch (``Runner.run(rows=...)``)
    row_inputs: tuple = ()


def ort_threads() -> int | None:
    """ONNX Runtime's intra-op threads when this process may use fewer cores than the machine has
    (``taskset``, a container's or a job's cpuset, ``SROP_ONNX_THREADS``), else None (ONNX
    Runtime's default: a thread per physical core). That default counts the machine's cores, not
    the process's, and pins each thread to its core: under ``taskset -c 0`` on two cores its
    second thread ran on core 1, and a 4-core job on a 64-core node would start 64 threads."""
    import os

    from ..core._xp import cpu_workers

    threads = cpu_workers()
    return threads if threads < (os.cpu_count() or 1) else None


def _session_options(ort, options: RunnerOptions, device: str) -> tuple[object, list]:
    """Session options, and the OrtValues of in-memory weights (they must outlive the session)."""
    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # errors reach the user as one line of ours, not as ORT log lines
    # ORT's worker threads busy-wait after a run by default; the SROP reduction that follows
    # needs those cores (on a 2-core machine spinning doubled the reduction's time).
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    threads = ort_threads()
    if threads is not None:
        opts.intra_op_num_threads = threads
    if device == "cpu":
        # ORT's memory pattern makes the first two runs fault in the whole activation arena
        # (ResNet-50, batch 16: 3.5 and 3.8 s against 1.2 s warm); without it the first run is
        # 1.5 s and later runs are as fast (benchmarks/RESULTS.md, issue 12)
        opts.enable_mem_pattern = False
    if options.external_folder:
        # the graph comes from memory; its external weights stay in the model's folder
        opts.add_session_config_entry("session.model_external_initializers_file_folder_path", options.external_folder)
    values = []
    if options.weights and options.weights[0]:
        names, arrays = options.weights
        values = [ort.OrtValue.ortvalue_from_numpy(a) for a in arrays]
        opts.add_external_initializers(list(names), values)
    return opts, values


class Runner:
    """An ONNX Runtime session over a (rewritten) model, fed one input.

    Handles the batch dimension: dynamic batch dims take whole batches; a
    fixed batch of 1 is looped; a fixed batch B > 1 is padded with copies of
    the last sample and the padding dropped from the outputs.
    """

    def __init__(self, model: bytes, provider: ProviderChoice, spec, output_names: list[str],
                 options: RunnerOptions = RunnerOptions()):
        import onnxruntime as ort

        self.device = "cuda" if provider.name == "CUDAExecutionProvider" else "cpu"
        # IOBinding: always on CUDA (outputs stay on the device); optional on CPU (tests its plumbing)
        self.iobinding = (self.device == "cuda") if options.iobinding is None else bool(options.iobinding)
        self.memory_budget = options.memory_budget
        self.max_batch: int | None = None
        #: after an out-of-memory error, every run hands ORT's unused arena memory back (it keeps its peak)
        self.run_options = None
        opts, self._weights = _session_options(ort, options, self.device)
        self.session = _session(ort, model, opts, _ProviderRequest(provider, options.tf32), options.notify or _quiet)
        self.provider = provider
        self.spec = spec
        self.output_names = list(output_names)
        #: the other inputs fed per batch (``run(rows=...)``), with the element type ONNX Runtime wants
        self._row_types = {i.name: _ORT_NUMPY.get(i.type) or np.float32 for i in self.session.get_inputs()
                           if i.name in options.row_inputs}
        self._extra_feeds = self._other_inputs(options.feeds or {}, options.notify or _quiet)
        batch_dim = next(i.shape[0] for i in self.session.get_inputs() if i.name == spec.name)
        #: the model's fixed batch size, or None when the batch dim is dynamic
        self.fixed_batch: int | None = batch_dim if isinstance(batch_dim, int) and batch_dim > 0 else None
        if self.fixed_batch is None:
            self.fixed_batch = _state_batch(model, self._extra_feeds, options.notify or _quiet)

    def _other_inputs(self, given: dict, notify) -> dict[str, np.ndarray]:
        """Feeds of the model's other inputs: what an .npz named (``given``); else zeros for a float
        input of static shape (a state), with a note; any other input without data is an error
        naming it - never a silent zero for an int64 sample rate or a mask."""
        feeds = {}
        main = next(i for i in self.session.get_inputs() if i.name == self.spec.name)
        batch_symbol = main.shape[0] if main.shape and not isinstance(main.shape[0], int) else None
        for inp in self.session.get_inputs():
            if inp.name == self.spec.name or inp.name in self._row_types:
                continue
            dtype = _ORT_NUMPY.get(inp.type)
            if inp.name in given:
                feeds[inp.name] = np.asarray(given[inp.name]).astype(dtype or np.float32, copy=False)
                continue
            # dims are numbers, or the main input's batch symbol (a state (2, N, 128)): zeros per run
            known = all((isinstance(d, int) and d > 0) or (d == batch_symbol and d is not None) for d in inp.shape)
            if dtype is not None and np.issubdtype(dtype, np.floating) and known:
                feeds[inp.name] = _BatchZeros(tuple(inp.shape), batch_symbol, dtype)
                notify(f"note: model input '{inp.name}' has no data; feeding zeros of shape {tuple(inp.shape)}")
                continue
            raise UsageError(f"model input '{inp.name}' ({inp.type}, shape {inp.shape}) needs data: give it in an "
                             f".npz with an array named '{inp.name}' next to '{self.spec.name}'")
        return feeds

    def _extras(self, n: int, rows: dict | None = None) -> dict:
        """The other inputs' feeds for a run of ``n`` samples (``rows``: their per-sample rows)."""
        feeds = {k: (v.make(n) if isinstance(v, _BatchZeros) else v) for k, v in self._extra_feeds.items()}
        for k, v in (rows or {}).items():
            if k in self._row_types:
                feeds[k] = np.ascontiguousarray(v, dtype=self._row_types[k])
        return feeds

    def step(self, remaining: int) -> int:
        """How many samples the next run takes: bounded by a fixed batch and by OOM halving."""
        limits = [remaining] + [v for v in (self.fixed_batch, self.max_batch) if v]
        return max(1, min(limits))

    def run(self, batch: np.ndarray, names: list[str] | None = None, rows: dict | None = None) -> dict:
        """Outputs ``names`` (default: all) for a batch of at most :meth:`step` samples
        (NumPy on CPU, CuPy on CUDA); ``rows``: the batch's rows of the other inputs that share
        its batch axis.

        A batch shorter than a fixed batch dim is padded with copies of its last
        sample and the padding sliced off the outputs.
        """
        names = list(names) if names is not None else self.output_names
        fixed = self.fixed_batch
        real = batch.shape[0]
        if fixed is not None and real != fixed:
            if real > fixed:
                raise ModelError(f"batch of {real} is larger than the model's fixed batch of {fixed}")
            pad = fixed - real
            batch = np.concatenate([batch, np.repeat(batch[-1:], pad, axis=0)])
            rows = {k: np.concatenate([v, np.repeat(v[-1:], pad, axis=0)]) for k, v in (rows or {}).items()}
            return {k: v[:real] for k, v in self._run(batch, names, rows).items()}
        return self._run(batch, names, rows)

    def _run(self, batch: np.ndarray, names: list[str], rows: dict | None = None) -> dict:
        from ..core.cuda import DeviceOutOfMemory, is_out_of_memory

        feeds = self._extras(batch.shape[0], rows)
        try:
            out = self._run_bound(batch, names, feeds) if self.iobinding else self._run_plain(batch, names, feeds)
        except DeviceOutOfMemory:
            self._shrink_arena()
            raise
        except Exception as exc:
            if is_out_of_memory(exc):
                self._shrink_arena()
                raise DeviceOutOfMemory(str(exc).splitlines()[0] if str(exc) else "out of memory") from exc
            raise ModelError(f"ONNX Runtime failed on a batch of shape {tuple(batch.shape)}: {_first_line(exc)}") from exc
        if self.memory_budget is not None:
            used = sum(int(v.nbytes) for v in out.values())
            if used > self.memory_budget:
                raise DeviceOutOfMemory(f"outputs of {used} bytes exceed the memory budget of {self.memory_budget}")
        return out

    def _shrink_arena(self) -> None:
        """From now on, end every run by shrinking ORT's memory arena (it otherwise keeps the peak of
        the batch that did not fit, and the smaller retries find no memory left)."""
        if self.run_options is None:
            import onnxruntime as ort

            self.run_options = ort.RunOptions()
            arenas = "cpu:0;gpu:0" if self.device == "cuda" else "cpu:0"
            self.run_options.add_run_config_entry("memory.enable_memory_arena_shrinkage", arenas)

    def _run_plain(self, batch: np.ndarray, names: list[str], extras: dict) -> dict:
        feeds = {self.spec.name: batch, **extras}
        return dict(zip(names, self.session.run(names, feeds, self.run_options)))

    def _run_bound(self, batch: np.ndarray, names: list[str], extras: dict) -> dict:
        """IOBinding: the batch is uploaded once; outputs are allocated by ORT on the run's device.

        CPU: outputs come back as NumPy arrays. CUDA: as zero-copy CuPy views of ORT's buffers.
        """
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.spec.name, np.ascontiguousarray(batch))
        for name, value in extras.items():
            binding.bind_cpu_input(name, value)
        for name in names:
            binding.bind_output(name, self.device)
        self.session.run_with_iobinding(binding, self.run_options)
        if self.device == "cuda":
            from ..core.cuda import ortvalue_to_cupy

            binding.synchronize_outputs()  # explicit stream order before CuPy reads (see srop_onnx.core.cuda)
            return {n: ortvalue_to_cupy(v) for n, v in zip(names, binding.get_outputs())}
        values = binding.get_outputs()
        return {n: v.numpy() for n, v in zip(names, values)}


_ORT_NUMPY = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
              "tensor(uint8)": np.uint8, "tensor(int8)": np.int8}

_CUDA_DID_NOT_START = ("onnxruntime's CUDA execution provider did not start{why}; install onnxruntime-gpu with its "
                       "CUDA 13 and cuDNN 9 libraries (pip install 'srop-onnx[gpu]')")
_IR_REFUSAL = re.compile(r"Unsupported model IR version: (\d+), max supported IR version: (\d+)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quiet(_msg: str) -> None:
    return None


def _state_batch(model: bytes, feeds: dict, notify) -> int | None:
    """The batch that a recurrent state fixes: a model input of static shape fed (zeros or data) as a
    GRU/LSTM/RNN state (:func:`srop_onnx.model.graph.recurrent_states`) has its batch on axis 1, so
    ``(2, 1, 64)`` means one sample a run. None when no state fixes it."""
    static = {k: tuple(v.shape) for k, v in feeds.items()
              if all(isinstance(d, int) for d in getattr(v, "shape", ())) and len(getattr(v, "shape", ())) == 3}
    if not static:
        return None
    import onnx

    from ..model.graph import recurrent_states

    try:
        states = recurrent_states(onnx.load_model_from_string(model).graph)
    except Exception:  # noqa: BLE001 - no graph to read: the runtime's own error will say
        return None
    for name, what in states.items():
        if name in static:
            batch = static[name][1]
            notify(f"note: model input '{name}' {static[name]} is the {what}, whose batch axis fixes the batch at "
                   f"{batch}: running {batch} sample(s) at a time")
            return batch
    return None


@dataclass(frozen=True)
class _BatchZeros:
    """Zeros for an input without data whose shape may name the batch (``(2, N, 128)``)."""

    shape: tuple
    batch_symbol: object
    dtype: object

    def make(self, n: int) -> np.ndarray:
        return np.zeros(tuple(n if d == self.batch_symbol else d for d in self.shape), dtype=self.dtype)


@dataclass(frozen=True)
class _ProviderRequest:
    """A provider and its options: on CUDA, TF32 off unless asked (docs/method.md)."""

    choice: ProviderChoice
    tf32: bool = False

    def providers(self) -> list:
        if self.choice.name == "CUDAExecutionProvider":
            return [(self.choice.name, {"use_tf32": "1" if self.tf32 else "0"})]
        return [self.choice.name]


def ir_refusal(exc: BaseException) -> tuple[int, int] | None:
    """``(model IR, runtime's maximum IR)`` when ONNX Runtime refused a model for its IR version."""
    found = _IR_REFUSAL.search(str(exc))
    return (int(found.group(1)), int(found.group(2))) if found else None


def lower_ir_version(model: bytes, version: int) -> bytes:
    """The serialized ``model`` with its IR version set to ``version`` (docs/models.md: only the
    in-memory copy; the user's file is never written)."""
    import onnx

    proto = onnx.ModelProto()
    proto.ParseFromString(model)
    proto.ir_version = version
    return proto.SerializeToString()


def _create(ort, model: bytes, opts, request: _ProviderRequest):
    with warnings.catch_warnings():  # "not in available provider names": reported by the caller, in one line
        warnings.filterwarnings("ignore", message="Specified provider", category=UserWarning)
        if request.choice.name == "CUDAExecutionProvider":
            return ort.InferenceSession(model, sess_options=opts, providers=request.providers(), enable_fallback=0)
        return ort.InferenceSession(model, sess_options=opts, providers=request.providers())


def _load_or_lower(ort, model: bytes, opts, request: _ProviderRequest, notify):
    """A session for ``model``; a refusal for the IR version alone lowers the in-memory copy's
    IR version to the runtime's maximum, with one note, and tries again (docs/models.md). Other
    errors propagate as ONNX Runtime raised them."""
    try:
        return _create(ort, model, opts, request)
    except Exception as exc:
        refusal = ir_refusal(exc)
        if refusal is None:
            raise
        have, most = refusal
    notify(f"note: the model has IR version {have}, newer than onnxruntime {ort.__version__} reads ({most}); "
           f"analysing an in-memory copy at IR version {most}")
    try:
        return _create(ort, lower_ir_version(model, most), opts, request)
    except Exception as exc:
        raise ModelError(f"the model has IR version {have} and onnxruntime {ort.__version__} reads up to {most}; "
                         f"at IR version {most} it still fails ({_first_line(exc)}); install a newer onnxruntime "
                         "(pip install -U onnxruntime, or onnxruntime-gpu)") from exc


def _model_problem(ort, model: bytes, opts) -> str | None:
    """Why the CPU provider cannot load ``model`` either (a model problem), or None."""
    try:
        _load_or_lower(ort, model, opts, _ProviderRequest(ProviderChoice("CPUExecutionProvider", "")), _quiet)
    except ModelError as exc:
        return str(exc)
    except Exception as exc:
        return _first_line(exc)
    return None


def _session(ort, model: bytes, opts, request: _ProviderRequest, notify):
    """An InferenceSession on the requested provider; on CUDA, proof that the CUDA provider
    really runs it.

    A model that ONNX Runtime cannot load is a :class:`ModelError` on every provider. Only a
    CUDA provider that fails on a model the CPU provider loads is a :class:`DeviceError`
    (which ``--provider auto`` turns into a CPU run with a note); ONNX Runtime's Python
    wrapper would otherwise fall back to the CPU silently.
    """
    if request.choice.name != "CUDAExecutionProvider":
        try:
            return _load_or_lower(ort, model, opts, request, notify)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"ONNX Runtime cannot load the model: {_first_line(exc)}") from exc
    from ..core.cuda import preload_cuda_libraries

    preload_cuda_libraries()
    try:
        session = _load_or_lower(ort, model, opts, request, notify)
    except Exception as exc:
        problem = _model_problem(ort, model, opts)
        if problem is not None:
            raise ModelError(problem if isinstance(exc, ModelError) else
                             f"ONNX Runtime cannot load the model: {problem}") from exc
        raise DeviceError(_CUDA_DID_NOT_START.format(why=f" ({_first_line(exc)})")) from exc
    if session.get_providers()[:1] != ["CUDAExecutionProvider"]:
        raise DeviceError(_CUDA_DID_NOT_START.format(why=" (its libraries did not load)"))
    return session


def start_runner(model: bytes, choice: ProviderChoice, requested: str, spec, output_names: list[str],
                 options: RunnerOptions = RunnerOptions()) -> tuple[Runner, ProviderChoice]:
    """A :class:`Runner` on ``choice``; when CUDA was picked by ``--provider auto`` but does not
    start on a model the CPU loads, a CPU runner and a note instead. Returns the runner and
    the provider it runs on."""
    try:
        return Runner(model, choice, spec, output_names, options), choice
    except DeviceError as exc:
        if choice.name != "CUDAExecutionProvider":
            raise
        if (requested or "auto").lower() != "auto":
            raise DeviceError(f"{option('provider', 'cuda')}: {exc}") from exc
        cpu = ProviderChoice("CPUExecutionProvider", f"CPU; CUDA not used: {exc}")
        (options.notify or _quiet)(f"provider: {cpu.note}")
        return Runner(model, cpu, spec, output_names, options), cpu


def available_memory(device: str) -> int:
    """Free bytes where the tap outputs live: the CUDA device, or host RAM (``/proc/meminfo``,
    else ``os.sysconf``, else psutil, else a conservative 2 GiB: never an error)."""
    if device == "cuda":
        from ..core.cuda import free_device_memory

        return free_device_memory()
    return host_memory_free() or UNKNOWN_FREE_MEMORY


def host_memory_free() -> int | None:
    """Free host RAM in bytes (``/proc/meminfo``, else ``os.sysconf``, else psutil), or None where
    the platform does not say (macOS and Windows without psutil)."""
    for probe in (_meminfo_available, _sysconf_available, _psutil_available):
        free = probe()
        if free:
            return free
    return None


#: what ``--batch-size auto`` assumes is free when the platform cannot say
UNKNOWN_FREE_MEMORY = 2 * 2**30
#: where Linux says how much memory is available (a module attribute so tests can move it)
MEMINFO = "/proc/meminfo"


def _meminfo_available() -> int | None:
    try:
        with open(MEMINFO) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sysconf_available() -> int | None:
    import os

    try:  # Linux and some BSDs; macOS has no SC_AVPHYS_PAGES, Windows no sysconf
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _psutil_available() -> int | None:
    try:
        import psutil
    except ImportError:
        return None
    try:
        return int(psutil.virtual_memory().available)
    except Exception:  # psutil raises its own errors on unusual platforms
        return None
