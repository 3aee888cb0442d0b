"""File reading of srop-onnx: models, external data, input discovery, images, WAV files (arrays:
:mod:`srop_onnx.inputs.arrayfiles`).

Math, statistics and graph rewrites take objects in memory; this module and
:mod:`srop_onnx.files.writes` (every file written, atomically) are the places that touch the file system.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputDataError, ModelError, UsageError
from ..files.filetypes import ARRAY_SUFFIXES, IMAGE_SUFFIXES, INPUT_SUFFIXES
from ..files.writes import atomic_path

__all__ = [
    "IMAGE_SUFFIXES",
    "ARRAY_SUFFIXES",
    "LoadedModel",
    "load_model",
    "load_model_bytes",
    "as_loaded",
    "external_data_files",
    "runnable_model",
    "discover_inputs",
    "discover_keyed",
    "check_readable",
    "read_wav",
    "content_digest",
    "read_hashed",
    "in_memory_model",
    "read_image",
    "load_model_with_weights",
    "save_model",
]


# ONNX Runtime and protobuf cannot take serialized models of 2 GiB and more.
_PROTO_LIMIT = 2**31 - 1


@dataclass
class LoadedModel:
    """An ONNX model read from disk, weights left where they are.

    ``proto`` holds the graph; tensors stored as external data are *not*
    loaded (their files are listed in ``external_files``), so models over
    2 GB stay cheap to rewrite.
    """

    proto: object  # onnx.ModelProto
    path: Path
    sha256: str
    external_files: list[Path]
    #: where the model came from when that is not a local path (a URL), as given
    source: str | None = None

    @property
    def shown(self) -> str:
        """The model's path or URL as the user gave it."""
        return self.source or str(self.path)


def _shown(location: str, limit: int = 80) -> str:
    """An external-data location as one line of text: escaped, and shortened when long."""
    text = repr(location)[1:-1]
    return text if len(text) <= limit else f"{text[:limit - 20]}...({len(location)} characters)"


def _external_target(base: Path, tensor_name: str, location: str) -> Path:
    """Where an external-data ``location`` points, inside ``base``; a location that is empty,
    absolute, outside the folder, holds a NUL byte, is too long for the file system or loops
    through symbolic links is refused as a model error (nothing outside the folder is read)."""
    where = f"{base}: tensor '{_shown(tensor_name, 60)}' points to external data '{_shown(location)}'"
    if not location or "\x00" in location or Path(location).is_absolute():
        raise ModelError(f"{where}, which is not a file name inside the model's folder; refusing to read it "
                         "(move the data file next to the model and fix its location)")
    try:
        target = (base / location).resolve(strict=False)
        if target.is_symlink():  # Python 3.13 resolves a loop as far as it goes, where 3.12 raised this
            raise RuntimeError(f"Symlink loop from {str(base / location)!r}")
        inside = target.is_relative_to(base)
        exists = inside and target.is_file()
    except (OSError, RuntimeError, ValueError) as exc:  # name too long, a symbolic link loop
        raise ModelError(f"{where}, which cannot be resolved ({type(exc).__name__}: {_shown(str(exc))}); fix the "
                         "location in the model") from None
    if not inside:
        raise ModelError(f"{where}, outside the model's folder; refusing to read it (move the data file next to "
                         "the model and fix its location)")
    if not exists:
        raise ModelError(f"{where}, which is missing; copy it next to the model (it must sit at that path relative "
                         "to the .onnx file)")
    return target


def external_data_files(proto, base: Path) -> list[Path]:
    """Files referenced as external data by ``proto``, checked to exist inside ``base``."""
    from onnx.external_data_helper import uses_external_data

    from .graph import iter_tensors

    base = base.resolve()
    files: dict[Path, None] = {}
    for tensor in iter_tensors(proto.graph):
        if uses_external_data(tensor):
            info = {e.key: e.value for e in tensor.external_data}
            files[_external_target(base, tensor.name, info.get("location", ""))] = None
    return list(files)


