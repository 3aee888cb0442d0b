"""The command line, ``srop-onnx``: a face over the library.

It parses options and calls library functions, nothing more; no other part of the package imports it.
:mod:`.common` holds the click group, its error handling and exit codes; :mod:`.models` the commands
that run models (analyze, sweep, layers); :mod:`.files` those over the files they write (check,
compare, merge, plot, report, randomize); :mod:`.datasets` those over labelled profiles (classes, outliers,
``compare --by class``).

May import: every layer below (``srop_onnx.errors``, ``files``, ``core``, ``model``, ``config``,
``inputs``, ``results``, ``run``, ``show``).
"""

from __future__ import annotations

from . import datasets, files, models, track  # noqa: F401 - registers the commands on the group
from .common import (EXIT_BROKEN_PIPE, EXIT_DRIFT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_NO_GOLDEN, EXIT_RESOURCES,
                     EXIT_TERMINATED, EXIT_USAGE, main)

__all__ = ["main", "EXIT_DRIFT", "EXIT_USAGE", "EXIT_INTERNAL", "EXIT_RESOURCES", "EXIT_NO_GOLDEN", "EXIT_INTERRUPTED",
           "EXIT_BROKEN_PIPE", "EXIT_TERMINATED"]
