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


def nothing_usable(skipped: list) -> InputDataError:
    """Why a run (or the shards of one) analysed nothing: the first skipped input, or no inputs at all."""
    if skipped:
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        return InputDataError(f"no usable inputs: {skipped[0]['reason']}{more}")
    return InputDataError("no inputs to analyse; give image files, .npy/.npz arrays or folders of them")


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


# How messages spell an option: as the person wrote it. While a command runs (the CLI says so) that is the command
# line's ``--batch-size 8``; from Python it is the keyword ``batch_size=8``.
_COMMAND_LINE = [False]

#: command-line options whose Python keyword is not the option's name with '-' as '_'
_PYTHON_NAMES = {"input": "input_name", "all": "all_tensors", "storage-option": "storage_options",
                 "no-baseline": "baseline=False", "kernels": "keep_bins", "ray-address": "address", "level": "levels",
                 "example-shape": "example"}

#: command-line options that Python has no keyword for (a file the command writes: Python has methods)
_COMMAND_LINE_ONLY = {"json", "csv", "junit", "plot", "report", "profiles", "copy", "quiet", "verbose", "debug",
                      "against", "no-peaks", "vs-random"}

_NO_VALUE = object()


def spell_for_command_line(on: bool = True) -> None:
    """While a command runs, messages name its options (``--kappa``) instead of Python's keywords (``kappa``)."""
    _COMMAND_LINE[0] = on


def on_command_line() -> bool:
    """True while a command runs (messages then spell options as the command line does)."""
    return _COMMAND_LINE[0]


def option(name: str, cli: object = _NO_VALUE, py: object = _NO_VALUE) -> str:
    """Option ``name`` (its command-line name, without ``--``) spelled for the person reading the message.

    On the command line ``--name`` (with ``cli``, ``--name CLI``); from Python the keyword,
    ``name`` (with a value, ``name=PY``: ``py`` as written, else ``cli``'s ``repr``). An option
    Python has no keyword for (``--json``) is spelled as on the command line.
    """
    if _COMMAND_LINE[0] or name in _COMMAND_LINE_ONLY:
        return f"--{name}" if cli is _NO_VALUE else f"--{name} {cli}"
    keyword = _PYTHON_NAMES.get(name, name.replace("-", "_"))
    if py is not _NO_VALUE:
        return f"{keyword}={py}"
    return keyword if cli is _NO_VALUE else f"{keyword}={cli!r}"


def spell(where: str) -> str:
    """``where`` as :func:`option` spells it when it is an option's command-line name (``"--limit"``);
    anything else (a path, ``"track folder"``) as it is."""
    if where.startswith("--") and " " not in where:
        return option(where[2:])
    return where