def load_model(path: str | os.PathLike) -> LoadedModel:
    """Read an ONNX model without loading external weights; one-line errors for bad files."""
    from ..core._xp import beside
    from ..files.reading import MAX_MODEL_BYTES, read_checked

    from ..files.remote import is_url

    if is_url(str(path)):
        return _load_remote_model(str(path))
    p = Path(path)
    if not p.exists():
        listed = str(p).startswith("@") and Path(str(p)[1:]).is_file()  # inputs first: analyze @val.txt model.onnx
        raise ModelError(f"{p}: a list of inputs; the model comes first: MODEL @LIST" if listed else
                         f"{p}: no such file; give the path of an .onnx model")
    if p.is_dir():
        from .notonnx import folder_hint

        raise ModelError(f"{p}: {folder_hint(p)}")
    # read once: parsed and hashed from memory; a device or a file over protobuf's 2 GiB is refused unread.
    # The read (which releases the GIL) runs on another thread while ONNX's package is imported here.
    data, onnx = beside(lambda: read_checked(p, "model", MAX_MODEL_BYTES, ModelError, "give the path of an .onnx "
                                             "model file (a model over 2 GiB keeps its weights in external data)"),
                        _import_onnx)

    def parse():
        try:
            return onnx.load_model_from_string(data)
        except Exception as exc:  # protobuf raises assorted errors on garbage
            raise ModelError(_not_onnx(str(p), f"or a truncated one ({type(exc).__name__}); re-export or "
                                               "re-download it")) from exc

    proto, sha256 = _hashed_while(data, parse)
    if proto.ir_version <= 0 or not proto.HasField("graph") or len(proto.graph.node) == 0:
        raise ModelError(_not_onnx(str(p), "(no graph or no nodes); re-export or re-download it"))
    ext = external_data_files(proto, p.parent)
    return LoadedModel(proto=proto, path=p, sha256=sha256, external_files=ext)


def _import_onnx():
    import onnx

    return onnx


def _hashed_while(data: bytes, work):
    """``(work(), SHA-256 of data)``: a large model's digest is taken on another thread while ``work``
    (parsing it) runs, since hashlib releases the GIL; the digest then costs no wall time."""
    if len(data) < 1 << 20:
        return work(), hashlib.sha256(data).hexdigest()
    from ..core._xp import beside

    digest, result = beside(lambda: hashlib.sha256(data).hexdigest(), work)
    return result, digest


def _load_remote_model(url: str) -> LoadedModel:
    """A model in a bucket, read into memory (its size checked from the listing first); weights kept
    as external data are read from the objects they name beside it, into the tensors."""
    from ..files.reading import MAX_MODEL_BYTES, read_checked

    data = read_checked(url, "model", MAX_MODEL_BYTES, ModelError, "give the URL of an .onnx model")
    proto, sha256 = _hashed_while(data, lambda: _parse(data, url, "give the URL of an .onnx model"))
    _read_remote_external_data(proto, url)
    return LoadedModel(proto=proto, path=Path(url), sha256=sha256, external_files=[], source=url)


def _remote_location(prefix: str, url: str, tensor_name: str, location: str) -> str:
    """The URL of an external-data ``location`` below the model's ``prefix``; a location that is
    empty, absolute or leaves the model's folder is refused (as for a local model)."""
    import posixpath

    where = f"{url}: tensor '{_shown(tensor_name, 60)}' points to external data '{_shown(location)}'"
    clean = posixpath.normpath(location.replace("\\", "/")) if location else ""
    if not location or "\x00" in location or location.startswith(("/", "\\")) or "://" in location \
            or (len(location) > 1 and location[1] == ":"):
        raise ModelError(f"{where}, which is not a file name inside the model's folder; refusing to read it "
                         "(move the data file next to the model and fix its location)")
    if clean == "." or clean == ".." or clean.startswith("../"):
        raise ModelError(f"{where}, outside the model's folder; refusing to read it (move the data file next to "
                         "the model and fix its location)")
    return f"{prefix}/{clean}"


