"""The inputs of one run: what an input set is and does.

An :class:`InputSet` is the run's files (found under the input arguments, sorted, each with its
identity key) or the rows of an in-memory array, sliced to a shard. It says what the whole list is
(a digest, its size, whether images are in it, the first WAV file), proves a shard's slice for
``merge``, resolves the settings that depend on the inputs, and streams the samples still to
analyse. Decoding lives in :mod:`srop_onnx.inputs.samples`; files are found by :mod:`srop_onnx.model.modelio`.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

from ..errors import UsageError
from ..files.filetypes import ARRAY_SUFFIXES, AUDIO_SUFFIXES
from ..files.remote import is_remote
from ..model.modelio import discover_keyed
from .samples import FileList, Sample, check_array, iter_samples

if TYPE_CHECKING:
    from ..config.settings import Execution, Measurement
    from ..run.stages import ModelPlan, RunState

__all__ = ["InputSet", "Listing", "open_inputs", "shard_slice", "npz_names", "list_inputs", "shard_listings"]


def shard_slice(n: int, shard: tuple[int, int] | None) -> slice:
    """Contiguous, deterministic slice ``I`` of ``N`` (1-based) over ``n`` items in input order."""
    if shard is None:
        return slice(0, n)
    i, count = shard
    return slice((i - 1) * n // count, i * n // count)


@dataclass
class InputSet:
    """The inputs of one run (this shard's): files, or the rows of an in-memory batch."""

    files: FileList | None
    direct: list[Sample] | None
    has_images: bool  # over the whole input list, so every shard records the same settings
    total: int = 0  # inputs (files or array rows) in the whole list, before sharding
    list_digest: str = ""  # what the whole input list is: identity keys and sizes, or the array's bytes
    first_audio: Path | None = None  # the whole list's first WAV file (its rate is the run's by default)
    labels: object = None  # labels given one per file, this shard's in file order; in memory: the run's rule
    notes: list = field(default_factory=list)  # one line each for the user (inputs that share an identity)

    @property
    def paths(self) -> list[Path] | None:
        """This shard's input files in order (None for an in-memory array)."""
        return None if self.files is None else self.files.files

    def adopt_audio_rate(self, plan: "ModelPlan") -> None:
        """Without ``--sample-rate``, the first WAV file's rate is the run's (every shard agrees)."""
        from dataclasses import replace

        from .audio import AudioPrep
        from ..model.modelio import read_wav

        if isinstance(plan.pre, AudioPrep) and plan.pre.sample_rate is None and self.first_audio is not None:
            f = self.first_audio
            plan.pre = replace(plan.pre, sample_rate=read_wav(f, f.read() if is_remote(f) else None)[0])

    def shard_proof(self, shard: tuple[int, int]) -> dict:
        """What a partial profile carries so that ``merge`` can prove it belongs to the run."""
        part = shard_slice(self.total, shard)
        return {"index": shard[0], "count": shard[1], "inputs": self.total, "slice": [part.start, part.stop],
                "list_digest": self.list_digest}

    def settings(self, plan: "ModelPlan", measure: "Measurement") -> dict:
        """The profile's measured settings; preprocessing only when images were fed."""
        pre = plan.pre.to_dict() if plan.pre is not None and self.has_images else None
        return measure.settings(pre)

    def samples(self, plan: "ModelPlan", run: "RunState", how: "Execution") -> tuple[Iterator[Sample], int | None]:
        """Samples still to analyse (after what ``run`` restored) and the total when known; with a
        checkpoint, every file read is hashed as it is read."""
        limit = how.limit
        if self.direct is not None:
            rows = self.direct[:limit] if limit else self.direct
            if hasattr(rows, "bind"):  # in-memory images: preprocessed as the plan says, each when taken
                rows = rows.bind(plan.spec, plan.pre)
            return iter(rows[run.position[1]:]), len(rows)
        assert self.files is not None
        left = None if limit is None else max(0, limit - len(run.sources))
        run.log.shape = run.first_shape
        run.log.hashing = run.digest is not None
        run.log.labels = self.labels or how.labels
        samples = iter_samples(self.files, plan.spec, plan.pre, run.log, strict=how.strict, start=run.position,
                               limit=left)
        images_only = not any(f.suffix.lower() in ARRAY_SUFFIXES for f in self.files.files)
        total = (min(len(self.files), limit) if limit else len(self.files)) if images_only else None
        return samples, total


def _array_set(batch: np.ndarray, spec, shard: tuple[int, int] | None, labels=None) -> InputSet:
    batch = check_array(batch, spec, "inputs array")
    part = shard_slice(batch.shape[0], shard)
    rows = [Sample(f"array[{i}]", batch[i], 0, i, batch.shape[0]) for i in range(part.start, part.stop)]
    if labels is not None:
        for s in rows:
            s.label = _row_label(labels, s.key, s.row, batch.shape[0])
    digest = hashlib.sha256(repr(batch.shape).encode() + np.ascontiguousarray(batch).tobytes()).hexdigest()
    return InputSet(None, rows, False, batch.shape[0], digest)


def _image_set(images: tuple, shard: tuple[int, int] | None, labels=None) -> InputSet:
    """In-memory PIL images: preprocessed as image files are, each when it is taken."""
    from .memory import ImageRows, images_digest

    n = len(images)
    part = shard_slice(n, shard)
    rows = range(part.start, part.stop)
    classes = None if labels is None else [_row_label(labels, f"image[{i}]", i, n, "images") for i in rows]
    direct = ImageRows(images[part], part.start, n, classes)
    return InputSet(None, direct, True, n, images_digest(images))  # type: ignore[arg-type]


def _row_label(labels, key: str, row: int, n: int, what: str = "array") -> str | None:
    """The label of row ``row`` of an in-memory batch of ``n`` rows (``what``: "array" or "images")."""
    if labels.kind == "rows":
        if len(labels.rows) != n:
            given = f"{n} images" if what == "images" else f"an array of {n} rows"
            raise UsageError(f"labels: {len(labels.rows)} given for {given}; give one label per row")
        return labels.rows[row]
    if labels.kind == "table":
        return labels.of(key)
    raise UsageError(f"labels={labels.where!r} labels files; for inputs in memory give one label per row "
                     "(labels=y)")


def as_array(inputs):
    """A framework's tensor (PyTorch, TensorFlow, JAX: anything with ``.detach()``, ``.numpy()`` or
    ``__array__``) as the NumPy array it holds, on the host; paths, lists and arrays as given."""
    import os

    if inputs is None or isinstance(inputs, (np.ndarray, str, bytes, os.PathLike, list, tuple, Listing)):
        return inputs
    if hasattr(inputs, "detach") and hasattr(inputs, "cpu"):  # torch.Tensor (on any device, with grad)
        return inputs.detach().cpu().numpy()
    if callable(getattr(inputs, "numpy", None)):  # tf.Tensor, and others that say how
        return np.asarray(inputs.numpy())
    if hasattr(inputs, "__array__"):
        return np.asarray(inputs)
    return inputs


#: what inputs may be, for the one line that says they are not
_INPUTS = "give image/array files, folders of them, an array batch, or a list of PIL images or arrays"


def in_memory(inputs, limit: "int | None" = None, budget: "int | None" = None, progress=None, sample_rank=None):
    """Inputs as a run takes them: paths (a path, or a list of them), a :class:`Listing`, one array
    (a framework's tensor as NumPy), or :class:`~srop_onnx.inputs.memory.InMemory` for a list of PIL
    images or of arrays and tensors; anything else is a :class:`UsageError`. A data loader or data set
    is read once, only as far as ``limit`` samples when that is given, and only while what it gave
    takes at most ``budget`` bytes, its reading told to ``progress``, its batches told from its
    samples by ``sample_rank()`` (:func:`~srop_onnx.inputs.memory.take`)."""
    from .memory import InMemory, is_pil_image, split_pairs, take

    inputs = as_array(inputs)
    if isinstance(inputs, np.ndarray) and inputs.ndim == 1 and inputs.dtype.kind in "USO":
        inputs = inputs.tolist()  # paths in a pandas Series or an array of strings; objects (images) in one
    if isinstance(inputs, (np.ndarray, str, bytes, os.PathLike, Listing, InMemory)):
        return inputs
    if is_pil_image(inputs):  # one image, as one path is one file
        return InMemory("images", (inputs,))
    iterable = hasattr(inputs, "__iter__")
    if inputs is None or isinstance(inputs, dict) or not (iterable or hasattr(inputs, "__getitem__")
                                                          and hasattr(inputs, "__len__")):
        raise UsageError(f"inputs: {_kind(inputs)} is not something to analyse; {_INPUTS}")
    pair = _inputs_and_targets(inputs)
    if pair is not None:  # Keras' validation_data=(x_val, y_val)
        inputs = [pair]
    items, targets = _collated_paths(*split_pairs(take(inputs, limit, budget, progress, sample_rank)))
    targets = None if targets is None else tuple(targets)
    kinds = ["paths" if isinstance(x, (str, bytes, os.PathLike)) else "PIL images" if is_pil_image(x) else "arrays"
             for x in items]
    if len(set(kinds)) > 1:
        first = kinds[0]
        other = next(i for i, k in enumerate(kinds) if k != first)
        raise UsageError(f"inputs: a list of {first} with {kinds[other]} in it (inputs[{other}]: {_kind(items[other])}); "
                         "give one kind: paths, PIL images or arrays")
    if items and kinds[0] == "paths" and targets is not None:
        return InMemory("paths", tuple(items), targets)  # (path, label) pairs: see pair_paths
    if not items or kinds[0] == "paths":
        return items
    if kinds[0] == "PIL images":
        return InMemory("images", tuple(items), targets)
    arrays = [as_array(x) for x in items]
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            raise UsageError(f"inputs[{i}]: {_kind(a)} is not something to analyse; {_INPUTS}")
    return InMemory("arrays", tuple(arrays), targets)


def _collated_paths(items: list, targets) -> tuple:
    """``(items, targets)`` with batches of paths (a ``DataLoader`` collates a data set's ``(path,
    label)`` pairs into a tuple of paths and a tensor of labels) as one path and one target each."""
    def paths(x) -> bool:
        return isinstance(x, (list, tuple)) and bool(x) and all(isinstance(p, (str, os.PathLike)) for p in x)

    if not items or targets is None or not all(paths(x) for x in items):
        return items, targets
    rows = [as_array(t) for t in targets]
    if not all(isinstance(t, np.ndarray) and t.ndim == 1 and len(t) == len(x) for t, x in zip(rows, items)):
        return items, targets
    return [p for x in items for p in x], [v for t in rows for v in t]


def _inputs_and_targets(inputs) -> "tuple[np.ndarray, np.ndarray] | None":
    """``(x, y)`` as arrays when ``inputs`` is a tuple of a batch and one target per row, as Keras
    takes ``validation_data`` (a list of two arrays stays two items), or ``(x, y, sample_weight)``
    with one weight per row (not used); else None."""
    if not (isinstance(inputs, tuple) and len(inputs) in (2, 3)):
        return None
    x, y, *w = (as_array(v) for v in inputs)  # converted once: a tensor on a GPU is copied to the host once
    rows = [v for v in (y, *w) if isinstance(v, np.ndarray) and v.ndim == 1 and len(v) == len(x)]
    if isinstance(x, np.ndarray) and x.ndim >= 2 and len(rows) == len(inputs) - 1 and x.dtype.kind in "fiu":
        return x, y
    return None


def held_in_memory(inputs) -> bool:
    """Whether inputs as :func:`in_memory` gives them are held in memory (an array, a list of images
    or arrays) rather than named (paths, URLs, lists of inputs, a listing, ``(path, label)`` pairs)."""
    from .memory import InMemory

    return isinstance(inputs, np.ndarray) or isinstance(inputs, InMemory) and inputs.kind != "paths"


def pair_paths(inputs, labels) -> tuple:
    """``(inputs, labels, notes)`` for ``(path, label)`` pairs as :func:`in_memory` gives them (a list of
    them, ``ImageFolder.samples``, a data set of them): their paths, and their classes one per file
    (a rule of kind ``rows`` over the whole list) unless ``labels`` were given, which win. Other inputs
    are returned as they are. A pair names one file or object, not a folder, a prefix or a list."""
    from .memory import InMemory, target_labels

    if not (isinstance(inputs, InMemory) and inputs.kind == "paths"):
        return inputs, labels, []
    from ..config.labels import label_rule
    from ..files.lists import is_list_argument
    from ..files.remote import is_url

    paths = [os.fsdecode(p) if isinstance(p, bytes) else p for p in inputs.items]  # as a list of paths is taken
    for i, p in enumerate(paths):
        text = os.fspath(p)
        if is_list_argument(text) or text.endswith(("/", os.sep)) or not is_url(text) and os.path.isdir(text):
            raise UsageError(f"inputs[{i}]: ({text!r}, ...) names a {'list' if is_list_argument(text) else 'folder'}; a "
                             "(path, label) pair names one file: give one pair per file, or the folder itself with "
                             "labels='folders' (one class folder per label)")
    if labels is not None:
        return paths, labels, ["note: labels= given: the labels of the (path, label) pairs are not used"]
    classes, note = target_labels(inputs, [1] * len(paths))
    return paths, (None if classes is None else label_rule(classes)), ([note] if note else [])


def _kind(x) -> str:
    """How a message names a value: its type."""
    return "None" if x is None else f"a value of type {type(x).__name__}"


def _first_npz(inputs):
    """The first .npz among the input arguments or a :class:`Listing`, or None."""
    inputs, _labels, _notes = pair_paths(in_memory(inputs), None)
    if held_in_memory(inputs):
        return None
    if isinstance(inputs, Listing):
        files = [f for f, _ in inputs.entries]
    else:
        files = [f for f, _ in discover_keyed([inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs))]
    return next((f for f in files if f.suffix.lower() == ".npz"), None)


def npz_names(inputs) -> set[str]:
    """The array names of the first .npz among the input arguments or a :class:`Listing` (empty
    when there is none or it cannot be read: reading it later says why); which of a model's inputs
    it names picks the one to feed."""
    import io
    import zipfile

    try:
        first = _first_npz(inputs)
        if first is None:
            return set()
        with zipfile.ZipFile(io.BytesIO(first.read()) if is_remote(first) else first) as z:
            return {n[:-4] if n.endswith(".npy") else n for n in z.namelist()}
    except Exception:  # noqa: BLE001 - only a hint: the run reads the inputs properly and says what is wrong
        return set()


def npz_scalars(inputs, names: set[str]) -> tuple[dict[str, np.ndarray], str | None]:
    """The 0-d arrays of the first .npz that are named in ``names`` (a model's other inputs, such as
    a sample rate), and that file's name: they go whole with every run (every file of a run must
    feed the same), so they fix what the graph computes from them alone ({} when there is none)."""
    import io
    import zipfile

    from numpy.lib import format as npy

    found: dict[str, np.ndarray] = {}
    try:
        first = _first_npz(inputs)
        if first is None:
            return {}, None
        with zipfile.ZipFile(io.BytesIO(first.read()) if is_remote(first) else first) as z:
            for member in z.namelist():
                name = member[:-4] if member.endswith(".npy") else member
                if name not in names:
                    continue
                with z.open(member) as f:  # the header says the shape: a large array is never read here
                    header = npy.read_array_header_1_0 if npy.read_magic(f) == (1, 0) else npy.read_array_header_2_0
                    shape, _order, _dtype = header(f)
                if shape == ():
                    with z.open(member) as f:
                        found[name] = npy.read_array(f, allow_pickle=False)
        return found, first.name
    except Exception:  # noqa: BLE001 - only a hint: the run reads the inputs properly and says what is wrong
        return {}, None


def _size(f) -> int:
    """A listed file's size (an object's from the listing), -1 for what is not a regular file."""
    if is_remote(f):
        return f.size
    return f.stat().st_size if f.is_file() else -1


@dataclass(frozen=True)
class Listing:
    """One shard's slice of an input list made elsewhere (the driver of a Ray job lists a bucket
    once): its ``(file, key)`` entries, where they start, and what the whole list is."""

    entries: list
    start: int
    total: int
    list_digest: str
    has_images: bool
    first_audio: object = None


def list_inputs(inputs, told=None) -> tuple[list, str, bool, object]:
    """``(entries, list digest, has images, first WAV)`` of input arguments: files and folders, or
    objects under URLs (listed once; ``told`` hears how far a long listing is)."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found = discover_keyed(list(inputs), told)
    files = [f for f, _ in found]
    has_images = any(f.suffix.lower() not in ARRAY_SUFFIXES for f in files)
    listing = "\n".join(f"{key}\t{_size(f)}" for f, key in found)
    digest = hashlib.sha256(listing.encode("utf-8", "surrogateescape")).hexdigest()
    first_audio = next((f for f in files if f.suffix.lower() in AUDIO_SUFFIXES and (is_remote(f) or f.is_file())), None)
    return found, digest, has_images, first_audio


def shard_listings(inputs, count: int, told=None) -> list[Listing]:
    """The input list, listed once, cut into the ``count`` slices that ``--shard i/count`` takes."""
    found, digest, has_images, first_audio = list_inputs(inputs, told)
    out = []
    for i in range(1, count + 1):
        part = shard_slice(len(found), (i, count))
        out.append(Listing(found[part], part.start, len(found), digest, has_images, first_audio))
    return out


def open_inputs(inputs, spec, shard: tuple[int, int] | None, labels=None, told=None) -> InputSet:
    """Files from paths and folders (sorted, with their identity keys), objects under URLs, one
    shard's :class:`Listing`, or the rows of an array batch (or a framework's tensor), sliced to ``shard``
    (``labels``: the rule that labels an array's rows; ``told`` hears how far a long listing is)."""
    from .memory import InMemory

    inputs, labels, pair_notes = pair_paths(in_memory(inputs), labels)  # (path, label) pairs: files, below
    if isinstance(inputs, InMemory):
        labels, notes = _targets(inputs, spec, labels)  # the run's rule: the one given, else their targets'
        if inputs.kind == "images":
            return replace(_image_set(inputs.items, shard, labels), labels=labels, notes=notes)
        from .memory import stack_arrays

        batch = stack_arrays(inputs.items, spec, check_array)
        return replace(_array_set(batch, spec, shard, labels), labels=labels, notes=notes)
    if isinstance(inputs, np.ndarray):
        return _array_set(inputs, spec, shard, labels)
    if isinstance(inputs, Listing):
        part = shard_slice(inputs.total, shard) if shard else slice(0, inputs.total)
        if (part.start, part.stop) != (inputs.start, inputs.start + len(inputs.entries)):
            raise UsageError(f"a listing of inputs {inputs.start}..{inputs.start + len(inputs.entries)} given for shard "
                             f"{shard}, which takes {part.start}..{part.stop}")
        mine = FileList([f for f, _ in inputs.entries], [k for _, k in inputs.entries])
        return InputSet(mine, None, inputs.has_images, inputs.total, inputs.list_digest, inputs.first_audio,
                        _per_file(labels, mine.keys, inputs.start, inputs.total))
    found, digest, has_images, first_audio = list_inputs(inputs, told)
    files = [f for f, _ in found]
    part = shard_slice(len(found), shard)
    mine = FileList(files[part], [k for _, k in found[part]])
    from ..files.keys import identity_note

    note = identity_note(found)
    return InputSet(mine, None, has_images, len(files), digest, first_audio,
                    _per_file(labels, mine.keys, part.start, len(files)), pair_notes + ([note] if note else []))


def _targets(held, spec, labels) -> tuple:
    """The label rule of in-memory inputs: ``labels`` as given, else the classes a data loader or data
    set gave with them (their targets), when those are one per sample; and a note when they are not."""
    if labels is not None or held.targets is None:
        return labels, []
    from ..config.labels import label_rule
    from .memory import target_labels

    rows = [1 if held.kind == "images" or np.ndim(a) == spec.rank - 1 else len(a) for a in held.items]
    classes, note = target_labels(held, rows)
    return (None, [note]) if classes is None else (label_rule(classes), [])


def _per_file(labels, keys: list[str], start: int, total: int):
    """Labels given one per row (``labels=df["label"]``) with input files: one per file of the whole
    input list, in its order; this shard's, one per file of its list (None for other rules)."""
    if labels is None or labels.kind != "rows":
        return None
    if len(labels.rows) != total:
        raise UsageError(f"labels: {len(labels.rows)} given for {total} input files; give one label per file, in the "
                         "order of the inputs (a folder's files sorted by path), or a mapping {source: label}")
    from ..config.labels import LabelRule

    # by position, not by identity: two files may share a key (a/1.png and b/1.png given directly)
    return LabelRule("files", rows=tuple(labels.rows[start:start + len(keys)]), where=labels.where)
