"""NumPy array files as inputs: ``.npy`` (memory-mapped) and ``.npz`` (each member by name), read
without ever unpickling (an array of Python objects could run code when loaded), with headers
checked before anything is allocated, and a file that is not one said in those words."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputDataError
from ..model.modelio import check_readable

__all__ = ["read_arrays", "read_named_arrays", "unreadable"]

#: how each kind of array file starts: NumPy's .npy magic, and a zip archive's (an .npz)
_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}


def read_arrays(path: Path, data: bytes | None = None) -> list[np.ndarray]:
    """Arrays of a .npy file (one, memory-mapped: rows are read when a batch needs them, so a
    large file starts at once and is never held whole) or a .npz file (each member, sorted by name);
    ``data``: the file's bytes when the caller already read them."""
    import io

    if data is None:
        check_readable(path)
    try:
        if path.suffix.lower() == ".npz":
            return list(read_named_arrays(path, data).values())
        if data is not None:
            return [np.load(io.BytesIO(data), allow_pickle=False)]
        return [np.load(path, mmap_mode="r", allow_pickle=False)]
    except InputDataError:
        raise
    except (ValueError, OSError, EOFError, MemoryError) as exc:
        raise unreadable(path, data, exc) from exc


def _check_npz_headers(path: Path, data: bytes | None = None) -> None:
    """Refuse .npz members whose header claims more data than the member holds (a hostile header
    would make NumPy allocate it) or holds Python objects, before anything is allocated."""
    import io
    import zipfile

    with zipfile.ZipFile(path if data is None else io.BytesIO(data)) as zf:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with zf.open(info) as f:
                version = np.lib.format.read_magic(f)
                reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
                if version not in reader:
                    continue
                shape, _fortran, dtype = reader[version](f)
            if dtype.hasobject:
                raise InputDataError(f"{path}: member {info.filename} holds Python objects; save numeric arrays")
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if claimed > info.file_size:
                raise InputDataError(f"{path}: member {info.filename} claims shape {tuple(shape)} ({claimed} bytes) "
                                     f"but holds {info.file_size} bytes; the file is corrupt or hostile")


def read_named_arrays(path: Path, data: bytes | None = None) -> dict[str, np.ndarray]:
    """The members of an .npz file by name (headers checked first, no pickles)."""
    import io
    import zipfile

    if data is None:
        check_readable(path)
    try:
        _check_npz_headers(path, data)
        with np.load(path if data is None else io.BytesIO(data), allow_pickle=False) as z:
            return {k: np.asarray(z[k]) for k in sorted(z.files)}
    except InputDataError:
        raise
    except (ValueError, OSError, EOFError, MemoryError, zipfile.BadZipFile) as exc:
        raise unreadable(path, data, exc) from exc


def unreadable(path: Path, data: bytes | None, exc: Exception) -> InputDataError:
    """Why the array file ``path`` (``data``: its bytes, when read) cannot be read, in one line: not
    that kind of file at all, an array of Python objects, or NumPy's own words; never the advice to
    allow pickles that NumPy gives for a file that is not an array file."""
    suffix = path.suffix.lower()
    magic = _MAGIC.get(suffix, _MAGIC[".npy"])
    try:
        if data is None:
            with open(path, "rb") as f:
                data = f.read(len(magic))
    except OSError:
        data = magic  # unreadable now: NumPy's words below
    save = "numpy.savez" if suffix == ".npz" else "numpy.save"
    if not data[:len(magic)].startswith(magic):
        what = "it is empty" if not data else ("not a zip archive" if suffix == ".npz" else "no NumPy header")
        return InputDataError(f"{path}: not a NumPy {suffix or '.npy'} file ({what}); write arrays with {save}")
    if "pickle" in str(exc) or "Python objects" in str(exc):
        return InputDataError(f"{path}: holds Python objects (dtype object), which are never loaded (loading them "
                              "can run code); save numeric arrays")
    return InputDataError(f"{path}: cannot read array file ({exc.__class__.__name__}: {exc})")
