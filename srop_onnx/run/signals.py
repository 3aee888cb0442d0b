"""Stopping cleanly: SIGTERM is handled like Ctrl-C, and a run stops at a batch boundary.

SIGTERM is what ``timeout``, Slurm, ``docker stop`` and CI cancellation send. Outside a run's batch
loop it raises :class:`Terminated` at once (the CLI exits 143; atomic writes remove their temporary
file on the way out). Inside the loop (:class:`BatchBoundary`), SIGINT and SIGTERM first mark the
run as asked to stop: the batch in flight is counted, a checkpoint is saved when the run keeps one,
and the run stops there. A batch that does not end within :data:`GRACE` seconds (or a second
signal) stops the run at once: its last saved checkpoint stands, so nothing is counted twice.
"""

from __future__ import annotations

import os
import signal
import threading

__all__ = ["Terminated", "raise_on_sigterm", "BatchBoundary", "GRACE"]

#: seconds a run may take to reach its next batch boundary after a signal (``docker stop`` waits 10)
GRACE = 5.0


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (exit code 143)."""


def _exception(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == getattr(signal, "SIGTERM", None) else KeyboardInterrupt()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _raise(signum, _frame):
    raise _exception(signum)


def raise_on_sigterm() -> None:
    """Turn SIGTERM into :class:`Terminated` (Python's default ends the process without cleanup)."""
    if hasattr(signal, "SIGTERM") and _main_thread():
        signal.signal(signal.SIGTERM, _raise)


class BatchBoundary:
    """While active, SIGINT/SIGTERM are remembered instead of raised; :meth:`check` raises at the
    next batch boundary. Outside the main thread (Ray tasks, tests' threads) it does nothing."""

    def __init__(self, grace: float = GRACE):
        self.pending: int | None = None
        self.grace = grace
        self._old: dict = {}
        self._timer: threading.Timer | None = None

    def _mark(self, signum, _frame):
        if self.pending is not None:  # asked twice, or the grace ran out: stop now
            raise _exception(signum)
        self.pending = signum
        self._timer = threading.Timer(self.grace, os.kill, (os.getpid(), signum))
        self._timer.daemon = True
        self._timer.start()

    def __enter__(self) -> "BatchBoundary":
        if _main_thread():
            for name in ("SIGINT", "SIGTERM"):
                sig = getattr(signal, name, None)
                if sig is not None:
                    self._old[sig] = signal.signal(sig, self._mark)
        return self

    def __exit__(self, *exc) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old.clear()

    @property
    def stopping(self) -> bool:
        return self.pending is not None

    def check(self) -> None:
        """Raise the pending signal's exception (KeyboardInterrupt or Terminated), if any."""
        if self.pending is not None:
            signum, self.pending = self.pending, None
            if self._timer is not None:
                self._timer.cancel()
            raise _exception(signum)
