"""Every file srop-onnx writes goes through here: atomic, never over what the user owns.

- :func:`atomic_write` writes a temporary file beside the target and renames it over the target
  on success, so a failed write leaves the previous file intact and no temporary behind.
  A symbolic link is written through (its target is replaced, the link stays); an existing
  non-regular file (a device such as ``/dev/stdout``, a FIFO) is written into, never replaced;
  ``-`` is standard output for text formats.
- :func:`guard_outputs` refuses, before anything runs, an output path that is the model, an
  input, a golden profile or another output of the same command, or that cannot be written (a
  file where one of its folders should be, a read-only file system, no permission), so a long run
  never ends in an output it cannot write.
- Every failure is an :class:`~srop_onnx.errors.OutputError`: one line naming the path and the
  cause (unwritable folder, a parent that is a file, a full disk).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from ..errors import OutputError, spell
from .filetypes import ARRAY_SUFFIXES, IMAGE_SUFFIXES

__all__ = ["STDOUT", "atomic_path", "atomic_write", "atomic_write_text", "atomic_write_bytes", "guard_outputs", "to_stdout",
           "remove_stale_temporaries", "temporary_prefix", "folder_lock", "writable_folder", "writable_file"]

#: the output path that means standard output (text formats only)
STDOUT = "-"


def to_stdout(path) -> bool:
    return path is not None and str(path) == STDOUT


def _cause(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


@contextlib.contextmanager
def _stdout(path, mode: str) -> Iterator:
    if "b" in mode:
        raise OutputError(f"{path}: this output is binary; give a file path instead of '-'")
    buf = io.StringIO()
    yield buf
    sys.stdout.write(buf.getvalue())
    sys.stdout.flush()


@contextlib.contextmanager
def _write_through(path, target: Path, mode: str) -> Iterator:
    """An existing device or FIFO: written into, never replaced (a rename would swap the node)."""
    try:
        with open(target, mode, **_text_kwargs(mode)) as f:
            yield f
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({_cause(exc)}); choose another output path") from exc


#: what a temporary's name adds to its target's: ".", "." + 8 random characters + ".tmp"
_TMP_EXTRA = 14


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):  # Windows has no pathconf: its limit is 255 characters
        return 255


def temporary_prefix(target: Path) -> str:
    """The prefix of the temporaries written beside ``target``: ``.NAME.``, with NAME shortened (in
    bytes) so that the temporary's name fits wherever the final name fits."""
    room = max(1, _name_max(target.parent) - _TMP_EXTRA)
    raw = os.fsencode(target.name)
    if len(raw) > room:
        raw = raw[:room]
        while raw and not _decodes(raw):  # never cut a character in two
            raw = raw[:-1]
    return f".{os.fsdecode(raw)}."


def _decodes(raw: bytes) -> bool:
    try:
        os.fsdecode(raw).encode("utf-8")
        return True
    except UnicodeError:
        return False


def _parent_folder(path, target: Path) -> None:
    """Create the folders the path as given needs (never along a symbolic link's target), and
    refuse a link whose target's folder does not exist."""
    given = Path(path).parent
    try:
        given.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{path}: a folder on this path is a broken symbolic link or a file; fix it or choose "
                          "another output path") from None
    except OSError as exc:
        raise OutputError(f"{path}: cannot create its folder {given} ({_cause(exc)}); choose a writable folder") \
            from exc
    if not target.parent.is_dir():
        raise OutputError(f"{path}: is a symbolic link to {target}, whose folder does not exist; fix the link or "
                          "choose another output path")


