"""What a file is before it is read: every file the package reads whole (models, profiles, sweeps,
goldens, checkpoints) is checked here first, so a device (``/dev/zero``), a FIFO, a folder or a file
larger than its kind can be is refused at once in one line, never read until memory runs out."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import SropError

__all__ = ["MAX_JSON_BYTES", "MAX_MODEL_BYTES", "checked_size", "read_checked", "json_files", "size_text"]

#: the largest profile, sweep, golden or checkpoint read (a profile of a million samples and a
#: hundred layers is a few hundred MB)
MAX_JSON_BYTES = 1 << 30
#: an ONNX protobuf cannot exceed 2 GiB: larger models keep their weights in external data files
MAX_MODEL_BYTES = (1 << 31) - 1


def size_text(n: int) -> str:
    """``n`` bytes for a message: GiB from one GiB up, else MiB, one decimal."""
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):.1f} MiB"


def checked_size(path: str | os.PathLike, what: str, limit: int, error: type[SropError], fix: str) -> int:
    """The size of ``path`` when it is a regular file of at most ``limit`` bytes (a link is
    followed); else ``error`` in one line naming ``what`` and the ``fix``."""
    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise error(f"{p}: no such file; {fix}") from None
    except OSError as exc:
        raise error(f"{p}: cannot read the {what} ({exc.strerror or exc}); {fix}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(f"{p}: is a folder, not a {what} file; {fix}")
    if not stat.S_ISREG(st.st_mode):
        raise error(f"{p}: not a regular file (a device, FIFO or socket), so not a {what}; {fix}")
    if st.st_size > limit:
        raise error(f"{p}: {size_text(st.st_size)}, larger than a {what} can be ({size_text(limit)}); {fix}")
    return st.st_size


#: a pipe that has given nothing for this long is given up (a FIFO with no writer never hangs a run)
PIPE_SILENCE_S = 30.0


def read_checked(path: str | os.PathLike, what: str, limit: int, error: type[SropError], fix: str,
                 pipes: bool = False) -> bytes:
    """The bytes of ``path`` after :func:`checked_size`; a read that fails is ``error`` too. A URL
    (``s3://...``) is read from its bucket, its size checked from the listing first; a ``file://``
    URL is the local file it names, checked as one. With ``pipes``, a pipe or FIFO (``check
    <(cat p.json)``) is read too, up to ``limit`` bytes (see :func:`_read_pipe`)."""
    from .remote import is_url, local_path, object_size, read_bytes

    if is_url(path) and local_path(str(path)) is None:
        size = object_size(path)
        if size > limit:
            raise error(f"{path}: {size_text(size)}, larger than a {what} can be ({size_text(limit)}); {fix}")
        return read_bytes(path, error)
    if is_url(path):
        path = local_path(str(path))
    if pipes and _is_pipe(path):
        return _read_pipe(path, what, limit, error, fix)
    size = checked_size(path, what, limit, error, fix)
    try:
        with open(path, "rb") as f:
            data = f.read(size + 1)  # what stat said, and one byte to see it did not grow
            if len(data) > size:
                data += f.read(limit + 1 - len(data))
    except OSError as exc:
        raise error(f"{Path(path)}: cannot read the {what} ({exc.strerror or exc}); {fix}") from None
    if len(data) > limit:  # it grew while we looked
        raise error(f"{Path(path)}: larger than a {what} can be ({size_text(limit)}); {fix}")
    return data


def _is_pipe(path) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def _read_pipe(path, what: str, limit: int, error: type[SropError], fix: str) -> bytes:
    """What a pipe or FIFO gives until its writer closes it, at most ``limit`` bytes. Opened without
    blocking: a FIFO that no one writes to is an error at once, and a writer silent for
    :data:`PIPE_SILENCE_S` seconds is given up, never waited on for ever."""
    import select
    import time

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise error(f"{Path(path)}: cannot read the {what} ({exc.strerror or exc}); {fix}") from None
    chunks, total, last = [], 0, time.monotonic()
    try:
        while True:
            try:  # read first: a FIFO no one ever opened for writing reads as its end at once
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:  # a writer that has not written yet
                if time.monotonic() - last > PIPE_SILENCE_S:
                    raise error(f"{Path(path)}: the pipe gave nothing for {PIPE_SILENCE_S:.0f} s; {fix}") from None
                select.select([fd], [], [], 0.5)
                continue
            if not chunk:
                break
            chunks.append(chunk)
            total, last = total + len(chunk), time.monotonic()
            if total > limit:
                raise error(f"{Path(path)}: more than a {what} can be ({size_text(limit)}); {fix}")
    except OSError as exc:
        raise error(f"{Path(path)}: cannot read the {what} ({exc.strerror or exc}); {fix}") from None
    finally:
        os.close(fd)
    if not total:
        raise error(f"{Path(path)}: the pipe gave nothing (no writer, or an empty one); {fix}")
    return b"".join(chunks)


def json_files(paths) -> list[str]:
    """``paths`` with each folder (or bucket prefix ending in ``/``) replaced by the ``.json`` files
    directly in it, sorted by name (``merge parts/`` takes every part there); an empty folder is
    one line."""
    from .remote import is_url, list_objects

    out: list[str] = []
    for p in map(str, paths):
        if is_url(p) and p.endswith("/"):
            found = [f.url for f, key in list_objects(p, {".json"}) if "/" not in key]
        elif not is_url(p) and os.path.isdir(p):
            found = sorted(os.path.join(p, n) for n in os.listdir(p)
                           if n.lower().endswith(".json") and os.path.isfile(os.path.join(p, n)))
        else:
            out.append(p)
            continue
        if not found:
            from ..errors import UsageError

            raise UsageError(f"{p}: holds no .json files; give the folder or prefix the parts were written to")
        out.extend(found)
    return out
