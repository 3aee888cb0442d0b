"""Progress of a run called from Python: silent in scripts, a text bar in a notebook.

The command line passes its own progress display (through :class:`~srop_onnx.config.settings.Hooks`);
a notebook user calling ``srop_onnx.analyze(...)`` gets :class:`TextBar` on standard error, which
Jupyter and JupyterLab redraw in place (a carriage return starts the line again), where stdout is not
a terminal and no widget library is needed. ``progress=`` of your own replaces it.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

__all__ = ["TextBar", "in_notebook", "default_progress"]


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython's ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - an IPython without a shell: not a notebook
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class TextBar:
    """``progress(done, total)`` as one line redrawn in place: ``analysing [#####.....] 40/80 inputs``,
    at most every ``every`` seconds, and once more, ending the line, when the run is done."""

    def __init__(self, what: str = "analysing", stream=None, every: float = 0.2, width: int = 30):
        self.what, self.stream, self.every, self.width = what, stream, every, width
        self._last = 0.0
        self._ended = False

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if self._ended or (not final and now - self._last < self.every):
            return
        self._last = now
        if total:
            filled = int(self.width * min(done, total) / total)
            line = f"{self.what} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} inputs"
        else:
            line = f"{self.what}: {done} inputs"
        stream = self.stream or sys.stderr
        if stream is None:
            return
        stream.write("\r" + line + ("\n" if final else ""))
        stream.flush()
        self._ended = final


def default_progress(progress: Callable[[int, "int | None"], None] | None) -> Callable | None:
    """``progress`` as given, else a :class:`TextBar` in a notebook, else None (silent)."""
    if progress is not None:
        return progress
    return TextBar() if in_notebook() else None
