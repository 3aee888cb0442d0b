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
    res.stdout.fnmatch_lines(["*were analysed with different settings (kappa: 0.9 vs 0.85)*"])


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
