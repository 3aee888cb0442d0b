"""Objects in a bucket are read ahead of the decoders, bounded in count and in bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from srop_onnx.errors import InputDataError
from srop_onnx.files.remote import RemoteFile
from srop_onnx.inputs import readahead as samples
from srop_onnx.inputs.samples import _File


def _entries(sizes):
    return [_File(i, RemoteFile(f"s3://b/{i:03d}.npy", size), f"{i:03d}.npy") for i, size in enumerate(sizes)]


def _ahead(entries, round_trip: float = 1.0):
    """A read-ahead whose first read has come back after ``round_trip`` seconds (a far bucket: as
    many reads at once as it has threads), so the window and byte bounds alone are tested."""
    ahead = samples._ReadAhead(entries)
    ahead.started, ahead.round_trip = 0.0, round_trip
    return ahead


@pytest.fixture(autouse=True)
def one_at_a_time(monkeypatch):
    """Objects read one to a call (as through obstore); the batch tests below turn batches on."""
    monkeypatch.setattr(samples, "reads_in_batches", lambda url: False)


def test_reads_go_ahead_in_order_up_to_the_count(monkeypatch):
    asked = []
    monkeypatch.setattr(samples, "_fetch", lambda f: asked.append(f.index) or b"x%d" % f.index)
    ahead = _ahead(_entries([1000] * 200))
    try:
        assert ahead.take(0).result() == b"x0"
        ahead.pool.shutdown(wait=True)  # every queued read has run
        assert sorted(asked) == list(range(samples.READ_AHEAD))
    finally:
        ahead.close()


def test_large_objects_are_read_only_a_few_ahead(monkeypatch):
    monkeypatch.setattr(samples, "_fetch", lambda f: b"")
    big = samples.READ_AHEAD_BYTES // 2 + 1  # two of them pass the budget
    ahead = _ahead(_entries([big] * 10))
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
    ahead = samples._ReadAhead([_File(0, Path(tmp_path / "a.npy"), "a.npy")])
    try:
        assert ahead.take(0) is None
    finally:
        ahead.close()


def _batched(monkeypatch, fail=()):
    """Batches on; ``read_many`` records each call's object numbers and fails those in ``fail``."""
    calls = []

    def read_many(urls):
        numbers = [int(u.rsplit("/", 1)[-1][:3]) for u in urls]
        calls.append(numbers)
        return [InputDataError(f"{u}: cannot read it: no such object") if n in fail else b"x%d" % n
                for u, n in zip(urls, numbers)]

    monkeypatch.setattr(samples, "reads_in_batches", lambda url: True)
    monkeypatch.setattr(samples, "read_many", read_many)
    return calls


def test_where_the_filesystem_reads_many_at_once_whole_batches_go_ahead(monkeypatch):
    calls = _batched(monkeypatch)
    ahead = _ahead(_entries([1000] * 100))
    b = samples.READ_BATCH
    try:
        assert ahead.take(0).result() == b"x0"
        assert ahead.next == samples.READ_AHEAD  # in batches of b
        ahead.take(1)  # one place free ahead: no batch of one is read, a whole batch waits for room
        assert ahead.next == samples.READ_AHEAD
        for i in range(2, b + 1):
            assert ahead.take(i).result() == b"x%d" % i
        assert ahead.next == samples.READ_AHEAD + b  # room for a whole batch: read in one call
        for i in range(b + 1, 100):  # the tail: a last batch of what is left
            assert ahead.take(i).result() == b"x%d" % i
    finally:
        ahead.close()
    assert sorted(calls) == [list(range(k, min(k + b, 100))) for k in range(0, 100, b)]  # on threads: in any order


def test_an_object_of_a_batch_that_cannot_be_read_is_its_error_in_its_place(monkeypatch):
    _batched(monkeypatch, fail={3})
    ahead = _ahead(_entries([1000] * 8))
    try:
        got = [ahead.take(i).result() for i in range(8)]
    finally:
        ahead.close()
    assert [g for i, g in enumerate(got) if i != 3] == [b"x%d" % i for i in range(8) if i != 3]
    assert isinstance(got[3], InputDataError) and "003.npy: cannot read it" in str(got[3])


