"""Issue 20: srop-onnx from Python - one import, DataFrames that round-trip the JSON numbers,
notebook HTML, results that behave in tests, identical files from identical runs, packaging."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

import srop_onnx
from conftest import EXAMPLE, EXAMPLE_IMAGES, EXAMPLE_RANDOM, REPO

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def profiles():
    return srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES), srop_onnx.analyze(EXAMPLE_RANDOM, EXAMPLE_IMAGES)


@pytest.fixture(scope="module")
def noise_sweep():
    return srop_onnx.sweep(EXAMPLE, EXAMPLE_IMAGES, levels="0,0.5,1", noise="gaussian", seed=3, batch_size=4)


# -- one import ---------------------------------------------------------------------------------
def test_everything_the_readme_shows_is_reachable_from_one_import():
    code = ("import srop_onnx as s; "
            "names = [s.analyze, s.analyze_vs_random, s.check, s.compare, s.sweep, s.randomize, s.merge_profiles, "
            "s.Profile.load, s.plot.depth, s.plot.save_figure, s.srop, s.srop1d, s.rolloff_bins_many, s.CheckResult]; "
            "print(all(callable(n) for n in names))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"
    for name in srop_onnx.__all__:
        assert getattr(srop_onnx, name) is not None, name


def test_tab_completion_offers_the_public_names_only():
    """``dir(srop_onnx)`` (what a notebook completes) is ``__all__``, even after a run has loaded the
    subpackages: no ``Any``, ``import_module`` or ``annotations``, no ``core`` or ``run``."""
    code = ("import srop_onnx, numpy as np; "
            "srop_onnx.analyze(MODEL, np.zeros((1, 3, 64, 64), np.float32), baseline=False); "
            "print(','.join(dir(srop_onnx)))").replace("MODEL", repr(str(EXAMPLE)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().split(",") == sorted(srop_onnx.__all__)
    assert "analyze" in out and "Profile" in out and "plot" in out


def test_no_public_function_is_shadowed_by_a_submodule():
    """After every submodule is imported, ``srop_onnx.compare`` is still the function (a module of
    the same name would replace it), and ``srop_onnx.plot`` is the plotting module."""
    code = ("import pkgutil, importlib, types, srop_onnx; "
            "[importlib.import_module('srop_onnx.' + m.name) for m in pkgutil.iter_modules(srop_onnx.__path__) "
            " if m.name not in ('__main__', 'pytest_plugin')]; "
            "bad = [n for n in srop_onnx._LAZY if isinstance(getattr(srop_onnx, n), types.ModuleType)]; "
            "print(bad, isinstance(srop_onnx.plot, types.ModuleType))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] True"


def _imported_by(code: str) -> set[str]:
    res = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True)
    return {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in res.stderr.splitlines() if "|" in line}


HEAVY = {"numpy", "scipy", "onnx", "onnxruntime", "matplotlib", "pandas", "PIL", "rich", "cupy", "jsonschema",
         "array_api_compat"}


def test_import_stays_light_measured_with_importtime():
    """``python -X importtime -c 'import srop_onnx'`` lists no heavy module: they load when used."""
    assert _imported_by("import srop_onnx") & HEAVY == set()
    assert "numpy" in _imported_by("import srop_onnx; srop_onnx.srop")  # and they do load when used


# -- tables ---------------------------------------------------------------------------------------
def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NA
    return a == b


@pytest.mark.parametrize("units", ["band", "input"])
def test_layer_frame_round_trips_the_json_numbers_exactly(profiles, units):
    p = profiles[0]
    df = p.to_dataframe(units)
    doc = json.loads(p.to_json(units=units))["layers"]
    assert list(df["layer"]) == [lay["name"] for lay in doc] and set(df["units"]) == {units}
    for row, lay in zip(df.to_dict("records"), doc):
        for key in ("index", "op", "tensor", "m", "m_input", "count", "dead", "nonfinite", "mean", "std", "median",
                    "q1", "q3", "min", "max", "spatial_map"):
            assert _same(lay[key], row[key]), (key, lay[key], row[key])
        c, h, w = lay["shape"]
        assert (row["channels"], row["height"], row["width"]) == (c, h, w) and pd.isna(row["length"])
        assert row["baseline_mean"] == lay["baseline"]["mean"]
        assert row["ratio"] == lay["mean"] / lay["baseline"]["mean"]
    assert all(not isinstance(v, (list, dict)) for v in df.iloc[0].to_list())  # flat: no nested lists
    assert len(df.query("mean < 0.7")) >= 1  # .query works on it as WeightWatcher users expect


def test_long_forms_round_trip_per_sample_and_per_channel_means(profiles):
    p = profiles[0]
    doc = json.loads(p.to_json())
    samples = p.to_dataframe(per="sample")
    assert list(samples.columns) == ["index", "layer", "sample", "source", "label", "value", "units"]
    for lay in doc["layers"]:
        got = samples[samples["index"] == lay["index"]]
        assert list(got["sample"]) == list(range(doc["inputs"]["analyzed"]))
        assert list(got["source"]) == doc["inputs"]["sources"]
        np.testing.assert_array_equal(got["value"].to_numpy(), np.array(lay["per_sample_mean"], dtype=float))
    channels = p.to_dataframe(per="channel")
    for lay in doc["layers"]:
        got = channels[channels["index"] == lay["index"]]
        assert list(got["count"]) == lay["kernel_count"]
        expect = [s / c if c else math.nan for s, c in zip(lay["kernel_sum"], lay["kernel_count"])]
        np.testing.assert_allclose(got["value"].to_numpy(), expect, rtol=0, atol=1e-15)


def test_sweep_frame_is_level_by_layer_with_the_output_change(noise_sweep):
    df = noise_sweep.to_dataframe()
    doc = noise_sweep.to_dict()
    n = len(doc["points"][0]["profile"]["layers"])
    assert len(df) == len(doc["points"]) * n and sorted(set(df["level"])) == [0.0, 0.5, 1.0]
    for point in doc["points"]:
        rows = df[df["level"] == point["level"]]
        assert list(rows["mean"]) == [lay["mean"] for lay in point["profile"]["layers"]]
        change = point["output_change"]
        assert set(rows["change_measure"]) == {change["measure"]} and set(rows["change"]) == {change["value"]}
        assert set(rows["top1_agreement"]) == {change["top1_agreement"]}


def test_check_and_compare_frames(profiles):
    a, b = profiles
    result = srop_onnx.check(b, a, tol=0.02)
    df = result.to_dataframe()
    assert list(df["layer"]) == [lc.name for lc in result.layers]
    assert list(df["ok"]) == [lc.ok for lc in result.layers] and set(df["tol"]) == {0.02}
    comp = srop_onnx.compare(a, b)
    cf = comp.to_dataframe()
    for row, pair in zip(cf.to_dict("records"), comp.pairs):
        assert row["delta"] == pair.b.summary("band").mean - pair.a.summary("band").mean  # B - A


def test_frames_without_pandas_say_how_to_install_it(profiles, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(srop_onnx.UsageError, match=r"pandas, which is not installed; pip install 'srop-onnx\[pandas\]'"):
        profiles[0].to_dataframe()


# -- results that behave in tests -----------------------------------------------------------------
def test_a_failed_check_is_falsy_and_its_str_is_short(profiles):
    a, b = profiles
    failed = srop_onnx.check(b, a, tol=0.001)
    assert not failed.passed and bool(failed) is False
    with pytest.raises(AssertionError):
        assert failed
    text = str(failed)
    assert text.startswith(f"FAILED: {len(failed.failures)} of {len(failed.layers)} layer(s) drifted (mean, tol 0.001")
    assert len(text.splitlines()) <= 7 and len(text) < 1500
    assert failed.failures[0].name in text
    assert len(failed.table().splitlines()) == len(failed.layers)  # the full table, apart
    passed = srop_onnx.check(a, a, tol=0)
    assert passed and str(passed).startswith("PASS: ")


def test_reprs_are_short(profiles, noise_sweep):
    a, b = profiles
    assert len(repr(a)) < 120 and repr(a).startswith("<Profile example.onnx: 8 layers, 8 inputs")
    assert len(repr(a.layers[0])) < 160 and len(repr(noise_sweep)) < 160
    assert len(repr(srop_onnx.check(b, a))) < 120


# -- notebook display ------------------------------------------------------------------------------
class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.srcs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.srcs += [v for k, v in attrs if k in ("src", "href")]


@pytest.mark.parametrize("what", ["profile", "sweep", "check", "comparison"])
def test_html_reprs_are_inline_small_and_offline(profiles, noise_sweep, what):
    a, b = profiles
    obj = {"profile": a, "sweep": noise_sweep, "check": srop_onnx.check(b, a), "comparison": srop_onnx.compare(a, b)}[what]
    html = obj._repr_html_()
    parser = _Tags()
    parser.feed(html)
    assert "script" not in parser.tags and "link" not in parser.tags and "iframe" not in parser.tags
    assert all(s.startswith("data:image/png;base64,") for s in parser.srcs)  # nothing fetched from anywhere
    assert not re.search(r"https?://", html)
    assert "table" in parser.tags and len(html) < 120_000  # scrolls past: a table and a small figure
    if what in ("profile", "sweep", "comparison"):
        assert parser.tags.count("img") == 1
    if what == "profile":
        assert "preprocessing: imagenet" in html and "kappa 0.85" in html and "block3.0" in html


# -- files that diff clean ---------------------------------------------------------------------
def test_two_runs_of_one_command_write_byte_identical_json_and_csv(tmp_path):
    outs = []
    for i in range(2):
        d = tmp_path / str(i)
        d.mkdir()
        cmd = [sys.executable, "-m", "srop_onnx", "analyze", str(EXAMPLE), str(EXAMPLE_IMAGES), "-q",
               "--json", str(d / "p.json"), "--csv", str(d / "p.csv")]
        subprocess.run(cmd, check=True, capture_output=True)
        outs.append(((d / "p.json").read_bytes(), (d / "p.csv").read_bytes()))
    assert outs[0] == outs[1]
    doc = json.loads(outs[0][0])
    assert "run" not in doc.get("extra", {})  # peak memory, time and host stay out by default
    assert list(doc) == ["format", "version", "tool", "model", "settings", "inputs", "layers", "skipped_layers",
                         "extra"]


def test_record_run_writes_the_run_facts_on_request(tmp_path):
    p = srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES, record_run=True)
    run = json.loads(p.to_json())["extra"]["run"]
    assert {"peak_rss_bytes", "wall_seconds", "host", "date", "batch_size"} <= set(run)
    assert "run" not in json.loads(srop_onnx.analyze(EXAMPLE, EXAMPLE_IMAGES).to_json()).get("extra", {})


# -- packaging ---------------------------------------------------------------------------------
def test_python_dash_m_is_the_cli():
    out = subprocess.run([sys.executable, "-m", "srop_onnx", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"srop-onnx, version {srop_onnx.__version__}"


def test_the_package_is_typed_licensed_and_changelogged():
    assert (REPO / "srop_onnx" / "py.typed").exists()
    assert "MIT License" in (REPO / "LICENSE").read_text()
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "Keep a Changelog" in changelog and re.search(r"^## \[Unreleased\]", changelog, re.M)
    toml = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^license = "MIT"$', toml, re.M) and "py.typed" in toml


USER_SCRIPT = '''
import numpy as np

import srop_onnx
from srop_onnx import CheckResult, Comparison, Profile, Sweep

profile: Profile = srop_onnx.analyze("model.onnx", "images/", batch_size=4)
golden = Profile.load("golden.json")
result: CheckResult = srop_onnx.check(profile, golden, tol={"layer4": 0.05, "*": 0.02})
passed: bool = bool(result) and result.passed
names: list[str] = [layer.name for layer in profile.layers]
mean: float = profile.layers[0].summary("band").mean
text: str = profile.to_json()
comp: Comparison = srop_onnx.compare(golden, profile)
sw: Sweep = srop_onnx.sweep("model.onnx", "images/", noise="gaussian", levels=[0, 0.5])
trained, twin, verdict = srop_onnx.analyze_vs_random("model.onnx", "images/")
merged: Profile = srop_onnx.merge_profiles([profile, golden])
from_paths: CheckResult = srop_onnx.check("new.json", "golden.json")
paths_compared: Comparison = srop_onnx.compare("golden.json", profile)
from PIL import Image
from_images: Profile = srop_onnx.analyze("model.onnx", [Image.open("a.png")], example=np.zeros((1, 3, 8, 8)))
from_list: Profile = srop_onnx.analyze("model.onnx", "@val.txt")
srop_onnx.plot.save_figure(srop_onnx.plot.depth([profile]), "depth.png")
png: bytes = srop_onnx.plot.figure_bytes(srop_onnx.plot.plot([profile], kind="box"))
csv_text: str = profile.to_csv()
layer4 = profile.layer("layer4")
table: str = result.table()
summary: str = result.summary()
again: Sweep = Sweep.load("sweep.json")
bins = srop_onnx.rolloff_bins(np.zeros((2, 8, 8)))
count: int = srop_onnx.num_bins(8)
one_d = srop_onnx.srop1d(np.zeros((2, 64)))
import onnx
twin_model: onnx.ModelProto = srop_onnx.randomize(onnx.load("model.onnx"), seed=1)
taps, skipped = srop_onnx.find_taps(onnx.load("model.onnx"))
reveal_type(srop_onnx.analyze)
reveal_type(result.to_dataframe())
reveal_type(comp.to_dataframe())
reveal_type(profile.to_dataframe(per="sample"))
reveal_type(sw.to_dataframe())
reveal_type(srop_onnx.spreadsheet_safe(profile.to_dataframe()))
reveal_type(srop_onnx.plot.depth([profile]))
reveal_type(srop_onnx.plot.depth(["golden.json", profile]))
reveal_type(srop_onnx.plot.track("track/"))
reveal_type(srop_onnx.plot.box([profile]))
reveal_type(srop_onnx.plot.kde([profile]))
reveal_type(srop_onnx.plot.kernels([profile]))
reveal_type(srop_onnx.plot.sweep([sw]))
reveal_type(srop_onnx.plot.sweep_kde(sw))
reveal_type(srop_onnx.srop(np.zeros((2, 8, 8))))
reveal_type(profile.settings)
reveal_type(verdict)
reveal_type(result.verdict())
'''


@pytest.mark.slow
def test_mypy_strict_is_clean_on_a_user_script(tmp_path):
    """A user's script that calls the public API type-checks under ``mypy --strict``: the package
    ships ``py.typed`` and ``analyze`` returns a ``Profile``, not ``Any``. Errors inside srop-onnx
    are silenced as mypy does for any installed package."""
    pytest.importorskip("mypy")
    (tmp_path / "user.py").write_text(USER_SCRIPT)
    (tmp_path / "mypy.ini").write_text("[mypy]\nstrict = True\n\n[mypy-srop_onnx.*]\nignore_errors = True\n")
    res = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "mypy.ini", "--no-incremental",
                          "--python-executable", sys.executable, "user.py"], cwd=tmp_path, capture_output=True,
                         text=True, env={"MYPYPATH": str(REPO), "PATH": "", "HOME": str(tmp_path)})
    assert "Success" in res.stdout or "error" not in res.stdout, res.stdout + res.stderr
    assert re.search(r'Revealed type is "def \(.*\) -> srop_onnx\.results\.profile\.Profile"', res.stdout), res.stdout
    revealed = re.findall(r'Revealed type is "([^"]+)"', res.stdout)
    assert "Any" not in revealed, res.stdout  # issue 30: no public call reveals Any
    assert revealed.count("pandas.core.frame.DataFrame") == 5 and revealed.count("matplotlib.figure.Figure") == 8
    assert revealed[-4:] == ["numpy.ndarray[builtins.tuple[Any, ...], numpy.dtype[numpy.float64]]",
                             "builtins.dict[builtins.str, Any]", "builtins.dict[builtins.str, Any]", "builtins.str"] \
        or all(r != "Any" for r in revealed[-4:]), revealed


def test_the_notebook_example_runs(tmp_path):
    """examples/notebook.py: analyze -> DataFrame -> plot -> check, as a user writes it."""
    res = subprocess.run([sys.executable, str(REPO / "examples" / "notebook.py"), str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "PASS: 8 layer(s)" in res.stdout and "FAILED:" in res.stdout
    assert (tmp_path / "depth.png").read_bytes()[:4] == b"\x89PNG"


def test_docs_name_no_path_outside_the_repository():
    texts = {p: p.read_text(encoding="utf-8") for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
                                                       *sorted((REPO / "srop_onnx").glob("*.py"))]}
    for path, text in texts.items():
        assert "../shared" not in text and "SPEC.md" not in text, path
        assert not re.search(r"\bSPEC \d", text), (path, re.search(r".{40}\bSPEC \d.{20}", text))
    for link in re.findall(r"\]\((docs/[^)#]+)", texts[REPO / "README.md"]):
        assert (REPO / link).exists(), link


def test_every_docs_link_resolves():
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / link).exists(), (page.name, link)


@pytest.mark.slow
def test_the_sdist_can_run_its_own_tests(tmp_path):
    """The sdist carries what its tests need (conftest, the reference, fixtures, the example model,
    the docs they read): unpacked, the suite collects without an error."""
    pytest.importorskip("build")
    import tarfile

    res = subprocess.run([sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(tmp_path),
                          str(REPO)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    sdist = next(tmp_path.glob("srop_onnx-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        tar.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    for needed in ("tests/conftest.py", "tests/reference.py", "tests/adversarial.py", "tests/models/make_models.py",
                   "tests/models/keras_conv1d.onnx", "models/example.onnx", "models/images/disk_0.png",
                   "docs/method.md", "examples/notebook.py", "LICENSE", "CHANGELOG.md",
                   "srop_onnx/schemas/sweep.schema.json", "srop_onnx/py.typed"):
        assert needed in names, needed
    root = next(p for p in tmp_path.iterdir() if p.is_dir())
    res = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"], cwd=root,
                         capture_output=True, text=True)
    assert res.returncode == 0 and "error" not in res.stdout.lower().split("collected")[-1], res.stdout[-2000:]


def test_every_public_name_the_docs_show_imports_from_where_the_docs_say():
    """Issue 27: the tree moved under the users' feet; every ``srop_onnx.X[.Y]`` named in the README
    and docs/ (``srop_onnx.plot.depth``, ``srop_onnx.Profile.load``...) still resolves, every name of
    ``__all__`` and of ``srop_onnx.plot.__all__`` imports with ``from ... import``, and so do the
    entry points (``srop_onnx.cli:main``, ``srop_onnx.pytest_plugin``, ``python -m srop_onnx``)."""
    import importlib
    import importlib.util
    import re

    import srop_onnx

    texts = [(REPO / "README.md").read_text()] + [p.read_text() for p in sorted((REPO / "docs").glob("*.md"))]
    named = {m for t in texts for m in re.findall(r"srop_onnx(?:\.[A-Za-z_]\w*)+", t)}
    assert "srop_onnx.plot.depth" in named and "srop_onnx.analyze" in named  # the scan itself works
    for dotted in sorted(named):
        parts = dotted.split(".")
        obj, i = importlib.import_module("srop_onnx"), 1
        while i < len(parts):
            try:
                obj = getattr(obj, parts[i])
            except AttributeError:
                try:
                    obj = importlib.import_module(".".join(parts[: i + 1]))
                except ModuleNotFoundError as exc:  # an integration whose framework is not installed here
                    frameworks = {"keras", "lightning", "pytorch_lightning", "torch", "tensorflow", "transformers",
                                  "mlflow", "wandb"}
                    assert (exc.name or "").split(".")[0] in frameworks, dotted
                    assert importlib.util.find_spec(".".join(parts[: i + 1])) is not None, dotted
                    break
                except srop_onnx.UsageError as exc:  # or its one-line refusal, naming the extra that brings it
                    assert "pip install 'srop-onnx[" in str(exc) and ".integrations." in dotted, (dotted, exc)
                    assert importlib.util.find_spec(".".join(parts[: i + 1])) is not None, dotted
                    break
            i += 1
        assert obj is not None, dotted
    code = "; ".join(f"from srop_onnx import {n}" for n in srop_onnx.__all__)
    code += "; " + "; ".join(f"from srop_onnx.plot import {n}" for n in srop_onnx.plot.__all__)
    code += "; from srop_onnx.cli import main; import srop_onnx.pytest_plugin, srop_onnx.__main__; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr
