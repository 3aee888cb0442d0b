"""Issue 20: the ``srop_profile`` fixture (pytest11 plugin) in the pytest-regressions style, run
with ``pytester``: first run writes the golden and fails, then passes, catches drift, regenerates,
refuses a golden of other settings; and it costs nothing in other projects' pytest runs."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM

TEST = f'''
import os

MODEL = os.environ.get("SROP_TEST_MODEL", {str(EXAMPLE)!r})


def test_model_keeps_its_profile(srop_profile):
    result = srop_profile.check(MODEL, {str(EXAMPLE_IMAGES)!r}, tol=0.02,
                                kappa=float(os.environ.get("SROP_TEST_KAPPA", "0.85")))
    assert result.passed
'''


@pytest.fixture
def suite(pytester):
    pytester.makepyfile(test_models=TEST)
    return pytester


def _golden(pytester):
    return pytester.path / "test_models" / "test_model_keeps_its_profile.srop.json"


def test_the_plugin_is_registered_through_pytest11():
    assert any(e.value == "srop_onnx.pytest_plugin" for e in entry_points(group="pytest11"))


def test_first_run_writes_the_golden_beside_the_test_and_fails(suite):
    res = suite.runpytest_subprocess()
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*no golden profile yet: wrote the golden profile*test_model_keeps_its_profile.srop.json"
                              "*commit it and rerun*"])
    doc = json.loads(_golden(suite).read_text())
    assert doc["format"] == "srop-onnx-profile" and len(doc["layers"]) == 8
    res = suite.runpytest_subprocess()  # second run: compares and passes
    res.assert_outcomes(passed=1)


def test_drift_fails_with_the_drifting_layers_in_a_few_lines(suite, monkeypatch):
    suite.runpytest_subprocess()
    monkeypatch.setenv("SROP_TEST_MODEL", str(EXAMPLE_RANDOM))  # the same network, randomized: it drifts
    res = suite.runpytest_subprocess()
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*FAILED: * of 8 layer(s) drifted (mean, tol 0.02, band units) from *.srop.json:",
                              "*block3.0: mean * vs golden *|delta| * > tol 0.02*"])
    text = res.stdout.str()
    assert "Traceback" not in text and "srop_onnx/" not in text  # a short failure, not a stack
    assert "--srop-regen" in text


def test_srop_regen_rewrites_the_golden(suite, monkeypatch):
    suite.runpytest_subprocess()
    before = _golden(suite).read_bytes()
    monkeypatch.setenv("SROP_TEST_MODEL", str(EXAMPLE_RANDOM))
    res = suite.runpytest_subprocess("--srop-regen")
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*--srop-regen: wrote the golden profile*"])
    assert _golden(suite).read_bytes() != before
    suite.runpytest_subprocess().assert_outcomes(passed=1)  # the random model now matches its new golden


def test_a_golden_of_other_settings_is_refused_in_one_line(suite, monkeypatch):
    suite.runpytest_subprocess()
    monkeypatch.setenv("SROP_TEST_KAPPA", "0.9")
    res = suite.runpytest_subprocess()
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*srop_profile: the golden *test_model_keeps_its_profile.srop.json was made with other "
                              "settings (kappa: 0.9 vs 0.85); pass the same keyword arguments to srop_profile.check*"])
    text = res.stdout.str()
    body = "\n".join(ln for ln in text.splitlines() if not ln.startswith("FAILED "))  # not the -ra summary
    assert body.count("were analysed with") + body.count("made with other settings") == 1  # said once
    assert "During handling" not in text and "Traceback" not in text


def test_the_plugin_costs_nothing_in_other_projects(pytester):
    """Installed, the plugin loads in every pytest run: it must import nothing heavy at start-up."""
    pytester.makepyfile(test_other='''
import sys

def test_nothing_heavy_was_imported():
    heavy = {"numpy", "onnx", "onnxruntime", "matplotlib", "pandas", "scipy", "PIL", "rich", "jsonschema"}
    assert "srop_onnx.pytest_plugin" in sys.modules
    assert heavy & set(sys.modules) == set()
''')
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(passed=1)
    code = "import sys, srop_onnx.pytest_plugin; print(sorted(m for m in sys.modules if m.startswith('srop_onnx')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['srop_onnx', 'srop_onnx.errors', 'srop_onnx.pytest_plugin']"


# -- issue 30/31: goldens that never collide, never leave the test's folder, fail in one line --------
MANY = f'''
import pytest

MODEL, IMAGES = {str(EXAMPLE)!r}, {str(EXAMPLE_IMAGES)!r}


class TestA:
    def test_same(self, srop_profile):
        srop_profile.check(MODEL, IMAGES, limit=2)


class TestB:
    def test_same(self, srop_profile):
        srop_profile.check(MODEL, IMAGES, limit=2)


@pytest.mark.parametrize("p", ["a/b", "a:b", "Big", "big", pytest.param("x", id="x" * 300)])
def test_param(srop_profile, p):
    srop_profile.check(MODEL, IMAGES, limit=2)
'''


def test_goldens_are_keyed_by_the_full_id_and_never_collide(pytester):
    """Two classes' same-named methods, ids that differ only in ``/`` and ``:`` or in case (one file
    on macOS and Windows), and a 300-character id: seven tests, seven goldens, portable names."""
    from srop_onnx.pytest_plugin import golden_name

    pytester.makepyfile(test_many=MANY)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(failed=7)
    assert "File name too long" not in res.stdout.str()
    names = sorted(p.name for p in (pytester.path / "test_many").iterdir())
    assert len(names) == 7 and len({n.lower() for n in names}) == 7, names
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+\.srop\.json", n) and len(n) <= 110 for n in names), names
    assert any(n.startswith("test_param_xxxx") for n in names), names  # the long id, cut and hashed
    assert golden_name("test_same") == "test_same"  # a plain name keeps its plain golden
    assert golden_name("TestA::test_same") != golden_name("TestB::test_same")
    assert golden_name("test_param[a/b]") != golden_name("test_param[a:b]")
    assert golden_name("test_param[Big]").lower() != golden_name("test_param[big]").lower()
    assert golden_name("CON").lower() != "con"
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=7)


@pytest.mark.parametrize("workers", [None, 2])
def test_a_golden_shared_on_purpose_serves_every_test_that_names_it(pytester, workers):
    """``basename=`` is the user's choice (pytest-regressions): four parametrized tests on one golden
    write it once, then all pass, in one process or under ``pytest -n 2``."""
    if workers:
        pytest.importorskip("xdist", reason="needs pytest-xdist (pip install pytest-xdist)")
    pytester.makepyfile(test_shared=f'''
import pytest

@pytest.mark.parametrize("i", range(4))
def test_one(srop_profile, i):
    srop_profile.check({str(EXAMPLE)!r}, {str(EXAMPLE_IMAGES)!r}, limit=2, basename="shared")
''')
    args = ["-p", "no:cacheprovider"] + (["-n", str(workers)] if workers else [])
    first = pytester.runpytest_subprocess(*args)
    assert (pytester.path / "test_shared" / "shared.srop.json").is_file()
    assert first.ret != 0  # the first run wrote the golden and says so
    for _ in range(2):
        pytester.runpytest_subprocess(*args).assert_outcomes(passed=4)


def test_relative_paths_are_found_from_the_test_file_s_folder(pytester, monkeypatch):
    """``cd tests && pytest``: the model and the inputs beside the test file are found, whatever the
    working directory (pytest-regressions' convention), as are paths from the rootdir."""
    import shutil

    sub = pytester.path / "tests"
    (sub / "data").mkdir(parents=True)
    shutil.copy(EXAMPLE, sub / "data" / "model.onnx")
    shutil.copytree(EXAMPLE_IMAGES, sub / "data" / "images")
    (sub / "data" / "split.txt").write_text("images/disk_0.png\nimages/cross_1.png\n")  # found from the list's folder
    (pytester.path / "pytest.ini").write_text("[pytest]\n")
    (sub / "test_here.py").write_text(
        "def test_beside(srop_profile):\n"
        "    srop_profile.check('data/model.onnx', 'data/images', limit=2)\n\n"
        "def test_from_root(srop_profile):\n"
        "    srop_profile.check('tests/data/model.onnx', ['tests/data/images'], limit=2)\n\n"
        "def test_a_list(srop_profile):\n"
        "    srop_profile.check('data/model.onnx', '@data/split.txt')\n")
    for where in (pytester.path, sub):
        monkeypatch.chdir(where)
        pytester.runpytest_subprocess("-p", "no:cacheprovider", str(sub))
        monkeypatch.chdir(where)
        pytester.runpytest_subprocess("-p", "no:cacheprovider", str(sub)).assert_outcomes(passed=3)


import os  # noqa: E402
import re  # noqa: E402


def _one_line_failure(res, needle: str) -> None:
    text = res.stdout.str()
    assert needle in text, text[-2000:]
    assert "Traceback" not in text and "During handling" not in text, text[-2000:]
    line = next(ln for ln in text.splitlines() if needle in ln and not ln.startswith("FAILED"))
    assert text.count(needle) <= 2, text  # the failure and the short summary line, nothing more
    assert line.strip()


def test_goldens_through_links_devices_and_outside_the_folder_are_refused(suite, tmp_path):
    folder = suite.path / "test_models"
    folder.mkdir()
    golden = folder / "test_model_keeps_its_profile.srop.json"
    outside = tmp_path / "outside.json"
    golden.symlink_to(outside)  # dangling: a plain run must not write outside the repository
    res = suite.runpytest_subprocess()
    res.assert_outcomes(failed=1)
    _one_line_failure(res, "is a symbolic link; goldens are regular files beside the test")
    assert not outside.exists()
    outside.write_text("the user's file")
    res = suite.runpytest_subprocess("--srop-regen")  # regeneration through the link: refused too
    _one_line_failure(res, "is a symbolic link")
    assert outside.read_text() == "the user's file"
    golden.unlink()
    golden.symlink_to("/dev/zero")  # read until memory runs out, before
    res = suite.runpytest_subprocess()
    _one_line_failure(res, "is a symbolic link")
    golden.unlink()
    folder.rmdir()
    folder.symlink_to(tmp_path, target_is_directory=True)  # the folder itself leads elsewhere
    res = suite.runpytest_subprocess()
    _one_line_failure(res, "is a symbolic link or not a folder")
    assert list(tmp_path.iterdir()) == [outside]


def test_a_golden_with_nan_summary_numbers_is_refused_in_one_line(suite):
    suite.runpytest_subprocess()
    doc = json.loads(_golden(suite).read_text())
    doc["layers"][0]["mean"] = float("nan")
    _golden(suite).write_text(json.dumps(doc))
    res = suite.runpytest_subprocess()
    res.assert_outcomes(failed=1)
    _one_line_failure(res, "mean is nan, not a finite number")


def test_a_missing_model_and_an_unwritable_golden_fail_in_one_line(suite, monkeypatch):
    monkeypatch.setenv("SROP_TEST_MODEL", str(suite.path / "missing.onnx"))
    res = suite.runpytest_subprocess()
    res.assert_outcomes(failed=1)
    _one_line_failure(res, "missing.onnx: no such file")
    monkeypatch.delenv("SROP_TEST_MODEL")
    (suite.path / "test_models").write_text("a file where the golden folder goes")
    res = suite.runpytest_subprocess()
    _one_line_failure(res, "is a symbolic link or not a folder")
    (suite.path / "test_models").unlink()
    if os.name == "posix" and os.geteuid() != 0:  # root writes anywhere: only a user sees read-only
        (suite.path / "test_models").mkdir(mode=0o500)
        res = suite.runpytest_subprocess()
        _one_line_failure(res, "srop_profile:")


def test_drift_leaves_the_obtained_profile_and_regen_removes_it(suite, monkeypatch):
    suite.runpytest_subprocess()
    golden = json.loads(_golden(suite).read_text())
    assert golden["model"]["path"] == os.path.relpath(EXAMPLE, suite.path).replace(os.sep, "/") \
        or golden["model"]["path"] == EXAMPLE.name  # relative to the rootdir, never absolute
    assert not os.path.isabs(golden["model"]["path"])
    monkeypatch.setenv("SROP_TEST_MODEL", str(EXAMPLE_RANDOM))
    res = suite.runpytest_subprocess()
    obtained = _golden(suite).with_name("test_model_keeps_its_profile.obtained.srop.json")
    assert obtained.exists() and json.loads(obtained.read_text())["format"] == "srop-onnx-profile"
    res.stdout.fnmatch_lines(["*the obtained profile is *test_model_keeps_its_profile.obtained.srop.json*"])
    suite.runpytest_subprocess("--srop-regen")
    assert not obtained.exists()


def test_drift_is_told_when_the_obtained_profile_cannot_be_kept(suite, monkeypatch):
    """A read-only checkout: the drifting layers are the failure; that the obtained profile could
    not be written beside the golden is a footnote (it used to replace the drift report)."""
    from srop_onnx import OutputError
    from srop_onnx.results.profile import Profile

    suite.runpytest_subprocess()
    real = Profile.to_json

    def to_json(self, path, *a, **k):
        if str(path).endswith(".obtained.srop.json"):
            raise OutputError(f"{path}: cannot write in {path.parent} (read-only file system); choose a writable folder")
        return real(self, path, *a, **k)

    monkeypatch.setattr(Profile, "to_json", to_json)
    monkeypatch.setenv("SROP_TEST_MODEL", str(EXAMPLE_RANDOM))
    res = suite.runpytest()  # in-process: the patch holds
    res.assert_outcomes(failed=1)
    res.stdout.fnmatch_lines(["*FAILED: * of 8 layer(s) drifted (mean, tol 0.02, band units) from *.srop.json:",
                              "*block3.0: mean * vs golden *|delta| * > tol 0.02*",
                              "*the obtained profile could not be kept: *read-only file system*--srop-regen*"])