def test_closing_cancels_the_reads_not_taken(monkeypatch):
    """A run that stops early (--limit, an error): reads queued and never started end cancelled."""
    import threading

    gate = threading.Event()
    _batched(monkeypatch)
    slow = samples.read_many
    monkeypatch.setattr(samples, "read_many", lambda urls: gate.wait(10) and slow(urls))
    monkeypatch.setattr(samples, "REMOTE_READERS", 1)
    ahead = _ahead(_entries([1000] * 100))
    first = ahead.take(0)
    later = ahead.take(1)  # queued behind the first batch, on the one reader
    waiting = [fut for fut, _size in ahead.reads.values()]
    threading.Timer(0.2, gate.set).start()  # the first batch ends while close() waits for it
    ahead.close()
    assert first.result() == b"x0" and later.result() == b"x1"
    assert all(f.done() for f in waiting)
    b = samples.READ_BATCH  # entries 0 and 1 were taken; the rest of the first batch was read
    assert [f.cancelled() for f in waiting] == [False] * (b - 2) + [True] * (len(waiting) - (b - 2))


def _counted(read):
    """A ``_fetch`` that calls ``read(file)`` and counts, in ``most[0]``, the most reads running at once."""
    import threading

    lock, now, most = threading.Lock(), [0], [0]

    def fetch(f):
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            return read(f)
        finally:
            with lock:
                now[0] -= 1

    return fetch, most


def test_reads_of_a_distant_bucket_overlap_up_to_the_reads_in_flight(monkeypatch):
    """A GET waits a round trip, not a core: after a first read that took 40 ms, as many reads are in
    flight as there are readers (8 at once read 160-400 objects a second from 20-50 ms away)."""
    import threading
    import time

    from srop_onnx.files import remote

    assert samples.REMOTE_READERS == remote.CONCURRENT_READS >= 32
    assert samples.READ_AHEAD >= remote.CONCURRENT_READS
    n = remote.CONCURRENT_READS
    everyone = threading.Barrier(n, timeout=10)  # broken unless that many wait at once

    def round_trip(f):
        if f.index == 0:
            time.sleep(0.04)
        elif f.index <= n:
            everyone.wait()
        return b"x%d" % f.index

    fetch, most = _counted(round_trip)
    monkeypatch.setattr(samples, "_fetch", fetch)
    ahead = samples._ReadAhead(_entries([1000] * 200))
    try:
        assert [ahead.take(i).result() for i in range(200)] == [b"x%d" % i for i in range(200)]
    finally:
        ahead.close()
    assert most[0] == n and not everyone.broken and ahead.in_flight == n


def test_a_server_on_this_machine_gets_few_reads_at_once(monkeypatch):
    """A GET that comes back in a millisecond waits on the server's CPU, not on the network: more
    reads at once would only queue there (and cost threads and connections on both sides)."""
    import time

    monkeypatch.setattr(samples, "READ_RATE", 1000)  # a first read of up to 8 ms still means near
    fetch, most = _counted(lambda f: time.sleep(0.0005) or b"x%d" % f.index)
    monkeypatch.setattr(samples, "_fetch", fetch)
    ahead = samples._ReadAhead(_entries([1000] * 300))
    try:
        assert ahead.in_flight == 1  # until the first read is back: it times the round trip
        assert [ahead.take(i).result() for i in range(300)] == [b"x%d" % i for i in range(300)]
    finally:
        ahead.close()
    assert ahead.round_trip is not None and ahead.in_flight == samples.MIN_READS
    assert most[0] <= samples.MIN_READS + 1  # the entry taken is read whatever waits


@pytest.mark.parametrize("round_trip, batch, expected", [
    (None, 1, 1), (0.0005, 1, 8), (0.02, 1, 40), (0.05, 1, 64), (1.0, 1, 64), (0.0005, 16, 32)])
def test_the_reads_at_once_cover_two_thousand_objects_a_second_at_the_first_round_trip(round_trip, batch,
                                                                                       expected):
    ahead = samples._ReadAhead(_entries([1000] * 4))
    try:
        ahead.round_trip, ahead.batch = round_trip, batch
        assert ahead.in_flight == expected
    finally:
        ahead.close()


def test_the_s3fs_client_keeps_as_many_connections_as_reads_in_flight(monkeypatch):
    """Where s3fs reads (an AWS profile, an instance role), botocore's pool of 10 connections would
    cap the reads in flight; a setting of the user's own stays theirs."""
    pytest.importorskip("s3fs", reason="needs the s3 extra: pip install 'srop-onnx[s3]'")
    from srop_onnx.files import remote

    monkeypatch.setattr(remote, "_options", {})
    fs, _ = remote._filesystem("s3://bucket/key.npy")
    assert fs.config_kwargs["max_pool_connections"] == remote.CONCURRENT_READS
    monkeypatch.setattr(remote, "_options", {"config_kwargs": {"max_pool_connections": 5}})
    fs, _ = remote._filesystem("s3://bucket/key.npy")
    assert fs.config_kwargs["max_pool_connections"] == 5
