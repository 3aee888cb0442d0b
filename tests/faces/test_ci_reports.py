"""Issue 41 (items 1-4): what CI gets from a check - a missing or broken golden still reaches it,
every tolerance shows, a settings mismatch names only what differs, and the job summary holds every
layer. The documented job commands, run as a job runs them (GitHub Actions' variables set)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM
from srop_onnx.cli import EXIT_NO_GOLDEN, main


@pytest.fixture
def job(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    return tmp_path


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_a_missing_golden_still_reaches_ci_and_the_profile_is_written(job):
    res = _run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "srop.json", "--check", "tests/golden.json",
               "--junit", "srop.xml")
    assert res.exit_code == EXIT_NO_GOLDEN == 5, res.output
    assert json.loads((job / "srop.json").read_text())["inputs"]["analyzed"] == 8  # the golden to commit
    case = ET.parse(job / "srop.xml").getroot().find(".//testcase")
    assert case.find("error").get("type") == "SropGoldenMissing"
    assert "::error title=srop-onnx check refused::" in res.output and "tests/golden.json" in res.output
    assert "### srop-onnx check: golden missing" in (job / "summary.md").read_text()
    assert [ln for ln in res.output.splitlines() if ln.startswith("error:")][0].count("golden") >= 1
    # committing the profile as the golden makes the same job pass
    (job / "tests").mkdir()
    shutil.copy(job / "srop.json", job / "tests" / "golden.json")
    again = _run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "srop.json", "--check", "tests/golden.json",
                 "--junit", "srop.xml")
    assert again.exit_code == 0, again.output


def test_a_golden_broken_by_a_merge_conflict_is_exit_5_with_an_errored_case(job):
    _run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "new.json")
    good = (job / "new.json").read_text()
    (job / "broken.json").write_text(f"<<<<<<< HEAD\n{good}=======\n{good}>>>>>>> branch\n")
    res = _run("check", "new.json", "--against", "broken.json", "--junit", "b.xml")
    assert res.exit_code == 5 and res.output.count("error:") == 1, res.output
    assert ET.parse(job / "b.xml").getroot().get("errors") == "1"


def test_per_layer_tolerances_reach_junit_and_the_job_summary(job):
    _run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "golden.json")
    _run("analyze", EXAMPLE_RANDOM, EXAMPLE_IMAGES, "-q", "--json", "new.json")
    res = _run("check", "new.json", "--against", "golden.json", "--tol", "0.02", "--tol", "block3.0=0.5",
               "--tol", "block*=0.3", "--junit", "c.xml")
    assert res.exit_code in (0, 1), res.output
    cases = {c.get("name"): c for c in ET.parse(job / "c.xml").getroot().iter("testcase")}
    tol = {name: c.find("properties/property[@name='tol']").get("value") for name, c in cases.items()}
    assert tol["block3.0"] == "0.5"  # an exact name wins over a pattern
    assert tol["block1.0"] == "0.3" and tol["stem.0"] == "0.02"
    summary = (job / "summary.md").read_text()
    assert "tolerance 0.02, `block3.0`: 0.5, `block*`: 0.3" in summary.replace("` ", "`").replace(" `", "`") \
        or ("block3.0" in summary and "0.5" in summary and "block*" in summary)
    table = summary.split("<details>", 1)[1]
    assert "| layer | golden mean | new mean | delta | tolerance |" in table
    assert all(f"`{name}`" in table or f"` {name} `" in table for name in cases)


def test_a_settings_mismatch_names_only_what_differs(job):
    _run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "golden.json")
    _run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", "new.json", "--preprocess", "unit", "--kappa", "0.9")
    res = _run("check", "new.json", "--against", "golden.json", "--junit", "d.xml")
    assert res.exit_code == 2
    line = next(ln for ln in res.output.splitlines() if ln.startswith("::error"))
    assert "kappa: 0.9 vs 0.85" in line and "preprocess.preset: 'unit' vs 'imagenet'" in line
    assert "{'" not in line and "'preset': " not in line, line  # no dict, only the keys that differ
