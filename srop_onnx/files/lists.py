"""Lists of inputs: ``@val.txt``, ``@val.csv``, ``@s3://bucket/val.csv``, ``@-`` (standard input).

A data team's split is often a manifest rather than a folder: the files of one split among many, or
files spread over folders and buckets. An input argument that starts with ``@`` names such a list
(as ``pip -r`` and compilers' response files do): a text file with one path or URL per line (blank
lines and ``#`` comments skipped), or a CSV file with a ``path`` column (the layout ``--labels`` reads,
so one table can give both the inputs and their classes). Each entry is what an input argument may
be - a file, a folder (searched as a folder argument is), a pattern, an object or a prefix - and a relative
entry is found from the list's own folder (from the working directory for ``@-``). Each sample is
known by its entry as written (``cat/0.png``), so a labels table keyed like the list matches it.
An entry that is not there is kept, and the run skips it with its reason, as it skips any file it
cannot read. A list longer than a million entries, or nested lists, are refused.
"""

from __future__ import annotations

import csv
import io
import os
import posixpath
import sys
from collections import Counter
from pathlib import Path

from ..errors import InputDataError, option

__all__ = ["is_list_argument", "list_entries", "entry_key", "MAX_LIST_BYTES"]

#: the largest list read (a million entries of 200 characters)
MAX_LIST_BYTES = 256 << 20


#: what standard input held, once read (it cannot be read twice)
_STDIN: list[bytes] = []


def is_list_argument(raw) -> bool:
    """Whether an input argument names a list (``@...``) rather than a file whose name starts with @."""
    text = os.fspath(raw) if isinstance(raw, os.PathLike) else raw
    return isinstance(text, str) and text.startswith("@") and len(text) > 1 and not os.path.exists(text)


def _read(where: str) -> str:
    from .reading import read_checked

    fix = "give a text file with one path per line, or a CSV file with a path column"
    if where == "-":  # read once: a run may look at its input list more than once (an .npz's names first)
        if not _STDIN:
            _STDIN.append(sys.stdin.buffer.read(MAX_LIST_BYTES + 1))
        data = _STDIN[0]
        if len(data) > MAX_LIST_BYTES:
            raise InputDataError(f"@-: the list on standard input is over {MAX_LIST_BYTES >> 20} MB; {fix}")
    else:
        from .remote import is_url

        if not is_url(where) and not os.path.lexists(where):
            raise InputDataError(f"@{where}: no such list of inputs (an argument that starts with @ names a file "
                                 f"listing them); give the list's path, or ./@{where} for an input named so")
        data = read_checked(where, "list of inputs", MAX_LIST_BYTES, InputDataError, fix, pipes=True)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputDataError(f"@{where}: not UTF-8 text; {fix}") from None


