"""A pytest plugin that keeps a model's SROP profile from drifting, in the pytest-regressions style.

Installed with srop-onnx (entry point ``pytest11``), it gives every test suite the fixture
``srop_profile``::

    def test_model_keeps_its_profile(srop_profile):
        srop_profile.check("model.onnx", "tests/images", tol=0.02)

The first run analyses the model, writes the golden profile beside the test
(``test_file/test_name.srop.json``) and fails, saying it wrote it (commit the file). Later runs
analyse again and compare with the golden: a drift fails the test with the drifting layers in a
few lines. ``pytest --srop-regen`` rewrites every golden the run reaches (the test then fails
once more, saying so). Goldens are plain profile files: ``srop-onnx compare`` and
``srop-onnx check`` read them, and two runs give identical bytes, so their diffs are clean.

The plugin loads in every pytest run of a machine where srop-onnx is installed, so it imports
nothing heavy until a test asks for the fixture.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

__all__ = ["SropProfileFixture", "srop_profile"]


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("srop-onnx", "SROP profile goldens (srop-onnx)")
    group.addoption("--srop-regen", action="store_true", default=False,
                    help="Rewrite the golden profiles of srop_profile.check() instead of comparing with them.")


def _safe(name: str) -> str:
    """A test name as a file name: parametrize ids keep their words, not their slashes."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "test"


class SropProfileFixture:
    """What ``srop_profile`` gives a test: :meth:`check` a model's profile against its golden."""

    def __init__(self, request: Any):
        self._request = request
        self.regen = bool(request.config.getoption("srop_regen"))
        path = Path(str(request.node.path))
        self.folder = path.parent / path.stem  # tests/test_models.py -> tests/test_models/

    def golden_path(self, basename: str | None = None) -> Path:
        """Where the golden of this test (or of ``basename``) lives."""
        return self.folder / f"{_safe(basename or self._request.node.name)}.srop.json"

    def check(self, model: Any, inputs: Any, *, tol: float = 0.02, metric: str = "mean", units: str | None = None,
              basename: str | None = None, match: str = "name", **analyze_options: Any) -> Any:
        """Analyse ``model`` over ``inputs`` (``analyze_options``: :func:`srop_onnx.analyze`'s keywords)
        and compare with the golden profile by ``metric`` within ``tol``.

        Returns the :class:`~srop_onnx.results.comparison.CheckResult` when it passed; fails the test when
        the profile drifted, when the golden was just written (first run, ``--srop-regen``), or when
        the golden was made with other settings (kappa, taps, preprocessing).
        """
        from .run.analysis import analyze
        from .results.comparison import check
        from .errors import SropError
        from .results.profile import Profile

        profile = analyze(model, inputs, **analyze_options)
        golden = self.golden_path(basename)
        if self.regen or not golden.exists():
            why = "--srop-regen" if self.regen else "no golden profile yet"
            profile.to_json(golden)
            pytest.fail(f"{why}: wrote the golden profile {golden} ({len(profile.layers)} layers, "
                        f"{profile.analyzed} inputs); commit it and rerun", pytrace=False)
        try:
            result = check(profile, Profile.load(golden), tol=tol, metric=metric, units=units, match=match,
                           names=(f"the profile of {model}", str(golden)))
        except SropError as exc:
            pytest.fail(f"{exc} (rewrite the golden with pytest --srop-regen if the change is intended)",
                        pytrace=False)
        if not result:
            pytest.fail(f"{result.summary()}\n(rewrite the golden with pytest --srop-regen if the change is intended)",
                        pytrace=False)
        return result


@pytest.fixture
def srop_profile(request: Any) -> SropProfileFixture:
    """Check a model's SROP profile against a golden profile stored beside the test."""
    return SropProfileFixture(request)
