"""Objects in a bucket read ahead of the decoders.

A GET waits on the network, not a core: a small object costs a round trip (10-50 ms to a bucket in a
data centre), so reads go ahead on threads of their own, bounded in count (:data:`READ_AHEAD`) and in
bytes (:data:`READ_AHEAD_BYTES`). How many are in flight at once follows the round trip the first
read took: enough to read :data:`READ_RATE` objects a second at that round trip, between
:data:`MIN_READS` and :data:`~srop_onnx.files.remote.CONCURRENT_READS`. A bucket far away gets many
reads at once; a server on this machine, whose GETs wait on its own CPU rather than on the network,
gets few (more would only queue there, and cost both sides threads and connections).
"""

from __future__ import annotations

import math
import time

from ..errors import InputDataError, UsageError
from ..files.remote import CONCURRENT_READS, is_remote, read_many, reads_in_batches

__all__ = ["READ_AHEAD", "READ_AHEAD_BYTES", "READ_BATCH", "READ_RATE", "MIN_READS", "REMOTE_READERS"]

#: threads that read objects ahead of the decoders: as many as the reads that may be in flight
REMOTE_READERS = CONCURRENT_READS
#: objects read ahead of the one being decoded (their bytes wait in memory), and the most bytes
#: that may wait so (a bucket of large arrays reads one or a few ahead)
READ_AHEAD = 64
READ_AHEAD_BYTES = 256 * 2**20
#: objects read in one call where the filesystem reads many at once (gcsfs, see remote.read_many)
READ_BATCH = 16
#: objects a second the reads in flight cover at the first read's round trip (a GPU's pace on small
#: images), and the fewest reads in flight
READ_RATE = 2000
MIN_READS = 8


def _fetch(f) -> "bytes | Exception":
    try:
        return f.path.read()
    except (InputDataError, UsageError) as exc:  # the decoder reports it, in file order
        return exc


def _fetch_group(group: list) -> None:
    """Read the objects of ``group`` (``(file, future)`` pairs), one call for all where the
    filesystem reads many at once, and hand each its bytes (or its error) through its future."""
    try:
        got = [_fetch(group[0][0])] if len(group) == 1 else read_many([str(f.path) for f, _fut in group])
    except BaseException as exc:  # noqa: BLE001 - a bug: the decoder raises it for each file of the group
        got = [exc] * len(group)
    for (_f, fut), value in zip(group, got):
        if fut.set_running_or_notify_cancel():  # False: the run was closed before the bytes came
            fut.set_result(value)


class _ReadAhead:
    """Objects in a bucket read on up to :data:`REMOTE_READERS` threads, :data:`READ_AHEAD` files
    ahead of the decoders, as many at once as the first read's round trip calls for
    (:attr:`in_flight`): the reads wait on the network apart from the decoding, which keeps the
    threads a local folder gets (more decoding threads than cores fight the model's for them)."""

    def __init__(self, entries: list) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.entries, self.next, self.reads = entries, 0, {}
        self.pool = ThreadPoolExecutor(max_workers=REMOTE_READERS, thread_name_prefix="srop-onnx-read")
        first = next((e.path for e in entries if is_remote(e.path)), None)
        self.batch = READ_BATCH if first is not None and reads_in_batches(str(first)) else 1
        self.started = self.round_trip = None  # the first read's start, and how long it took

    @property
    def in_flight(self) -> int:
        """Reads at once: one until the first returns, then enough for :data:`READ_RATE` objects a
        second at its round trip (between :data:`MIN_READS`, or two batches, and :data:`REMOTE_READERS`)."""
        if self.round_trip is None:
            return 1
        wanted = math.ceil(READ_RATE * self.round_trip)
        return max(MIN_READS, 2 * self.batch, min(REMOTE_READERS, wanted))

    def _timed(self, _fut) -> None:
        if self.round_trip is None:
            self.round_trip = time.monotonic() - self.started

    def take(self, i: int):
        """The future of entry ``i``'s bytes (None for a local file); reads are queued up to
        ``i + READ_AHEAD`` while the bytes queued ahead stay under :data:`READ_AHEAD_BYTES` and the
        reads not yet back under :attr:`in_flight`, :attr:`batch` objects to a call. Entry ``i``
        itself is always read."""
        from concurrent.futures import Future

        waiting = sum(size for _fut, size in self.reads.values())
        pending = sum(not fut.done() for fut, _size in self.reads.values())
        room = self.in_flight
        group: list = []
        limit = min(len(self.entries), i + READ_AHEAD)
        if self.next > i and limit - self.next < self.batch and limit < len(self.entries):
            limit = self.next  # enough is on its way: wait for room for a whole batch
        while self.next < limit and (self.next <= i or (waiting < READ_AHEAD_BYTES and pending < room)):
            e = self.entries[self.next]
            if is_remote(e.path):
                size = int(getattr(e.path, "size", 0) or 0)
                fut: Future = Future()
                if self.started is None:
                    self.started = time.monotonic()
                    fut.add_done_callback(self._timed)
                self.reads[self.next] = (fut, size)
                group.append((e, fut))
                waiting += size
                pending += 1
                if len(group) == self.batch:
                    self.pool.submit(_fetch_group, group)
                    group = []
            self.next += 1
        if group:
            self.pool.submit(_fetch_group, group)
        found = self.reads.pop(i, None)
        return found[0] if found else None

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        for fut, _size in self.reads.values():  # reads never started: nobody waits on them now
            fut.cancel()