def _read_remote_external_data(proto, url: str) -> None:
    """Weights stored as external data, read from the bucket (one GET per data object) into the
    tensors; the model must then fit ONNX's 2 GiB in memory."""
    from onnx import TensorProto
    from onnx.external_data_helper import uses_external_data

    from ..files.remote import exists, read_bytes
    from .graph import iter_tensors

    prefix = url.rsplit("/", 1)[0]
    objects: dict[str, bytes] = {}
    for tensor in iter_tensors(proto.graph):
        if not uses_external_data(tensor):
            continue
        info = {e.key: e.value for e in tensor.external_data}
        target = _remote_location(prefix, url, tensor.name, info.get("location", ""))
        if target not in objects:
            if not exists(target):
                raise ModelError(f"{url}: tensor '{_shown(tensor.name, 60)}' points to external data "
                                 f"'{_shown(info.get('location', ''))}', which is missing; put {target} beside the model")
            objects[target] = read_bytes(target, ModelError)
        blob = objects[target]
        try:
            offset = int(info.get("offset", 0) or 0)
            length = int(info["length"]) if info.get("length") else len(blob) - offset
        except ValueError:
            raise ModelError(f"{url}: tensor '{_shown(tensor.name, 60)}' has an external-data offset or length that "
                             "is not a number; re-export the model") from None
        if offset < 0 or length < 0 or offset + length > len(blob):
            raise ModelError(f"{url}: tensor '{_shown(tensor.name, 60)}' reads bytes {offset}..{offset + length} of "
                             f"{target}, which holds {len(blob)}; the data file does not belong to this model")
        tensor.raw_data = blob[offset:offset + length]
        del tensor.external_data[:]
        tensor.data_location = TensorProto.DEFAULT
    if objects and proto.ByteSize() > _PROTO_LIMIT:
        raise ModelError(f"{url}: its weights are over 2 GiB, more than a model read from a bucket can hold in "
                         "memory; copy the model and its data files to a local folder and give that path")


def _not_onnx(label: str, why: str) -> str:
    """``LABEL: not an ONNX model WHY``, or, for a framework's own file (a PyTorch, Keras, TFLite...
    suffix), how to make the ONNX model of it."""
    from .notonnx import file_hint

    framework = file_hint(label)
    return f"{label}: not an ONNX model: {framework}" if framework else f"{label}: not an ONNX model {why}"


def _parse(data: bytes, label: str, fix: str = "pass ONNX bytes, a ModelProto or a path"):
    """The ModelProto in ``data``; one line when it is not an ONNX model."""
    import onnx

    try:
        proto = onnx.load_model_from_string(bytes(data))
    except Exception as exc:  # noqa: BLE001 - protobuf raises assorted errors on garbage
        raise ModelError(_not_onnx(label, f"({type(exc).__name__}); {fix}")) from exc
    if proto.ir_version <= 0 or not proto.HasField("graph") or len(proto.graph.node) == 0:
        raise ModelError(_not_onnx(label, "(no graph or no nodes)"))
    return proto


def load_model_bytes(data: bytes, label: str = "<memory>") -> LoadedModel:
    """An ONNX model from serialized bytes (an in-memory export); ``label`` names it in profiles
    and errors. Weights must be inside (there is no folder for external data)."""
    proto, sha256 = _hashed_while(data, lambda: _parse(data, label))
    if any(t.data_location == 1 for t in proto.graph.initializer):
        raise ModelError(f"{label}: a model with external data read from memory; save it with its weights inside "
                         "(under 2 GiB), or give its path")
    return LoadedModel(proto=proto, path=Path(label), sha256=sha256, external_files=[])


