"""Issue 14: every bad input and injected fault of tests/adversarial.py, one test each, through the CLI.

Each case checks the exit code (2 for a refusal, 0 when a run skips a bad file and goes on, 3 for an
internal error, never 1), one ``error:`` line and no traceback, that nothing the user owns changed,
that no temporary file is left, and its own promise. ``python tests/adversarial.py`` prints the
count line of the whole catalogue.
"""

from __future__ import annotations

import pytest

from adversarial import cases, run_case

CASES = cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_adversarial_case(case, tmp_path):
    assert run_case(case, tmp_path) is None


def test_the_catalogue_covers_every_class_of_the_issue():
    names = " | ".join(c.name for c in CASES)
    for needle in ("names the model", "input .npy", "names the golden", "same file", "symbolic link to the golden",
                   "/dev/full", "/dev/null", "parent is a file", "claiming 30000x30000", "400000x1", "10^10",
                   "non-UTF-8", "broken symbolic link", "unreadable subfolder", "FIFO", "--std 0", "complex",
                   "formula", "control characters", "'::error::", "ANSI", "script tag", "huge count",
                   "non-numeric version", "deep nesting", "empty layer list", "null layer name", "edited checkpoint",
                   "flipped digit", "changed in place", "another input set", "edited duplicate", "empty shard",
                   "exits 3", "errored JUnit", "job summary", "plain progress", "-q still warns", "classname"):
        assert needle in names, needle
    assert sum(c.kind == "fault" for c in CASES) >= 10


def test_the_catalogue_covers_issue_23():
    import os

    names = " | ".join(c.name for c in CASES)
    needles = ["NUL byte", "5,000 characters", "symbolic link loop", "bfloat16", "1e308", "0,1e39", "1e300",
               "1e-300", "--seed -1", "--seed -5", "--max-memory nan", "--max-memory inf", "1e999GB",
               "lands on a --profiles file", "0.1000001", "level of 1e6", "a duplicated level", "a level of -1",
               "change 'x'", "format version 99", "escapes in a model's input name"]
    if os.name == "posix":
        needles += ["mode 0600", "255 bytes", "dangling symbolic link", "--checkpoint /dev/null", "SIGTERM",
                    "stale checkpoint temporary", "size and time stamp kept"]
        needles += ["ulimit -v"] if __import__("sys").platform != "darwin" else []
    for needle in needles:
        assert needle in names, needle


def test_the_catalogue_covers_issue_31():
    import os

    names = " | ".join(c.name for c in CASES)
    needles = ["mathtext: plot of a layer named", "mathtext: --label", "m$\\foo$.onnx", "analyze --report",
               "glyphs: plot of CJK and emoji", "bidi: layers table", "bidi: HTML report", "job summary: a layer named '![x]",
               "javascript:", "metadata: layers with a 200 kB", "100,000 nested brackets", "40,000 scopes",
               "a 3 GiB sparse model", "a 1.5 GiB sparse profile", "a folder as the golden",
               "scale: report of a 3,000-layer profile", "merge: a shard written by srop-onnx"]
    if os.name == "posix":
        needles += ["layers > /dev/full", "check >&- (closed)", "both closed", "check --against /dev/zero",
                    "the model is /dev/zero", "a link to /dev/zero", "plot of a FIFO",
                    "the temporary of a live run beside it is kept"]
    for needle in needles:
        assert needle in names, needle


def test_the_catalogue_covers_issue_40():
    names = " | ".join(c.name for c in CASES)
    needles = ["a profile copied over another step's", "an index entry pointing at another step's profile",
               "a renumbered step", "a zeroed sha256", "an index number edited by hand", "a deleted profile",
               "a truncated profile", "repaired by the next track run", "two writers with other checkpoints",
               "--kappa 0.9 is refused", "a step above 2^63", "a 250-digit step", "-o is a file",
               "client_kwargs=x", "credentials in it", "ASCII standard output", "SROP_ONNX_THREADS=100000"]
    if __import__("importlib").util.find_spec("s3fs") is not None:
        needles.append("accepts and never answers")
    if __import__("os").name == "posix":
        needles += ["file:// URL to a FIFO", "file:///dev/zero", "a FIFO without a writer"]
    for needle in needles:
        assert needle in names, needle
