"""Issue 21: every output says what it is - units in the CSV, preprocessing in the HTML report,
compare's labels and sign, JUnit's file properties, options that need --check, a closed pipe, and
the CUDA note only where a GPU could have been used."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM
from srop_onnx.cli import main


def run(*args, code=0):
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == code, res.output
    return res


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs")
    run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--json", d / "golden.json", "--csv", d / "band.csv")
    run("analyze", EXAMPLE, EXAMPLE_IMAGES, "-q", "--units", "input", "--csv", d / "input.csv", "--kappa", "0.9")
    run("analyze", EXAMPLE_RANDOM, EXAMPLE_IMAGES, "-q", "--json", d / "new.json")
    return d


def _rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_every_csv_row_names_its_units_and_kappa(files):
    band, inp = _rows(files / "band.csv"), _rows(files / "input.csv")
    assert {(r["units"], r["kappa"]) for r in band} == {("band", "0.85")}
    assert {(r["units"], r["kappa"]) for r in inp} == {("input", "0.9")}
    down_band = next(r for r in band if r["name"] == "down.0")
    down_input = next(r for r in inp if r["name"] == "down.0")
    assert down_band["mean"] != down_input["mean"]  # the same header, other numbers: the rows say which


def test_the_html_report_says_which_preprocessing_ran(files, tmp_path):
    run("report", files / "golden.json", "-o", tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "preprocessing" in html and "imagenet (pixels x 0.003922, mean 0.485,0.456,0.406" in html


def test_a_report_of_what_it_cannot_show_together_names_the_file_and_the_fix(files, tmp_path):
    """One sweep or one track alone, or up to two profiles: what is given beyond that is refused in one
    line naming the file and the command that shows it (it said "report takes one sweep")."""
    d, out = files, tmp_path / "r.html"
    run("sweep", EXAMPLE, EXAMPLE_IMAGES, "--noise", "gaussian", "--levels", "0,0.1", "-q", "--json", d / "s.json")
    (d / "ck").mkdir(exist_ok=True)
    (d / "ck" / "step1.onnx").write_bytes(EXAMPLE.read_bytes())
    run("track", d / "ck", "--inputs", EXAMPLE_IMAGES, "-o", d / "tr", "-q")
    for given, words in (([d / "golden.json", d / "s.json"], f"{d / 's.json'} is a sweep: a report shows one sweep alone "
                                                               f"(srop-onnx report {d / 's.json'} -o {out})"),
                         ([d / "golden.json", d / "tr"], f"{d / 'tr'} is a track: a report shows one track alone "
                                                         f"(srop-onnx report {d / 'tr'} -o {out})"),
                         ([d / "golden.json"] * 2 + [d / "new.json"], "3 profiles given: a report shows one profile, or two "
                                                                      "side by side; for more, srop-onnx plot")):
        res = run("report", *given, "-o", out, code=2)
        assert f"error: {words}" in " ".join(res.output.split()) and not out.exists(), res.output
    for alone in ("s.json", "tr"):
        run("report", d / alone, "-o", out)  # the command the message gives
        assert out.read_text().startswith("<!DOCTYPE html>")


def test_compare_labels_the_files_and_reports_new_minus_golden(files):
    res = run("compare", files / "golden.json", files / "new.json")
    out = res.output
    assert f"A = {files / 'golden.json'} (model {EXAMPLE})" in out.replace("\n", " ") or \
        f"A = {files / 'golden.json'}" in out
    assert f"B = {files / 'new.json'}" in out.replace("\n", " ") and "delta = B - A" in out
    from srop_onnx import Profile, compare

    comp = compare(Profile.load(files / "golden.json"), Profile.load(files / "new.json"))
    pair = next(p for p in comp.pairs if p.a.name == "block3.0")
    expected = f"{pair.b.summary('band').mean - pair.a.summary('band').mean:+.3f}"
    line = next(ln for ln in out.splitlines() if "block3.0" in ln)
    assert expected in line  # B - A: new minus golden


def test_junit_properties_name_the_profile_files(files, tmp_path):
    run("check", files / "new.json", "--against", files / "golden.json", "--junit", tmp_path / "j.xml", code=1)
    props = {p.get("name"): p.get("value") for p in ET.parse(tmp_path / "j.xml").iter("property")}
    assert props["profile"] == str(files / "new.json") and props["golden"] == str(files / "golden.json")
    assert props["model"] == str(EXAMPLE_RANDOM) and props["golden_model"] == str(EXAMPLE)


@pytest.mark.parametrize("extra", [["--tol", "3"], ["--metric", "w1"], ["--match", "position"],
                                   ["--junit", "j.xml"]])
def test_check_options_without_check_are_refused(extra, tmp_path):
    res = run("analyze", EXAMPLE, EXAMPLE_IMAGES, *extra, code=2)
    assert f"{extra[0]} needs --check GOLDEN.json" in res.output and "Traceback" not in res.output


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pipe and shell")
def test_a_closed_pipe_exits_quietly_with_141(tmp_path):
    cmd = (f'"{sys.executable}" -m srop_onnx analyze "{EXAMPLE}" "{EXAMPLE_IMAGES}" 2>err.txt | head -1 >/dev/null; '
           'echo "${PIPESTATUS[0]}"; cat err.txt')
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    code, *err = res.stdout.splitlines()
    assert code == "141", res.stdout
    assert not [ln for ln in err if "error" in ln.lower() or "Traceback" in ln]


def test_the_cuda_note_only_where_it_helps(monkeypatch):
    import srop_onnx.core.cuda as cuda

    monkeypatch.setattr(cuda, "cuda_problem", lambda: "onnxruntime-gpu is not installed (pip install ...)")
    monkeypatch.setattr(cuda, "gpu_present", lambda: False)
    quiet = run("analyze", EXAMPLE, EXAMPLE_IMAGES, "--provider", "auto")
    assert "CUDA not used" not in quiet.output
    verbose = run("analyze", EXAMPLE, EXAMPLE_IMAGES, "--provider", "auto", "-v")
    assert "CUDA not used: onnxruntime-gpu is not installed" in verbose.output
    monkeypatch.setattr(cuda, "gpu_present", lambda: True)  # a GPU the run could have used: always said
    assert "CUDA not used" in run("analyze", EXAMPLE, EXAMPLE_IMAGES, "--provider", "auto").output


def test_a_plain_progress_line_is_not_printed_twice():
    """Off a terminal progress is a line every few seconds and one at the end - not the same line
    twice when the last one already said it all (a sweep of one long batch)."""
    from rich.console import Console

    from srop_onnx.show.report import ProgressHook

    buf = io.StringIO()
    hook = ProgressHook(Console(file=buf, force_terminal=False, width=200), interval=0.0)
    hook(0, 16)
    hook(16, 16)
    hook.stop()
    lines = [ln for ln in buf.getvalue().splitlines() if ln.startswith("analysing: 16/16")]
    assert len(lines) == 1, buf.getvalue()


def test_a_resumed_count_is_not_taken_for_a_rate_and_shards_are_called_shards():
    """A Ray run that resumes with 3 of 4 shards done starts its count at 3: the rate counts what
    this run did, and the line says shards, not inputs."""
    import time

    from rich.console import Console

    from srop_onnx.show.report import ProgressHook

    buf = io.StringIO()
    hook = ProgressHook(Console(file=buf, force_terminal=False, width=200), "shards", interval=0.0)
    hook(3, 4)
    time.sleep(0.05)
    hook(4, 4)
    hook.stop()
    last = buf.getvalue().strip().splitlines()[-1]
    assert last.startswith("analysing: 4/4 shards, ") and "inputs" not in last
    rate = float(last.split(", ")[1].split()[0])
    assert 0 < rate <= 1 / 0.05 + 1e-9  # one shard in at least 50 ms, not four