def _temporary(path, target: Path) -> tuple[int, str]:
    _parent_folder(path, target)
    try:
        return tempfile.mkstemp(prefix=temporary_prefix(target), suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write in {target.parent} ({_cause(exc)}); choose a writable folder") \
            from exc


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries an interrupted write of ``path`` left beside it (``.NAME.XXXXXXXX.tmp``,
    the pattern this module writes) when they are provably stale: not locked by a live writer (or,
    without locks, older than :data:`STALE_AFTER_S`); returns what was removed."""
    import re

    target = Path(os.path.realpath(path))
    pattern = re.compile(re.escape(temporary_prefix(target)) + r"[a-z0-9_]{8}\.tmp")
    removed = []
    try:
        entries = list(os.scandir(target.parent))
    except OSError:
        return removed
    for entry in entries:
        if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False) and not _in_use(entry.path):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


#: without advisory locks (Windows), a temporary younger than this may belong to a live writer
STALE_AFTER_S = 15 * 60


def _lock(fd: int) -> int | None:
    """Hold an advisory lock on a temporary while it is written, so another run that finds it knows
    it is not stale (POSIX ``flock``); returns the descriptor to close after the rename, or None
    where there are no such locks (Windows: the descriptor is closed at once, since an open file
    cannot be renamed there, and the temporary's age says whether it is stale, see :func:`_in_use`)."""
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except (ImportError, OSError):
        os.close(fd)
        return None


def _in_use(path: str) -> bool:
    """Whether a live writer holds the temporary at ``path`` (its lock), or, without locks, whether
    it is younger than :data:`STALE_AFTER_S`; only what is provably stale is removed."""
    import time

    try:
        import fcntl
    except ImportError:
        try:
            return time.time() - os.stat(path).st_mtime < STALE_AFTER_S
        except OSError:
            return True
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _keep_owner_and_mode(tmp: str, target: Path) -> None:
    """The temporary takes the mode (and, where the process may, the owner) of the file it replaces;
    a new file gets the mode the user's umask gives (mkstemp makes 0600)."""
    try:
        st = os.stat(target)
    except OSError:
        os.chmod(tmp, 0o666 & ~_umask())
        return
    os.chmod(tmp, st.st_mode & 0o7777)
    if hasattr(os, "chown"):
        with contextlib.suppress(OSError):
            mine = os.stat(tmp)
            if (mine.st_uid, mine.st_gid) != (st.st_uid, st.st_gid):
                os.chown(tmp, st.st_uid, st.st_gid)


def _replace(tmp: str, target: Path, tries: int = 10) -> None:
    """``os.replace``, retried for a moment on Windows, where a file open in another program (a CSV
    in a spreadsheet, an indexer) cannot be replaced until it is closed."""
    import time

    for attempt in range(tries):
        try:
            os.replace(tmp, target)
            return
        except PermissionError:
            if sys.platform != "win32" or attempt == tries - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


def _text_kwargs(mode: str) -> dict:
    """Text files are UTF-8; an undecodable file name (surrogates) is written as ``\\udcff``, never a crash."""
    return {} if "b" in mode else {"encoding": "utf-8", "errors": "backslashreplace", "newline": ""}


@contextlib.contextmanager
def _remote_path(url: str) -> Iterator[str]:
    """A local temporary file for a writer that needs a path (NumPy, ONNX), uploaded to ``url`` in
    one PUT when complete, then removed."""
    import tempfile

    from .bucket_writes import write_bytes

    with tempfile.TemporaryDirectory(prefix="srop-onnx-upload-") as tmp:
        local = os.path.join(tmp, url.rstrip("/").rsplit("/", 1)[-1] or "object")
        yield local
        with open(local, "rb") as f:
            write_bytes(url, f.read())


def _not_a_lost_url(path) -> None:
    """A local path that reads like a URL whose ``//`` was lost (``s3:/bucket/key``, what
    ``Path("s3://bucket/key")`` gives) is refused: it would land in a local folder named ``s3:``."""
    import re

    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+:[/\\](?![/\\])", os.fspath(path)):
        raise OutputError(f"{path}: looks like a URL with one '/' after the scheme; write it as scheme://bucket/key")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """A temporary path beside ``path``'s real target (through symbolic links) for the caller to
    write; renamed over the target on success, removed on failure (an OSError becomes one
    :class:`OutputError` line, the previous file unchanged)."""
    from .remote import is_url

    _not_a_lost_url(path)
    if is_url(path):  # an object is written in one PUT of the whole file, after it is complete
        with _remote_path(str(path)) as tmp:
            yield tmp
        return
    target = Path(os.path.realpath(path))
    fd, tmp = _temporary(path, target)
    held = _lock(fd)  # until the temporary is renamed or removed: never taken for a stale one
    try:
        yield tmp
        _keep_owner_and_mode(tmp, target)
        _replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write ({_cause(exc)}); the previous file, if any, is unchanged") from exc
        raise
    finally:
        if held is not None:
            os.close(held)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator:
    """A file object for ``path`` (``"w"`` text in UTF-8 or ``"wb"``), committed on success only."""
    if to_stdout(path):
        with _stdout(path, mode) as f:
            yield f
        return
    from .bucket_writes import write_bytes
    from .remote import is_url

    if is_url(path):  # built in memory, then one PUT of the complete object
        import io

        buf = io.StringIO() if "b" not in mode else io.BytesIO()
        yield buf
        data = buf.getvalue()
        write_bytes(str(path), data.encode("utf-8") if isinstance(data, str) else data)
        return
    _not_a_lost_url(path)
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a folder; give a file path")
    if os.path.exists(path) and not os.path.isfile(path):  # by the path as given: /dev/stdout to a pipe
        with _write_through(path, Path(path), mode) as f:  # resolves to /proc/PID/fd/pipe:[N], no file
            yield f
        return
    with atomic_path(path) as tmp, open(tmp, mode, **_text_kwargs(mode)) as f:
        yield f
        f.flush()
        os.fsync(f.fileno())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_write(path, "w") as f:
        f.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_write(path, "wb") as f:
        f.write(data)


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _input_hit(out: Path, inputs: list) -> str | None:
    """The input argument that ``out`` would overwrite: an input file, or a file inside an input
    folder that would be read as an input."""
    from .patterns import is_pattern, pattern_covers

    real = Path(os.path.realpath(out))
    for raw in inputs:
        p = Path(raw)
        if is_pattern(raw):  # images/*.npz: what it matches, now or when the run reads it
            if real.suffix.lower() in IMAGE_SUFFIXES | ARRAY_SUFFIXES and pattern_covers(raw, out):
                return f"a file the input pattern {raw} matches"
        elif p.is_dir():
            inside = real.is_relative_to(os.path.realpath(p))
            if inside and real.suffix.lower() in IMAGE_SUFFIXES | ARRAY_SUFFIXES:
                return f"a file of the input folder {p}"
        elif p.exists() and _same(out, p):
            return f"the input {p}"
    return None


def guard_outputs(outputs: dict, *, model=None, inputs=(), protected: dict | None = None) -> None:
    """Refuse output paths that would overwrite what the user owns, before anything runs.

    ``outputs`` maps an option (``"--json"``) to its path (None: not given); ``model`` is the model
    path (its external data files are protected too when it loads); ``inputs`` the input arguments;
    ``protected`` more files by what they are (``{"the golden profile": path}``).
    """
    from .bucket_writes import check_output_urls
    from .lists import is_list_argument
    from .remote import is_url

    inputs = [str(i)[1:] if is_list_argument(i) else i for i in inputs]  # a list of inputs (@val.txt) is owned too
    urls = [p for p in outputs.values() if p is not None and is_url(p)]
    if len(urls) != len(set(urls)):
        raise OutputError(f"{urls[0]}: two outputs name the same object; give each output its own URL")
    owned_urls = {str(p): what for what, p in (protected or {}).items() if p is not None and is_url(str(p))}
    if model is not None and is_url(str(model)):
        owned_urls[str(model)] = f"the model {model}"
    for opt, p in outputs.items():
        if p is not None and is_url(p) and p.endswith("/"):
            raise OutputError(f"{opt} {p}: is a prefix (it ends in /), not an object; give the object's key (a "
                              "file name after the last /)")
        if p is not None and is_url(p) and p in owned_urls:
            raise OutputError(f"{opt} {p}: that is {owned_urls[p]}; refusing to overwrite it, choose another URL")
        for i in (str(i) for i in inputs if is_url(str(i))):
            if p is not None and is_url(p) and (p == i or p.startswith(i.rstrip("/") + "/")):
                raise OutputError(f"{opt} {p}: that is an input ({i}); refusing to overwrite it, choose another URL")
    check_output_urls(outputs)
    given = {opt: Path(p) for opt, p in outputs.items() if p is not None and not to_stdout(p) and not is_url(p)}
    owned = {what: Path(p) for what, p in (protected or {}).items() if p is not None and not is_url(p)}
    if model is not None and not is_url(model):
        owned[f"the model {model}"] = Path(model)
    seen: dict[str, str] = {}
    for opt, out in given.items():
        key = os.path.realpath(out)
        if key in seen:
            raise OutputError(f"{opt} {out}: the same file as {seen[key]}; give each output its own path")
        seen[key] = opt
        for what, path in owned.items():
            if path.exists() and _same(out, path):
                raise OutputError(f"{opt} {out}: that is {what}; refusing to overwrite it, choose another path")
        hit = _input_hit(out, list(inputs))
        if hit:
            raise OutputError(f"{opt} {out}: that is {hit}; refusing to overwrite it, choose another path")
        writable_file(opt, out)


def writable_file(opt: str, out: Path) -> None:
    """Refuse a local output that could not be written when the run ends: where a folder of its path
    should be there is a file or a broken symbolic link, or the folder it would be written in (or
    created under) is on a read-only file system or not writable. A device or a FIFO is written
    into as it is; a full disk can only show when the file is written."""
    opt = spell(opt)
    # os.path's tests, not Path's: those raise on a folder one may not look into (EACCES, Python < 3.12)
    if os.path.exists(out) and not os.path.isfile(out):
        return
    if os.path.islink(out):
        target = Path(os.path.realpath(out))
        if not os.path.isdir(target.parent):
            raise OutputError(f"{opt} {out}: is a symbolic link to {target}, whose folder does not exist; fix the link "
                              "or choose another output path")
        here = target.parent
    else:
        here = Path(os.path.abspath(out)).parent
        while not os.path.exists(here) and here != here.parent:
            if os.path.lexists(here):
                break
            here = here.parent
        if not os.path.lexists(here):  # a drive (Windows) or mount root that is not there
            raise OutputError(f"{opt} {out}: {here} does not exist; choose another output path")
        if not os.path.isdir(here):
            raise OutputError(f"{opt} {out}: a folder on this path ({here}) is a broken symbolic link or a file; fix "
                              "it or choose another output path")
    why = _cannot_write(here)
    if why:
        raise OutputError(f"{opt} {out}: cannot write in {here} ({why}); choose a writable folder")


def _cannot_write(folder: Path) -> str | None:
    """Why nothing can be written in an existing ``folder`` (None: it can, as far as one can tell
    before trying)."""
    readonly = False
    try:
        readonly = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (AttributeError, OSError):  # Windows: no statvfs
        pass
    if readonly:
        return "read-only file system"
    return None if os.access(folder, os.W_OK | os.X_OK) else "permission denied"


LOCK_NAME = ".srop-onnx.lock"


@contextlib.contextmanager
def folder_lock(folder: Path, what: str, timeout: float = 600.0) -> Iterator[None]:
    """Hold ``folder``'s writer lock (an advisory lock on ``.srop-onnx.lock`` in it) while a writer
    reads what is there and adds to it, so that two runs writing into one folder take turns
    instead of losing each other's work. POSIX ``flock``; Windows ``msvcrt.locking``; a lock not
    had within ``timeout`` seconds is an error that names the folder."""
    import time

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{what} {folder}: cannot write there ({_cause(exc)}); choose another folder") from None
    try:
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                raise OutputError(f"{what} {folder}: another srop-onnx run has been writing there for "
                                  f"{timeout:.0f} s; wait for it to end, or write to another folder")
            time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError:  # a file system without locks: no one to wait for
        return True


def writable_folder(folder: Path, what: str) -> None:
    """Refuse, before any work, a folder that cannot be written: a file in its place, a read-only
    file system, no permission (the folder, or where it would be created)."""
    what = spell(what)
    here = folder
    while not os.path.exists(here) and here != here.parent:  # os.path's: Path's raise on EACCES (< 3.12)
        here = here.parent
    if here == folder and not os.path.isdir(folder):
        raise OutputError(f"{what} {folder}: is a file, not a folder; give a folder")
    if here != folder and not os.path.isdir(here):
        raise OutputError(f"{what} {folder}: {here} is a file, not a folder; give another path")
    why = _cannot_write(here)
    if why:
        raise OutputError(f"{what} {folder}: cannot write there ({why}); choose another folder")