def as_loaded(model, label: str = "<memory>") -> LoadedModel:
    """A path, ONNX bytes or an ``onnx.ModelProto`` as a :class:`LoadedModel`."""
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, (bytes, bytearray, memoryview)):
        return load_model_bytes(bytes(model), label)
    if type(model).__name__ == "ModelProto" and hasattr(model, "SerializeToString"):
        return load_model_bytes(model.SerializeToString(), label)
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)  # a path or a URL
    raise UsageError(f"model: a path, ONNX bytes or an onnx.ModelProto, got {type(model).__name__}")


def runnable_model(loaded: LoadedModel, proto) -> tuple[bytes, str | None]:
    """What ONNX Runtime should load for a rewritten ``proto`` of ``loaded``.

    Returns the serialized graph (weights stored as external data stay where
    they are, so even models over 2 GB serialize small) and the folder ONNX
    Runtime must read external data from (None without external data).
    Nothing is written to disk.
    """
    if proto.ByteSize() > _PROTO_LIMIT:
        raise ModelError(f"{loaded.path}: model is over 2 GB without external data, which ONNX cannot represent")
    folder = str(loaded.path.parent.resolve()) if loaded.external_files else None
    return proto.SerializeToString(), folder


def load_model_with_weights(path) -> LoadedModel:
    """Like :func:`load_model`, with external weights read into memory; a model already in memory
    (ONNX bytes, a ModelProto, a LoadedModel: weights inside) as :func:`as_loaded` takes it."""
    from onnx.external_data_helper import load_external_data_for_model

    loaded = load_model(path) if isinstance(path, (str, os.PathLike)) else as_loaded(path)
    if loaded.external_files:
        try:
            load_external_data_for_model(loaded.proto, str(loaded.path.parent))
        except (OSError, ValueError) as exc:
            raise ModelError(f"{loaded.path}: cannot read external data ({exc})") from exc
    return loaded


def save_model(proto, path: str | os.PathLike, *, protect: list[Path] = ()) -> Path:
    """Write ``proto`` atomically; weights go to ``<name>.data`` beside it when over 2 GB.

    Refuses to overwrite any file in ``protect`` (the user's model and its data).
    """
    import onnx

    from ..files.bucket_writes import write_bytes
    from ..files.remote import is_url

    if is_url(str(path)):  # one PUT of the whole model; a twin over 2 GiB goes to a local folder
        if not str(path).lower().endswith(".onnx"):
            raise ModelError(f"{path}: output model path must end in .onnx")
        if proto.ByteSize() > _PROTO_LIMIT:
            raise ModelError(f"{path}: the model is over 2 GiB and needs an external data file beside it; write it "
                             "to a local folder")
        write_bytes(str(path), proto.SerializeToString())
        return path
    target = Path(path)
    if target.suffix.lower() != ".onnx":
        raise ModelError(f"{target}: output model path must end in .onnx")
    guarded = {p.resolve() for p in protect}
    if target.resolve() in guarded or target.with_name(target.name + ".data").resolve() in guarded:
        raise ModelError(f"{target}: refusing to overwrite the input model; choose another -o path")
    with atomic_path(target) as tmp:  # a symbolic link is written through, not replaced
        if proto.ByteSize() > _PROTO_LIMIT:
            data = target.name + ".data"
            onnx.save_model(proto, tmp, save_as_external_data=True, all_tensors_to_one_file=True, location=data)
        else:
            onnx.save_model(proto, tmp)
    return target


def in_memory_model(proto, label: str) -> LoadedModel:
    """A LoadedModel for a proto made in memory (e.g. a randomized twin)."""
    h = hashlib.sha256(proto.SerializeToString()).hexdigest()
    return LoadedModel(proto=proto, path=Path(label), sha256=h, external_files=[])


