"""Partial profiles kept while a Ray job runs (``--parts DIR`` or ``--parts s3://bucket/prefix/``).

Each task writes its shard's partial profile as ``part-I-of-N.json`` the moment the shard is done
(one atomic write, or one PUT in a bucket). A rerun of the same command reads them first and runs
only the shards whose part is missing or no longer valid, so a job that lost a node or was
stopped finishes with the work that was left. A part is valid when it proves, as ``merge``
demands, that it is shard I of N of *this* run: the same srop-onnx version, the same model
(sha256), the same input list (its digest and length, so an added, removed or resized file makes
every part stale), the same measured settings. The
parts are ordinary partial profiles: ``srop-onnx merge DIR -o profile.json`` merges them too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..errors import SropError, option
from ..files.remote import is_url
from ..results.profile import Profile

__all__ = ["Expected", "part_path", "prepare_parts", "load_parts", "save_part", "part_counts"]

_PART = re.compile(r"^part-(\d{4,})-of-(\d{4,})\.json$")


def _part_name(index: int, count: int) -> str:
    return f"part-{index:04d}-of-{count:04d}.json"


def part_path(where: str, index: int, count: int) -> str:
    """Where shard ``index`` of ``count`` keeps its part under ``where`` (a folder or a prefix)."""
    name = _part_name(index, count)
    if is_url(where):
        return where.rstrip("/") + "/" + name
    return os.path.join(os.path.abspath(where), name)


def _inside(where: str, inputs) -> str | None:
    """The input argument ``where`` is at or under (parts never go among the user's inputs)."""
    for given in map(str, inputs):
        if is_url(where) != is_url(given):
            continue
        if is_url(where):
            inside = (where.rstrip("/") + "/").startswith(given.rstrip("/") + "/")
        else:
            base, target = os.path.realpath(given), os.path.realpath(where)
            inside = os.path.isdir(base) and (target == base or target.startswith(base.rstrip(os.sep) + os.sep))
        if inside:
            return given
    return None


def prepare_parts(where: str, inputs=()) -> str:
    """``where`` ready to hold parts: a bucket prefix as it is; a local folder made now (absolute,
    so every worker writes the same place; a file there is refused). A place at or under one of
    ``inputs`` is refused."""
    from ..errors import UsageError

    hit = _inside(where, inputs)
    if hit is not None:
        raise UsageError(f"{option('parts')} {where}: is inside {hit}, which holds your inputs; keep the parts elsewhere")
    if is_url(where):  # a bucket that does not exist: refused before any shard runs
        from ..files.bucket_writes import check_output_urls

        check_output_urls({"--parts": where})
        return where
    if os.path.exists(where) and not os.path.isdir(where):
        raise UsageError(f"{option('parts')} {where}: is a file; give a folder (made if missing) or a bucket prefix")
    try:
        os.makedirs(where, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{option('parts')} {where}: cannot make the folder ({exc.strerror or exc}); give another") from None
    from pathlib import Path

    from ..files.writes import writable_folder

    writable_folder(Path(where), "--parts")  # a read-only disk: refused before any shard runs
    return os.path.abspath(where)


def _names(where: str) -> set[str]:
    """The file names directly under ``where`` that look like parts (one listing; a new folder or
    prefix has none)."""
    from ..errors import InputDataError
    from ..files.remote import list_objects

    names: list[str] = []
    if is_url(where):
        try:
            names = [key for _, key in list_objects(where.rstrip("/") + "/", {".json"}) if "/" not in key]
        except InputDataError as exc:
            if "no such object or prefix" not in str(exc):
                raise
    elif os.path.isdir(where):
        names = os.listdir(where)
    return {n for n in names if _PART.match(n)}


def part_counts(where: str) -> dict[int, int]:
    """``{shard count: parts found}`` of the parts already under ``where``."""
    counts: dict[int, int] = {}
    for name in _names(where):
        count = int(_PART.match(name).group(2))
        counts[count] = counts.get(count, 0) + 1
    return counts


@dataclass(frozen=True)
class Expected:
    """What every part of this run must say of itself."""

    tool_version: str
    sha256: str
    list_digest: str
    inputs: int
    settings: dict

    def problem(self, part: Profile, index: int, count: int) -> str | None:
        """Why ``part`` is not shard ``index``/``count`` of this run (None when it is)."""
        from ..config.settings import describe_differences, settings_differences
        from ..inputs.inputset import shard_slice

        info = part.extra.get("shard") or {}
        if (info.get("index"), info.get("count")) != (index, count):
            return f"it is not shard {index}/{count}"
        if part.tool_version != self.tool_version:
            return f"written by srop-onnx {part.tool_version or '(unknown)'}, this is {self.tool_version}"
        if part.model.get("sha256") != self.sha256:
            return "made from another model (sha256 differs)"
        if (info.get("list_digest"), info.get("inputs")) != (self.list_digest, self.inputs):
            return "made over another input list (files added, removed or changed size)"
        expected = shard_slice(self.inputs, (index, count))
        if list(info.get("slice", [])) != [expected.start, expected.stop]:
            return "its slice is not this shard's"
        diffs = settings_differences(part.settings, self.settings)
        if diffs:
            return f"made with other settings ({describe_differences(diffs)})"
        return None


def load_parts(where: str, count: int, expected: Expected) -> tuple[dict[int, Profile], list[str]]:
    """The valid parts of this run under ``where`` (by shard index) and a note for each stale one;
    ``where`` is listed once and only the parts there are read."""
    present = _names(where)
    kept: dict[int, Profile] = {}
    notes: list[str] = []
    for index in range(1, count + 1):
        path = part_path(where, index, count)
        if _part_name(index, count) not in present:
            continue
        try:
            part = Profile.load(path)
        except SropError as exc:
            why = str(exc).removeprefix(f"{path}: ").split("; ")[0]
            notes.append(f"{path}: cannot be used ({why}); shard {index}/{count} runs again")
            continue
        why = expected.problem(part, index, count)
        if why:
            notes.append(f"{path}: {why}; shard {index}/{count} runs again")
        else:
            kept[index] = part
    return kept, notes


def save_part(where: str, part: Profile) -> str:
    """Write a finished shard's part (atomically, or in one PUT); returns where."""
    info = part.extra["shard"]
    path = part_path(where, int(info["index"]), int(info["count"]))
    part.to_json(path)
    return path
