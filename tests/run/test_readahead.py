"""Objects in a bucket are read ahead of the decoders, bounded in count and in bytes."""

from __future__ import annotations

from pathlib import Path

from srop_onnx.files.remote import RemoteFile
from srop_onnx.inputs import samples


def _entries(sizes):
    return [samples._File(i, RemoteFile(f"s3://b/{i:03d}.npy", size), f"{i:03d}.npy") for i, size in enumerate(sizes)]


def test_reads_go_ahead_in_order_up_to_the_count(monkeypatch):
    asked = []
    monkeypatch.setattr(samples, "_fetch", lambda f: asked.append(f.index) or b"x%d" % f.index)
    ahead = samples._ReadAhead(_entries([1000] * 200))
    try:
        assert ahead.take(0).result() == b"x0"
        ahead.pool.shutdown(wait=True)  # every queued read has run
        assert sorted(asked) == list(range(samples.READ_AHEAD))
    finally:
        ahead.close()


def test_large_objects_are_read_only_a_few_ahead(monkeypatch):
    monkeypatch.setattr(samples, "_fetch", lambda f: b"")
    big = samples.READ_AHEAD_BYTES // 2 + 1  # two of them pass the budget
    ahead = samples._ReadAhead(_entries([big] * 10))
    try:
        ahead.take(0)
        assert sorted(ahead.reads) == [1]  # 0 is taken, 1 waits; 2 would pass the budget
        ahead.take(1)
        assert sorted(ahead.reads) == [2]
        ahead.take(5)  # the entry taken is always read, whatever waits
        assert ahead.next == 6
    finally:
        ahead.close()


def test_local_files_are_not_read_ahead(monkeypatch, tmp_path):
    def never(f):
        raise AssertionError(f"{f.path} read ahead")

    monkeypatch.setattr(samples, "_fetch", never)
    ahead = samples._ReadAhead([samples._File(0, Path(tmp_path / "a.npy"), "a.npy")])
    try:
        assert ahead.take(0) is None
    finally:
        ahead.close()