# -- inputs -------------------------------------------------------------------
def _walk(folder: Path) -> list[Path]:
    """Input candidates below ``folder``: files with an input suffix, and also what cannot be read
    (a broken link or a FIFO named like an input, a subfolder that cannot be listed), so that a run
    skips and lists them instead of losing them silently."""
    found: list[Path] = []
    suffixes = INPUT_SUFFIXES

    def unreadable(err: OSError) -> None:
        if err.filename and Path(err.filename) != folder:
            found.append(Path(err.filename))

    for root, dirs, names in os.walk(folder, onerror=unreadable):
        dirs.sort()
        for name in names:
            if Path(name).suffix.lower() in suffixes:
                found.append(Path(root) / name)
    return sorted(found, key=lambda f: f.relative_to(folder).as_posix())


def discover_inputs(paths: list[str | os.PathLike]) -> list[Path]:
    """Input files from files and folders (folders recursively), sorted per argument
    (see :func:`discover_keyed`)."""
    return [f for f, _key in discover_keyed(paths)]


def discover_keyed(paths: list[str | os.PathLike], told=None) -> list[tuple[Path, str]]:
    """``(file, key)`` of every input file under ``paths``, sorted per argument. The key is the
    file's identity independent of how the path was typed: its path inside the folder argument it
    was found under (``cats/1.png``), or the name of a file given directly (``x.npy``); different
    files may share one (files.keys says so).

    Entries that cannot be read (broken links, FIFOs, unreadable subfolders) are kept in the list:
    reading them fails with a reason, so a run lists them as skipped. Raises InputDataError for a
    missing path or a folder without usable files. ``told`` hears how far a long bucket listing is.
    """
    from ..files.remote import is_url, list_objects

    from ..files.lists import is_list_argument, keyed_list
    from ..files.patterns import is_pattern, is_remote_pattern, pattern_entries, remote_pattern_entries

    found: list[tuple[Path, str]] = []
    for raw in paths:
        if is_list_argument(raw):  # @val.txt, @val.csv: a list of inputs (files.lists)
            found.extend(keyed_list(raw, _walk, INPUT_SUFFIXES))  # type: ignore[arg-type]
            continue
        if not is_url(str(raw)) and is_pattern(raw):  # images/*.png, as Windows' shells pass it (files.patterns)
            found.extend(pattern_entries(raw, _walk, INPUT_SUFFIXES))
            continue
        if is_url(str(raw)):  # a bucket prefix, one object or a pattern: listed once (docs/scale.md)
            objects = (remote_pattern_entries(str(raw), INPUT_SUFFIXES, told) if is_remote_pattern(str(raw))
                       else list_objects(str(raw), INPUT_SUFFIXES, told))
            if not objects:
                exts = ", ".join(sorted(INPUT_SUFFIXES))
                raise InputDataError(f"{raw}: no images or arrays there ({exts}); point to a prefix with inputs")
            found.extend(objects)
            continue
        p = Path(raw)
        if not p.exists():
            raise InputDataError(f"{p}: no such file or folder; give image files, .npy/.npz arrays or folders of them")
        if p.is_dir():
            files = _walk(p)
            if not files:
                exts = ", ".join(sorted(INPUT_SUFFIXES))
                raise InputDataError(f"{p}: folder has no images or arrays ({exts}); point to a folder with inputs")
            found.extend((f, f.relative_to(p).as_posix()) for f in files)
        else:
            found.append((p, p.name))
    return found


