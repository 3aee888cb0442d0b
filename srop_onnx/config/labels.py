"""Where the class of each sample comes from (``--labels``): a rule read once, before a run.

A label is a string per analysed sample, recorded beside the profile's sources (docs/datasets.md):

- ``folders``: the first folder of the sample's identity under its input argument (the ImageFolder
  layout: ``val/cat/1.png`` analysed as ``val/`` is ``cat``); a file given directly has none;
- ``FILE.csv``: a table with columns ``path,label``, paths spelled as the profile names its sources
  (``cat/1.png``, ``batch.npz[3]``; a whole ``.npz`` file's rows by its name, ``batch.npz``);
- ``npz:KEY``: the array ``KEY`` of every ``.npz`` input, one label per row (never fed to the model);
- in Python, a mapping ``{source: label}`` or, for an in-memory batch, one label per row.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Mapping

from ..errors import InputDataError, UsageError, spell

__all__ = ["LabelRule", "label_rule", "label_text", "MAX_LABEL_FILE_BYTES"]

#: a label table larger than this is not a label table (a million rows are tens of MB)
MAX_LABEL_FILE_BYTES = 1 << 30


def label_text(value) -> str:
    """A label as the profile records it: text; a whole number without its ``.0``."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if hasattr(value, "item") and not isinstance(value, str):  # a NumPy scalar
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text:
        raise InputDataError("a label is empty; give every labelled sample a non-empty class")
    return text


@dataclass(frozen=True)
class LabelRule:
    """How a run labels its samples; :meth:`of` gives the label of one identity key."""

    kind: str  # folders, table (a CSV or a mapping), npz (an array of every .npz), rows (an in-memory batch),
    #            files (``rows`` given with input files: one per file of a shard's list, in its order)
    key: str = ""  # the .npz array of ``npz``
    table: Mapping[str, str] = field(default_factory=dict, repr=False)  # source -> label (``table``)
    rows: tuple[str, ...] = field(default=(), repr=False)  # one label per row (``rows``)
    where: str = ""  # how the user gave it (for messages)

    def of(self, key: str) -> str | None:
        """The label of the sample whose identity is ``key`` (None: unlabelled)."""
        if self.kind == "folders":
            head, sep, _ = key.partition("/")
            return head if sep and head else None
        if self.kind == "table":
            got = self.table.get(key)
            if got is None and key.endswith("]"):  # a row of a multi-row array: its file's label
                got = self.table.get(key[:key.rfind("[")])
            return got
        return None  # npz, rows and files: given with the sample (by its row or its file's place)

    def fingerprint(self) -> str:
        """What the rule is, for a checkpoint's identity (a rerun with another rule starts over)."""
        doc = [self.kind, self.key, sorted(self.table.items()), list(self.rows)]
        return hashlib.sha256(json.dumps(doc).encode()).hexdigest()

    def unused(self, sources: list[str]) -> list[str]:
        """The table's paths that name no analysed sample (a typo, or a file that was skipped)."""
        if self.kind != "table":
            return []
        seen = set(sources) | {s[:s.rfind("[")] for s in sources if s.endswith("]")}
        return sorted(k for k in self.table if k not in seen)


def label_rule(value, option: str = "--labels") -> LabelRule | None:
    """The :class:`LabelRule` of ``value``: None, ``"folders"``, ``"npz:KEY"``, a CSV path, a
    mapping ``{source: label}`` or a sequence of labels (one per row of an in-memory batch)."""
    if value is None or isinstance(value, LabelRule):
        return value
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if text == "folders":
            return LabelRule("folders", where=text)
        if text.startswith("npz:"):
            key = text[4:]
            if not key or "/" in key:
                raise UsageError(f"{spell(option)}: npz:KEY names the .npz array that holds the labels (e.g. npz:y), got {text!r}")
            return LabelRule("npz", key=key, where=text)
        if text.lower().endswith(".csv") or os.path.exists(text) or "://" in text:
            return LabelRule("table", table=_read_table(text), where=text)
        raise UsageError(f"{spell(option)} takes 'folders', a CSV file (columns path,label) or npz:KEY; got {text!r} "
                         "(no such file)")
    if isinstance(value, Mapping):
        return LabelRule("table", table={str(k): label_text(v) for k, v in value.items()}, where="a mapping")
    try:
        rows = tuple(label_text(v) for v in list(value))
    except TypeError:
        raise UsageError(f"labels must be 'folders', a CSV path, 'npz:KEY', a mapping or one label per row; "
                         f"got {type(value).__name__}") from None
    return LabelRule("rows", rows=rows, where=f"{len(rows)} labels")


def _read_table(path: str) -> dict[str, str]:
    """``{path: label}`` of a CSV label table (paths spelled as a list of inputs spells its entries:
    ``./cat/0.png`` is ``cat/0.png``); one-line errors naming the file and the fix."""
    from ..files.lists import entry_key, table_rows
    from ..files.reading import read_checked

    fix = "give a CSV with a header 'path,label' and one row per sample"
    data = read_checked(path, "label table", MAX_LABEL_FILE_BYTES, InputDataError, fix)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputDataError(f"{path}: not UTF-8 text; {fix}") from None
    reader = iter(table_rows(text))  # commas, or a spreadsheet's semicolons or tabs
    header = [h.strip().lower() for h in next(reader, [])]
    if "path" not in header or "label" not in header:
        raise InputDataError(f"{path}: no 'path' and 'label' columns in the header {header or '(empty file)'}; {fix}")
    ip, il = header.index("path"), header.index("label")
    table: dict[str, str] = {}
    for n, row in enumerate(reader, start=2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) <= max(ip, il):
            raise InputDataError(f"{path}, line {n}: {len(row)} column(s), the header has {len(header)}; {fix}")
        key, label = entry_key(row[ip]), row[il].strip()
        if not label:
            raise InputDataError(f"{path}, line {n}: '{key}' has an empty label; give it a class or drop the row")
        if table.get(key, label) != label:
            raise InputDataError(f"{path}, line {n}: '{key}' is labelled both '{table[key]}' and '{label}'; "
                                 "keep one row per sample")
        table[key] = label
    if not table:
        raise InputDataError(f"{path}: no rows under the header; {fix}")
    return table


def _some(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def label_notes(rule: LabelRule, sources: list[str], labels: list | None) -> list[str]:
    """One line each for the samples left unlabelled and the table's paths that name no sample."""
    notes = []
    bare = [s for s, lab in zip(sources, labels or []) if lab is None]
    if bare:
        why = {"folders": "not in a class folder under the input argument (give the folder above the class folders)",
               "npz": f"in no .npz with an array '{rule.key}'"}.get(rule.kind, f"not in {rule.where}")
        notes.append(f"note: {len(bare)} of {len(sources)} sample(s) have no label, {why}: {_some(bare)}; they count "
                     "in the layer statistics, in no class")
    unused = rule.unused(sources)
    if unused:
        notes.append(f"note: {rule.where}: {len(unused)} path(s) name no analysed sample: {_some(unused)}; spell paths "
                     "as the profile names its sources (inputs.sources)")
    return notes
