"""Array-namespace helpers shared by the math modules.

Math code never imports CuPy: it asks :func:`namespace` for the namespace of
the arrays it was given (array-api-compat) and uses only array-API calls.
The one backend-specific choice made here is the FFT: for NumPy arrays the
multi-threaded ``scipy.fft`` is several times faster than ``numpy.fft``.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Any, Callable

import array_api_compat

__all__ = [
    "preload", "kernel_pool", "namespace", "is_numpy", "to_numpy", "rfftn_for", "rfft_for", "device_key", "cpu_workers", "cpu_kernel_threads",
    "usable_cores", "threads_note", "beside",
    "chunk_elements", "map_chunks",
]


def namespace(*arrays: Any):
    """Array-API namespace of ``arrays`` (NumPy, CuPy, array-api-strict, ...). NumPy arrays get NumPy
    itself where it has every array-API call the math makes (2.1 and later): array-api-compat's NumPy
    wrapper copies NumPy's whole namespace at import, which loads its test, f2py and masked-array
    modules (50 ms of a short run)."""
    if arrays and all(type(a).__module__ == "numpy" for a in arrays):
        import numpy as np

        if hasattr(np, "cumulative_sum") and hasattr(np, "astype"):  # NumPy >= 2.1
            return np
    return array_api_compat.array_namespace(*arrays)


def is_numpy(xp) -> bool:
    return array_api_compat.is_numpy_namespace(xp)


def to_numpy(a: Any):
    """Host NumPy copy of any array (a no-op for NumPy arrays)."""
    import numpy as np

    if isinstance(a, np.ndarray):
        return a
    if array_api_compat.is_cupy_array(a):
        return a.get()
    try:
        return np.from_dlpack(a)
    except Exception:  # array-api-strict and others without host DLPack
        return np.asarray(a)


def usable_cores() -> int:
    """The cores this process may run on: its affinity where the OS says (``taskset``, a cpuset),
    else the CPU count, and no more than its cgroup's CPU quota (Docker's ``--cpus``, a Kubernetes
    CPU limit), rounded up."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux: Python 3.13's count follows the affinity there too
        cores = max(1, getattr(os, "process_cpu_count", os.cpu_count)() or 1)
    quota = cgroup_cpu_quota(CGROUP_ROOT)
    return cores if quota is None else max(1, min(cores, math.ceil(quota)))


#: where Linux shows this process's control groups (a container sees its own at this path)
CGROUP_ROOT = "/sys/fs/cgroup"


@functools.lru_cache(maxsize=4)
def cgroup_cpu_quota(root: str) -> float | None:
    """The CPUs the cgroup under ``root`` may use per period (cgroup v2's ``cpu.max``, else v1's
    ``cpu/cpu.cfs_quota_us`` over ``cpu/cpu.cfs_period_us``), or None: no quota, or no such files
    (macOS, Windows, no cgroup file system). A quota throttles a process that runs more threads
    than it allows; the affinity does not show it."""
    def read(*parts: str) -> list[str]:
        with open(os.path.join(root, *parts)) as f:
            return f.read().split()

    try:
        quota, period = read("cpu.max")[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        pass
    try:
        quota, period = int(read("cpu", "cpu.cfs_quota_us")[0]), int(read("cpu", "cpu.cfs_period_us")[0])
        return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError, IndexError):
        return None


def cpu_workers() -> int:
    """Threads for CPU FFTs: ``SROP_ONNX_THREADS`` (at most the usable cores, see
    :func:`threads_note`) or every core this process may use."""
    env = os.environ.get("SROP_ONNX_THREADS")
    cores = usable_cores()
    if env:
        try:
            return min(max(1, int(env)), cores)
        except ValueError:
            from ..errors import UsageError

            raise UsageError(f"SROP_ONNX_THREADS must be a whole number of threads, got {env!r}") from None
    return cores


def threads_note() -> str | None:
    """One line when ``SROP_ONNX_THREADS`` asks for more threads than there are cores (more
    would only contend for them, and each thread reserves memory), else None."""
    env = os.environ.get("SROP_ONNX_THREADS", "")
    try:
        asked = int(env)
    except ValueError:
        return None
    cores = usable_cores()
    if asked <= cores:
        return None
    return f"note: SROP_ONNX_THREADS={asked} is more than the {cores} core(s) this process may use; using {cores}"


_preloaded: int | None = None  # the process (pid) that preloaded: a forked child does it again
_decoders: dict[str, int] = {}  # decoder ("images", "wav") -> the process (pid) that imported it


def preload(images: bool = False, wav: bool = False) -> None:
    """Import the CPU kernels' modules (SciPy's FFT) and reserve OpenBLAS's buffer before a run starts
    threads or loads ONNX Runtime; with ``images`` or ``wav``, also what decoding threads use for
    them (the image plugins, the WAV reader). Under a tight memory limit (``ulimit -v``) a first import
    that fails half-way inside a thread, or while ONNX Runtime's threads run, can leave the loader's
    locks held and the run waiting for ever; here it fails at once, as one out-of-memory error.
    A decoder is left out of runs that have nothing for it: the WAV reader (SciPy's io, with its
    sparse matrices) costs a short run of images a sixth of its time, the image plugins one of arrays
    a tenth."""
    global _preloaded
    if images and _decoders.get("images") != os.getpid():
        from PIL import Image

        Image.init()
        _decoders["images"] = os.getpid()
    if wav and _decoders.get("wav") != os.getpid():
        from scipy.io import wavfile  # noqa: F401

        _decoders["wav"] = os.getpid()
    if _preloaded == os.getpid():  # once per process: every run and every decode pool calls it
        return
    import scipy.fft  # noqa: F401

    _reserve_blas_buffer()  # this thread's, and each kernel thread's (below), while memory is free
    if cpu_workers() > 1:
        kernel_pool(cpu_workers())
    _preloaded = os.getpid()


