"""A pytest plugin that keeps a model's SROP profile from drifting, in the pytest-regressions style.

Installed with srop-onnx (entry point ``pytest11``), it gives every test suite the fixture
``srop_profile``::

    def test_model_keeps_its_profile(srop_profile):
        srop_profile.check("model.onnx", "tests/images", tol=0.02)

The first run analyses the model, writes the golden profile beside the test
(``test_file/test_name.srop.json``) and fails, saying it wrote it (commit the file). Later runs
analyse again and compare with the golden: a drift fails the test with the drifting layers in a
few lines and leaves the profile it obtained beside the golden (``test_name.obtained.srop.json``)
to inspect or diff. ``pytest --srop-regen`` rewrites every golden the run reaches (the test then
fails once more, saying so) and removes stale obtained files. Goldens are plain profile files:
``srop-onnx compare`` and ``srop-onnx check`` read them, and two runs give identical bytes (the
model's path is stored relative to pytest's rootdir), so their diffs are clean.

Golden names: one per test, keyed by the test's full id inside its file (class, name and
parametrize id: ``TestA::test_same[x]``), kept to portable file names: letters, digits, ``.``,
``_`` and ``-``. A name that had to change to fit (a parametrize id's ``/``, ``:`` or ``[``,
capitals that a macOS or Windows disk would fold, a reserved Windows name, more than 100
characters) ends in 8 hex digits of the id's hash, so two tests never share a golden by accident
(two whose names fold to one file fail with one line); a golden named with ``basename=`` is the
user's choice and may be shared by several tests. Relative model and input paths are found from
the test file's folder first, then from pytest's rootdir, then from the working directory, so
``cd tests && pytest`` works. Goldens are regular files inside the
test's own folder: a symbolic link, a device or a folder in their place is refused, never
followed. Every failure is one line of pytest output.

The plugin loads in every pytest run of a machine where srop-onnx is installed, so it imports
nothing heavy until a test asks for the fixture.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

__all__ = ["SropProfileFixture", "srop_profile", "golden_name"]

_SUFFIX = ".srop.json"
_OBTAINED = ".obtained.srop.json"
_MAX_STEM = 100
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
_REGEN = "rewrite the golden with pytest --srop-regen if the change is intended"


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("srop-onnx", "SROP profile goldens (srop-onnx)")
    group.addoption("--srop-regen", action="store_true", default=False,
                    help="Rewrite the golden profiles of srop_profile.check() instead of comparing with them.")


def golden_name(test_id: str) -> str:
    """The golden's file stem for a test id inside its file (``TestA::test_same[a/b]``): the id
    itself where it is a portable lower-case file name, else a portable form of it followed by 8 hex
    digits of the id's SHA-256 (unique, the same on every OS)."""
    plain = test_id.replace("::", ".")
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", plain).strip("._-") or "test"
    lossy = (stem != plain or stem != stem.lower() or stem.split(".")[0].lower() in _WINDOWS_RESERVED
             or len(stem) > _MAX_STEM)
    if not lossy:
        return stem
    digest = hashlib.sha256(test_id.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{stem[:_MAX_STEM - 9]}-{digest}"


def _test_id(node: Any) -> str:
    """The node id after its file: ``tests/test_x.py::TestA::test_same[p]`` -> ``TestA::test_same[p]``."""
    parts = str(node.nodeid).split("::")
    return "::".join(parts[1:]) if len(parts) > 1 else str(node.name)


def _fail(message: str, one_line: bool = True) -> None:
    """Fail the test with one line (no traceback, no chained exception); a drift keeps its few lines."""
    pytest.fail(" ".join(str(message).split()) if one_line else str(message), pytrace=False)


class SropProfileFixture:
    """What ``srop_profile`` gives a test: :meth:`check` a model's profile against its golden."""

    def __init__(self, request: Any):
        self._request = request
        self.regen = bool(request.config.getoption("srop_regen"))
        path = Path(str(request.node.path))
        self.folder = path.parent / path.stem  # tests/test_models.py -> tests/test_models/
        self._claimed: dict[str, str] = request.config.stash.setdefault(_CLAIMS, {})

    def golden_path(self, basename: str | None = None) -> Path:
        """Where the golden of this test (or of ``basename``) lives."""
        return self.folder / f"{golden_name(basename) if basename else golden_name(_test_id(self._request.node))}{_SUFFIX}"

    def obtained_path(self, basename: str | None = None) -> Path:
        """Where a drifting run leaves the profile it obtained (beside the golden)."""
        golden = self.golden_path(basename)
        return golden.with_name(golden.name[: -len(_SUFFIX)] + _OBTAINED)

    def _claim(self, golden: Path) -> None:
        """One golden per test: a second test reaching the same file (case folded, as macOS and
        Windows disks do) in this run fails instead of overwriting the first one's golden."""
        key = os.path.normcase(str(golden)).lower()
        me = str(self._request.node.nodeid)
        other = self._claimed.setdefault(key, me)
        if other != me:
            _fail(f"srop_profile: {golden} is already the golden of {other}; give this test its own "
                  "srop_profile.check(..., basename=...)")

    def _guard(self, path: Path, what: str) -> None:
        """``path`` is a regular file inside the test's folder, or absent: never a link, a device or
        a folder, and never reached through a linked folder."""
        where = Path(str(self._request.node.path)).parent.resolve()
        if os.path.lexists(self.folder) and (os.path.islink(self.folder) or not self.folder.is_dir()):
            _fail(f"srop_profile: {self.folder} is a symbolic link or not a folder; goldens are regular files in a "
                  "folder beside the test: remove it and rerun")
        if os.path.lexists(path):
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode) or not stat.S_ISREG(mode):
                kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                _fail(f"srop_profile: the {what} {path} is {kind}; goldens are regular files beside the test: "
                      "replace it with the file (or delete it and rerun)")
        if where not in path.parent.resolve().parents and path.parent.resolve() != where:
            _fail(f"srop_profile: the {what} {path} is outside the test's folder {where}; remove the link that leads there")

    def _located(self, what: Any) -> Any:
        """A relative path (or each of a list of them) found from the test file's folder first
        (pytest-regressions' convention), then from pytest's rootdir, then from the working
        directory; arrays, absolute paths and URLs are passed as they are."""
        if isinstance(what, (list, tuple)):
            return type(what)(self._located(w) for w in what)
        from .files.lists import is_list_argument

        if is_list_argument(what) and str(what) != "@-":  # @val.txt: the list is found so, its entries from it
            return "@" + str(self._located(str(what)[1:]))
        if not isinstance(what, (str, os.PathLike)) or "://" in str(what) or Path(what).is_absolute():
            return what
        bases = (Path(str(self._request.node.path)).parent, Path(str(self._request.config.rootpath)), Path.cwd())
        for base in bases:
            if (base / what).exists():
                return base / what
        return bases[0] / what  # the error then names where it was looked for first

    def _relative(self, profile: Any, model: Any) -> None:
        """The model's path as a path relative to pytest's rootdir (POSIX separators), so a golden
        regenerated on another machine or checkout is the same file."""
        if not isinstance(model, (str, os.PathLike)):
            return
        root = Path(str(self._request.config.rootpath)).resolve()
        try:
            rel = Path(model).resolve().relative_to(root).as_posix()
        except ValueError:
            rel = Path(model).name
        profile.model["path"] = rel

    def _write(self, profile: Any, path: Path) -> None:
        from .errors import SropError

        problem = None
        try:
            profile.to_json(path)
        except SropError as exc:
            problem = str(exc)
        if problem:
            _fail(f"srop_profile: {problem}")

    def check(self, model: Any, inputs: Any, *, tol: "float | dict[str, float]" = 0.02, metric: str = "mean", units: str | None = None,
              basename: str | None = None, match: str = "name", **analyze_options: Any) -> Any:
        """Analyse ``model`` over ``inputs`` (``analyze_options``: :func:`srop_onnx.analyze`'s keywords)
        and compare with the golden profile by ``metric`` within ``tol``.

        Returns the :class:`~srop_onnx.results.comparison.CheckResult` when it passed; fails the test
        (one line) when the profile drifted (leaving the obtained profile beside the golden), when
        the golden was just written (first run, ``--srop-regen``), when the golden was made with
        other keyword arguments (kappa, taps, preprocessing), or when the model, inputs or golden
        cannot be used.
        """
        from .errors import SropError

        golden, obtained = self.golden_path(basename), self.obtained_path(basename)
        if basename is None:  # a golden named on purpose may be shared by several tests (pytest-regressions)
            self._claim(golden)
        model, inputs = self._located(model), self._located(inputs)
        self._guard(golden, "golden")
        self._guard(obtained, "obtained profile")
        outcome = self._run(model, inputs, golden, obtained, dict(tol=tol, metric=metric, units=units, match=match),
                            analyze_options)
        if isinstance(outcome, SropError):
            _fail(f"srop_profile: {outcome}")
        if isinstance(outcome, tuple):  # a drift: the drifting layers, a line each
            _fail(outcome[0], one_line=False)
        if isinstance(outcome, str):
            _fail(outcome)
        return outcome

    def _run(self, model: Any, inputs: Any, golden: Path, obtained: Path, how: dict, options: dict) -> Any:
        """The CheckResult that passed, a message to fail with, or the SropError that stopped it."""
        from .config.settings import describe_differences, settings_differences
        from .errors import SropError
        from .results.comparison import check
        from .results.profile import Profile
        from .run.analysis import analyze

        try:
            profile = analyze(model, inputs, **options)
            self._relative(profile, model)
            if self.regen or not golden.exists():
                self._write(profile, golden)
                obtained.unlink(missing_ok=True)
                why = "--srop-regen" if self.regen else "no golden profile yet"
                return (f"{why}: wrote the golden profile {golden} ({len(profile.layers)} layers, "
                        f"{profile.analyzed} inputs); commit it and rerun")
            reference = Profile.load(golden)
            diffs = settings_differences(profile.settings, reference.settings)
            if diffs:
                return (f"srop_profile: the golden {golden} was made with other settings ({describe_differences(diffs)}); "
                        f"pass the same keyword arguments to srop_profile.check, or {_REGEN}")
            result = check(profile, reference, tol=how["tol"], metric=how["metric"], units=how["units"],
                           match=how["match"], names=(f"the profile of {model}", str(golden)))
        except SropError as exc:
            return exc
        if result:
            obtained.unlink(missing_ok=True)
            return result
        try:  # the drift is the news: a tests folder it cannot write in (read-only checkout) is a footnote
            profile.to_json(obtained)
            where = f"the obtained profile is {obtained}"
        except SropError as exc:
            where = f"the obtained profile could not be kept: {exc}"
        return (f"{result.summary()}\n({where}; {_REGEN})",)


_CLAIMS = pytest.StashKey[dict]()


@pytest.fixture
def srop_profile(request: Any) -> SropProfileFixture:
    """Check a model's SROP profile against a golden profile stored beside the test."""
    return SropProfileFixture(request)