def table_rows(text: str) -> list[list[str]]:
    """The rows of a table whose header names a ``path`` column, split at the header's delimiter: a
    comma, the semicolon of a spreadsheet saved where the comma is the decimal mark, or a tab."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = next((d for d in (",", ";", "\t")
                      if "path" in [c.strip().strip('"').strip().lower() for c in first.split(d)]), ",")
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _entries(text: str, where: str) -> list[str]:
    """The entries of a list's text: a CSV's (or TSV's) ``path`` column, or one per line."""
    if where.lower().endswith((".csv", ".tsv")):
        rows = table_rows(text)
        header = [c.strip().lower() for c in rows[0]] if rows else []
        if "path" not in header:
            raise InputDataError(f"@{where}: a CSV list needs a header with a column named path (path,label as "
                                 f"{option('labels')} reads), got " + (", ".join(header[:5]) or "nothing"))
        col = header.index("path")
        found = [r[col].strip() for r in rows[1:] if len(r) > col and r[col].strip()]
    else:
        found = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    nested = next((e for e in found if e.startswith("@")), None)
    if nested is not None:
        raise InputDataError(f"@{where}: lists do not nest ({nested}); give the files or folders it lists")
    if not found:
        raise InputDataError(f"@{where}: lists no inputs; give one path or URL per line (or a CSV path column)")
    return found


def list_entries(raw) -> list[tuple[str, str]]:
    """``(input argument, key)`` of every entry of the list ``raw`` (``@...``): the argument is the
    entry found from the list's folder; the key is the entry as written (``..`` and ``.`` folded),
    or the name of one outside the list's folder."""
    from .remote import is_url

    where = os.fspath(raw)[1:]
    entries = _entries(_read(where), where)
    remote = is_url(where)
    base = "" if where == "-" else (where.rsplit("/", 1)[0] if remote else os.path.dirname(where))
    out = []
    for e in entries:
        if is_url(e) or os.path.isabs(e):
            out.append((e, _key_under(e, base, remote)))
            continue
        rel = _normal(e)  # a list written on Windows reads anywhere
        target = _url_join(base, rel) if remote else os.path.join(base, *rel.split("/"))
        out.append((target, entry_key(e)))
    return out


def entry_key(text: str) -> str:
    """The identity of a relative entry as written (a list's line, a labels table's path): ``/``
    separators, ``.`` and ``..`` folded (``./cat/0.png`` is ``cat/0.png``); one above the list's
    folder by its name."""
    key = _normal(text)
    return posixpath.basename(key) if key == ".." or key.startswith("../") else key


def _normal(text: str) -> str:
    """A relative path as written, with ``/`` separators and ``.`` and ``..`` folded."""
    return posixpath.normpath(text.strip().replace("\\", "/"))


def _url_join(base: str, rel: str) -> str:
    """``base/rel`` for a URL, ``..`` and ``.`` folded in its path (``s3://b/lists/../val/a.png`` is
    ``s3://b/val/a.png``)."""
    scheme, path = base.split("://", 1)
    return f"{scheme}://{posixpath.normpath(path + '/' + rel)}"


def _key_under(entry: str, base: str, remote: bool) -> str:
    """The key of an absolute entry: its path below the list's folder, or its name."""
    if remote:
        prefix = base.rstrip("/") + "/"
        return entry[len(prefix):] if base and entry.startswith(prefix) else entry.rstrip("/").rsplit("/", 1)[-1]
    try:
        rel = Path(entry).resolve().relative_to(Path(base or ".").resolve())
    except ValueError:
        return Path(entry).name
    return rel.as_posix()


#: a bucket folder the list names at most this many objects of is not listed: each object is looked up
#: alone (a few requests, where listing a folder of a million objects would take a thousand)
FEW = 16


def keyed_list(raw, walk, suffixes) -> list[tuple[object, str]]:
    """``(file, key)`` of every input the list ``raw`` names: files as listed, folders searched
    with ``walk`` (keys below the entry's), objects and prefixes listed once per folder of the bucket
    (a manifest of ten thousand objects is not ten thousand requests; a folder it names :data:`FEW`
    objects of or fewer is not listed, they are looked up one by one). ``suffixes``: what inputs are."""
    from .patterns import fixed_part, is_pattern, pattern_entries
    from .remote import is_url

    found: list[tuple[object, str]] = []
    entries = list_entries(raw)
    # objects the list names in each bucket folder
    named = Counter(_folder(arg) for arg, _key in entries if is_url(arg) and Path(arg).suffix.lower() in suffixes)
    listings: dict[str, dict] = {}
    for arg, key in entries:
        if is_url(arg):
            found.extend(_object_entries(arg, key, listings, suffixes, few=named.get(_folder(arg), 0) <= FEW))
            continue
        p = Path(arg)
        if is_pattern(arg):  # cat/*.png: its matches, keyed below the entry's fixed folders
            fixed = fixed_part(key)
            try:
                found.extend((f, posixpath.join(fixed, k) if fixed else k) for f, k in pattern_entries(arg, walk, suffixes))
            except InputDataError:  # matches nothing: kept, so the run skips it, saying why
                found.append((p, key))
        elif p.is_dir():
            found.extend((f, f"{key}/{f.relative_to(p).as_posix()}") for f in walk(p))
        else:  # a file, or what is not there: the run skips it, saying why
            found.append((p, key))
    return found


def _folder(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/"


def _object_entries(url: str, key: str, listings: dict, suffixes, few: bool = False) -> list[tuple[object, str]]:
    """An object the list names, found in its folder's listing (made once), or looked up alone when
    the list names ``few`` of its folder's objects; for a prefix, every input below it. An object not
    there is kept (reading it says so)."""
    from .remote import RemoteFile, list_objects

    if Path(url).suffix.lower() not in suffixes:  # a prefix: its inputs, keyed below the entry's key
        return [(f, f"{key}/{k}") for f, k in list_objects(url.rstrip("/") + "/", suffixes)]
    folder = _folder(url)
    if few:
        try:
            return [(next((f for f, _ in list_objects(url, suffixes) if str(f) == url), RemoteFile(url, -1)), key)]
        except InputDataError:
            return [(RemoteFile(url, -1), key)]
    if folder not in listings:
        try:
            listings[folder] = {str(f): f for f, _ in list_objects(folder, suffixes)}
        except InputDataError:  # a folder with nothing in it: the object is not there either
            listings[folder] = {}
    return [(listings[folder].get(url) or RemoteFile(url, -1), key)]
