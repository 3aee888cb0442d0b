"""Issue 31, families 5 and 7: files are checked before they are read; only provably stale
temporaries are removed."""

from __future__ import annotations

import os
import re

import pytest

from srop_onnx.errors import InputDataError
from srop_onnx.files.reading import checked_size, read_checked
from srop_onnx.files.writes import atomic_path, remove_stale_temporaries


def test_a_regular_file_is_read_whole(tmp_path):
    p = tmp_path / "a.json"
    p.write_bytes(b"x" * 100)
    assert read_checked(p, "profile", 1000, InputDataError, "fix it") == b"x" * 100
    assert checked_size(p, "profile", 100, InputDataError, "fix it") == 100


def test_a_file_larger_than_its_kind_is_refused_unread(tmp_path):
    p = tmp_path / "big.json"
    with open(p, "wb") as f:
        f.truncate(3 << 30)  # sparse: nothing is read
    with pytest.raises(InputDataError, match=r"big.json: 3.0 GiB, larger than a profile can be \(1.0 GiB\); fix it"):
        read_checked(p, "profile", 1 << 30, InputDataError, "fix it")


@pytest.mark.skipif(os.name != "posix", reason="devices and FIFOs")
@pytest.mark.parametrize("what", ["/dev/zero", "fifo", "folder"])
def test_devices_fifos_and_folders_are_refused_at_once(tmp_path, what):
    path = {"/dev/zero": "/dev/zero", "fifo": tmp_path / "f.json", "folder": tmp_path}[what]
    if what == "fifo":
        os.mkfifo(path)
    with pytest.raises(InputDataError, match="not a regular file|is a folder"):
        read_checked(path, "profile", 1 << 30, InputDataError, "fix it")


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(InputDataError, match="nope.json: no such file; fix it"):
        read_checked(tmp_path / "nope.json", "profile", 10, InputDataError, "fix it")


@pytest.mark.skipif(os.name != "posix", reason="advisory locks (flock)")
def test_the_temporary_of_a_live_writer_is_kept_and_a_stale_one_removed(tmp_path):
    target = tmp_path / "run.ckpt"
    stale = tmp_path / ".run.ckpt.abcdefgh.tmp"
    stale.write_text("left by a run that died")
    with atomic_path(target) as live:
        open(live, "w").close()
        removed = remove_stale_temporaries(target)  # another run loading the checkpoint now
        assert os.path.exists(live), "the live writer's temporary was removed"
        assert removed == [stale] and not stale.exists()
        with open(live, "w") as f:
            f.write("done")
    assert target.read_text() == "done" and not os.path.exists(live)


def test_without_locks_only_old_temporaries_count_as_stale(tmp_path, monkeypatch):
    import builtins
    import time

    real = builtins.__import__

    def no_fcntl(name, *a, **k):
        if name == "fcntl":
            raise ImportError("no fcntl here")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_fcntl)
    target = tmp_path / "run.ckpt"
    young, old = tmp_path / ".run.ckpt.young000.tmp", tmp_path / ".run.ckpt.oldold00.tmp"
    young.write_text("")
    old.write_text("")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    assert remove_stale_temporaries(target) == [old]
    assert young.exists()


def _not_arrays(folder):
    """Files named as arrays that are not what their names say, each with the words that say why."""
    import numpy as np

    np.save(folder / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    ok = folder / "ok.npy"
    np.save(ok, np.zeros((2, 3), np.float32))
    cases = {"text.npy": (b"garbage\n", r"not a NumPy \.npy file \(no NumPy header\); write arrays with numpy\.save$"),
             "empty.npy": (b"", r"not a NumPy \.npy file \(it is empty\)"),
             "text.npz": (b"junk", r"not a NumPy \.npz file \(not a zip archive\); write arrays with numpy\.savez$"),
             "objects.npy": (None, r"holds Python objects \(dtype object\), which are never loaded"),
             "cut.npy": (ok.read_bytes()[:100], r"cannot read array file")}
    for name, (data, _) in cases.items():
        if data is not None:
            (folder / name).write_bytes(data)
    return {name: words for name, (_, words) in cases.items()}


def test_a_file_named_as_an_array_that_is_not_one_says_so_and_never_suggests_pickles(tmp_path):
    """NumPy answers a text file named .npy with "... contains pickled (object) data. If you trust the
    file you can load it unsafely using the allow_pickle= keyword": advice to run code from a file that
    is not even an array. Read from disk and from bytes (a bucket's), each says what the file is."""
    from srop_onnx.inputs.arrayfiles import read_arrays

    for name, words in _not_arrays(tmp_path).items():
        path = tmp_path / name
        for data in (None, path.read_bytes()):
            with pytest.raises(InputDataError, match="^" + re.escape(f"{path}: ") + words) as info:
                read_arrays(path, data)
            assert "pickle" not in str(info.value)


def test_an_empty_image_file_says_it_is_empty(tmp_path):
    from srop_onnx.model.modelio import read_image

    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "b.png").write_bytes(b"not a png")
    for data in (None, b""):
        with pytest.raises(InputDataError, match=r"a\.png: the file is empty \(0 bytes\), not an image$"):
            read_image(tmp_path / "a.png", data)
    with pytest.raises(InputDataError, match=r"b\.png: cannot read image \(UnidentifiedImageError: cannot identify"):
        read_image(tmp_path / "b.png")