def check_readable(path: Path) -> None:
    """Raise InputDataError unless ``path`` is a regular file that can be opened (never blocks on
    a FIFO or a device: they are refused before opening)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        from ..files.patterns import is_pattern

        what = ("broken symbolic link" if os.path.islink(path) else "a pattern that matches no input" if is_pattern(path)
                else "no such file (listed, or gone since it was found)")
        raise InputDataError(f"{path}: {what}; skipping it") from None
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(mode):
        try:
            with os.scandir(path):
                pass
        except OSError as exc:
            raise InputDataError(f"{path}: cannot list this folder ({exc.strerror or exc}); its files were not read") \
                from exc
        raise InputDataError(f"{path}: is a folder")
    if not stat.S_ISREG(mode):
        raise InputDataError(f"{path}: not a regular file (a FIFO, socket or device); give image or array files")
    if not os.access(path, os.R_OK):
        raise InputDataError(f"{path}: cannot read (permission denied)")


def _pixel_limit() -> int:
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)


def read_image(path: Path, data: bytes | None = None):
    """Open an image as a PIL image with EXIF orientation applied (loaded fully); ``data``: the
    file's bytes when the caller already read them (decoded from memory).

    The header's size is checked before anything is decoded: an image over Pillow's pixel limit
    (89 MP by default) is a bad input, whatever its file size (a 69-byte PNG can claim 30000 x 30000).
    """
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    import io

    if data is None:
        check_readable(path)
    source = path if data is None else io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # bounded below, one line
            with Image.open(source) as im:
                w, h = im.size
                if w * h > _pixel_limit():
                    raise InputDataError(f"{path}: image claims {w}x{h} pixels, over the {_pixel_limit() / 1e6:.0f} MP "
                                         "that srop-onnx decodes; downscale it first")
                im.load()
                return ImageOps.exif_transpose(im)
    except Image.DecompressionBombError as exc:  # Pillow refuses before we see the size (over 2x its limit)
        import re

        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        claim = f"{pixels.group(1)} pixels" if pixels else "more pixels than Pillow allows"
        raise InputDataError(f"{path}: image claims {claim}, over the {_pixel_limit() / 1e6:.0f} MP that srop-onnx "
                             "decodes; downscale it first") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, MemoryError) as exc:
        if isinstance(exc, UnidentifiedImageError) and (data == b"" or data is None and os.path.getsize(path) == 0):
            raise InputDataError(f"{path}: the file is empty (0 bytes), not an image") from exc
        why = str(exc).replace(repr(source), repr(str(path)))  # the same words whether read from disk or memory
        raise InputDataError(f"{path}: cannot read image ({exc.__class__.__name__}: {why})") from exc


def content_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks (an unreadable file has an identity too)."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
    except OSError as exc:
        return f"unreadable:{exc.errno}"
    return h.hexdigest()


def read_hashed(path: Path, keep: bool = True) -> tuple[bytes | None, str]:
    """``(the file's bytes, their SHA-256)``; with ``keep=False`` the bytes are hashed in blocks
    and not kept (a large ``.npy`` is then memory-mapped by the reader)."""
    if not keep:
        return None, content_digest(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputDataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except MemoryError as exc:
        raise InputDataError(f"{path}: too large to read into memory") from exc
    return data, hashlib.sha256(data).hexdigest()


def read_wav(path: Path, raw: bytes | None = None) -> tuple[int, np.ndarray]:
    """``(sample rate, samples)`` of a WAV file, float64 in [-1, 1] (integer PCM scaled by its
    range), shape ``(samples,)`` or ``(samples, channels)``; ``raw``: the file's bytes when the
    caller already read them."""
    import io
    import warnings

    from scipy.io import wavfile

    if raw is None:
        check_readable(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", wavfile.WavFileWarning)
            rate, data = wavfile.read(path if raw is None else io.BytesIO(raw), mmap=False)
    except (ValueError, OSError, EOFError, MemoryError) as exc:
        raise InputDataError(f"{path}: cannot read WAV ({type(exc).__name__}: {exc})") from exc
    if data.dtype.kind == "u":  # 8-bit PCM is unsigned around 128
        info = np.iinfo(data.dtype)
        data = (data.astype(np.float64) - (info.max + 1) / 2) / ((info.max + 1) / 2)
    elif data.dtype.kind == "i":
        data = data.astype(np.float64) / float(-np.iinfo(data.dtype).min)
    else:
        data = data.astype(np.float64)
    if data.size == 0:
        raise InputDataError(f"{path}: the WAV file holds no samples")
    return int(rate), data
