"""One exception root for everything srop-onnx raises on purpose."""

from __future__ import annotations

__all__ = ["SropError", "UsageError", "ModelError", "InputDataError", "TooSmallError", "DeviceError", "OutputError",
           "ResourceError", "memory_problem"]


class SropError(Exception):
    """Root of every error srop-onnx raises deliberately.

    The message is one line meant for a person: it names the file or option
    at fault and how to fix it. The CLI prints it and exits with code 2.
    """


class UsageError(SropError, ValueError):
    """An option or argument has a value that cannot work."""


class ModelError(SropError):
    """The ONNX model cannot be read, rewritten or run."""


class InputDataError(SropError):
    """An input (image, array, folder) cannot be used."""


class TooSmallError(SropError, ValueError):
    """Maps are too small to have a meaningful spectrum (docs/method.md)."""


class DeviceError(SropError):
    """The requested execution device (CUDA) is not usable here."""


class OutputError(SropError):
    """An output cannot be written, or would overwrite what the user owns (model, inputs, golden)."""


class ResourceError(SropError):
    """The machine ran out of something the run needs (memory): one line saying what to lower.
    The CLI exits with code 4 (not 2: the input is not at fault)."""


#: how runtimes and libraries word "could not get memory" (ONNX Runtime, NumPy, OpenBLAS, CuPy, cuFFT's
#: CUFFT_ALLOC_FAILED, cuBLAS's CUBLAS_STATUS_ALLOC_FAILED, protobuf, the loader, thread creation)
_MEMORY_WORDS = ("out of memory", "outofmemory", "failed to allocate", "unable to allocate", "bad allocation",
                 "bad_alloc", "alloc_failed", "cudaerrormemoryallocation", "cannot allocate memory",
                 "failed to map segment", "memory allocation", "memoryerror", "not enough memory", "errno 12",
                 "can't start new thread")


def memory_problem(exc: BaseException) -> bool:
    """True when ``exc`` says the process could not get memory (whatever library raised it)."""
    if isinstance(exc, MemoryError):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in _MEMORY_WORDS)