def rfftn_for(xp, workers: int | None = None) -> Callable:
    """``rfftn(x, axes)`` for this namespace (scipy with ``workers`` threads, default all, for NumPy)."""
    if is_numpy(xp):
        import scipy.fft

        workers = workers or cpu_workers()
        return lambda x, axes: scipy.fft.rfftn(x, axes=axes, workers=workers)
    return lambda x, axes: xp.fft.rfftn(x, axes=axes)


def rfft_for(xp, workers: int | None = None) -> Callable:
    """``rfft(x)`` over the last axis for this namespace."""
    if is_numpy(xp):
        import scipy.fft

        workers = workers or cpu_workers()
        return lambda x: scipy.fft.rfft(x, axis=-1, workers=workers)
    return lambda x: xp.fft.rfft(x, axis=-1)


#: Input elements per kernel call. CPU: small chunks stay cache-friendly and give every core
#: work; devices: large chunks, since each chunk costs a handful of kernel launches.
CPU_CHUNK_ELEMENTS = 1 << 21
DEVICE_CHUNK_ELEMENTS = 1 << 25


def chunk_elements(xp) -> int:
    """Input elements per kernel call for arrays of namespace ``xp``."""
    return CPU_CHUNK_ELEMENTS if is_numpy(xp) else DEVICE_CHUNK_ELEMENTS


_pool = None
_pool_key: tuple = ()


def _reserve_blas_buffer() -> None:
    """One small matrix product: OpenBLAS reserves the calling thread's work buffer at its first
    product and ends the process (exit code 1) when it cannot, so each thread does it at birth."""
    import numpy as np

    np.ones((64, 64), np.float32) @ np.ones((64, 64), np.float32)


def kernel_pool(threads: int):
    """The process's pool of ``threads`` kernel threads, each started (and its BLAS buffer reserved)
    at once, not at the first chunk of a run when memory may be short."""
    global _pool, _pool_key
    key = (os.getpid(), threads)  # a forked child (Ray, multiprocessing) must not reuse the parent's threads
    if _pool is None or _pool_key != key:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="srop-kernel",
                                   initializer=_reserve_blas_buffer)
        _pool_key = key
        gate = threading.Barrier(threads, timeout=30)
        for f in [_pool.submit(gate.wait) for _ in range(threads)]:  # every thread starts now
            f.result()
    return _pool


def beside(work: Callable, meanwhile: Callable) -> tuple:
    """``(work(), meanwhile())``, with ``work`` on another thread while ``meanwhile`` runs on this one:
    for work that releases the GIL (ONNX Runtime building a session, hashlib hashing a buffer)
    beside work that holds it (imports, parsing). Imports stay on the calling thread, where a
    failing one cannot leave a lock held (see :func:`preload`). An error of either is raised here,
    once both have ended, ``work``'s first."""
    import threading

    box: dict = {}

    def run() -> None:
        try:
            box["work"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=run, name="srop-onnx-beside", daemon=True)
    thread.start()
    try:
        box["meanwhile"] = meanwhile()
    except BaseException as exc:  # noqa: BLE001 - raised once work has ended
        box.setdefault("meanwhile_error", exc)
    thread.join()
    error = box.get("error") or box.get("meanwhile_error")
    if error is not None:
        raise error
    return box["work"], box["meanwhile"]


def map_chunks(fn: Callable, starts: list[int], threads: int) -> list:
    """``[fn(s) for s in starts]``, on ``threads`` CPU threads when more than one (NumPy and
    SciPy release the GIL), in order otherwise.

    Chunk-level threads keep every core busy through the whole kernel (magnitude, ring
    matmul, cumulative sum), not only through the FFT that SciPy parallelises itself.
    Whatever ``fn`` imports must already be imported by the calling thread (:func:`preload`): a
    first import in a worker thread that fails for lack of memory can leave the import lock held,
    and the caller then waits for ever (seen under ``ulimit -v``).
    """
    if threads < 2 or len(starts) < 2:
        return [fn(s) for s in starts]
    return list(kernel_pool(threads).map(fn, starts))


def device_key(xp, x) -> tuple:
    """Hashable key of (namespace, device) used to cache per-device plans."""
    return (getattr(xp, "__name__", repr(xp)), str(array_api_compat.device(x)))


_controller = None


def cpu_kernel_threads(xp):
    """Context for a NumPy kernel: BLAS single-threaded (a no-op for other namespaces).

    The ring-sum matmul is small next to the FFT; multi-threaded OpenBLAS workers
    busy-wait after each call and starve the FFT's workers on the next chunk
    (measured on 2 cores: the core ran 28% faster with BLAS on one thread).
    """
    import contextlib

    if not is_numpy(xp):
        return contextlib.nullcontext()
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
