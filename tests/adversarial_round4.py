"""Adversarial catalogue, issue 31's families (round 4): text that a renderer interprets (mathtext,
Markdown, bidirectional controls, glyphs the plot font lacks), exporter metadata as an attack
surface, standard streams that are full or closed, files that are not files, very deep models, and
merges across versions and races. Each family holds the issue's example and variants of our own;
``adversarial.cases()`` adds them to the catalogue (the plugin's goldens are tested under pytester
in ``tests/faces/test_pytest_plugin.py``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from adversarial import Case, Workspace, all_of, invoke, output_has, renamed_model, shard_parts

POSIX = os.name == "posix"
MATH = ["$\\frac{}$", "$x^$", "$$", "a$b$c", "$\\sqrt{$", "$\\foo{bar}$ and $\\baz$"]
BIDI = ["evil\u202etxt.onnx", "a\u2066b\u2069c", "\u200fname\u200e", "x\u202dy\u202c"]


# -- 1. text that a renderer interprets -------------------------------------------------------------
def _named(ws: Workspace, name: str) -> Path:
    return renamed_model(ws, f"m{abs(hash(name))}.onnx", name)


def _profile_of(ws: Workspace, model: Path, out: str) -> Path:
    res = invoke(["analyze", model, ws.images, "-q", "--json", ws.path(out)])
    assert res.exit_code == 0, res.output
    return ws.path(out)


def _written(name: str, min_bytes: int = 1000):
    def check(ws, res):
        p = ws.path(name)
        return None if p.exists() and p.stat().st_size >= min_bytes else f"{name} was not written"
    return check


def _no_glyph_warnings(ws, res):
    bad = [ln for ln in res.output.splitlines() if "Glyph" in ln or "UserWarning" in ln]
    return f"glyph warnings: {bad[:2]}" if bad else None


def _no_raw_bidi(*files: str):
    def check(ws, res):
        texts = [res.output] + [ws.path(f).read_text("utf-8", "replace") for f in files if ws.path(f).exists()]
        raw = [c for t in texts for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f" if c in t]
        return f"raw bidirectional controls: {sorted(set(raw))!r}" if raw else None
    return check


def _summary_is_inert(ws, res):
    """The job summary's data are code spans: outside them no link, image, HTML or table break."""
    text = ws.path("out-summary.md").read_text("utf-8")
    text = text.replace("<details><summary>every layer</summary>", "").replace("</details>", "")  # our own fold
    outside = re.sub(r"(`+) .*? \1", "", text)
    for bad in ("](", "![", "<", "javascript:"):
        if bad in outside:
            return f"{bad!r} outside a code span in the job summary: {outside[:300]!r}"
    rows = [ln for ln in text.splitlines() if ln.startswith("| `")]
    return None if rows else "no failing-layer row in the job summary"


def _random_named(ws: Workspace, name: str) -> Path:
    """The randomized example (so it drifts) with its first convolution named ``name``."""
    import onnx

    from adversarial import REPO

    m = onnx.load(str(REPO / "models" / "example-random.onnx"))
    conv = next(n for n in m.graph.node if n.op_type == "Conv")
    conv.name = name
    for n in m.graph.node:
        del n.metadata_props[:]
    path = ws.path("random-named.onnx")
    onnx.save(m, str(path))
    return path


def _summary_case(name: str) -> Case:
    def args(ws, name=name):
        model = _random_named(ws, name)
        golden = _profile_of(ws, ws.model, "golden-s.json")
        return ["check", _profile_of(ws, model, "drift.json"), "--against", golden, "--tol", "0", "--match", "position"]
    return Case(f"job summary: a layer named {name!r} stays inert Markdown", "input", args, code=1,
                env={"GITHUB_STEP_SUMMARY": "{root}/out-summary.md", "GITHUB_ACTIONS": "true"},
                check=_summary_is_inert)


def _renderer_cases() -> list[Case]:
    cases = []
    for i, name in enumerate(MATH):
        cases.append(Case(f"mathtext: plot of a layer named {name!r}", "input",
                          lambda ws, name=name: ["plot", _profile_of(ws, _named(ws, name), "p.json"), "--kind",
                                                 "box", "-o", ws.path("out.png")], code=0, check=_written("out.png")))
        cases.append(Case(f"mathtext: --label {name!r}", "input",
                          lambda ws, name=name: ["plot", ws.profile(), "--label", name, "-o", ws.path("out.png")],
                          code=0, check=_written("out.png")))
    cases += [
        Case("mathtext: report of a layer named '$\\frac{}$'", "input",
             lambda ws: ["report", _profile_of(ws, _named(ws, "$\\frac{}$"), "p.json"), "-o", ws.path("out.html")],
             code=0, check=_written("out.html")),
        Case("mathtext: analyze --report of a model file named 'm$\\foo$.onnx'", "input", _dollar_file, code=0,
             check=all_of(_written("out.json", 100), _written("out.html"))),
        Case("mathtext: kde and kernels of a layer named '$x^$'", "input",
             lambda ws: ["plot", _profile_of(ws, _named(ws, "$x^$"), "p.json"), "--kind", "kde", "-o",
                         ws.path("out.png")], code=0, check=_written("out.png")),
        Case("glyphs: plot of CJK and emoji layer names, no warnings", "input",
             lambda ws: ["plot", _profile_of(ws, _named(ws, "卷积层😀"), "p.json"), "-o", ws.path("out.png")],
             code=0, check=all_of(_written("out.png"), _no_glyph_warnings)),
    ]
    for name in BIDI:
        cases.append(Case(f"bidi: layers table of a layer named {name!r}", "input",
                          lambda ws, name=name: ["layers", _named(ws, name)], code=0, check=_no_raw_bidi()))
        cases.append(Case(f"bidi: HTML report of a layer named {name!r}", "input",
                          lambda ws, name=name: ["report", _profile_of(ws, _named(ws, name), "p.json"), "-o",
                                                 ws.path("out.html")], code=0, check=_no_raw_bidi("out.html")))
    for name in ("![x](https://attacker.example/a.png)", "[click](javascript:alert(1))", "<img src=x>",
                 "a|b`c``d", "**bold** _it_ https://example.com"):
        cases.append(_summary_case(name))
    return cases


def _dollar_file(ws: Workspace) -> list:
    model = ws.path("m$\\foo$.onnx")
    model.write_bytes(ws.model.read_bytes())
    return ["analyze", model, ws.images, "-q", "--json", ws.path("out.json"), "--report", ws.path("out.html")]


# -- 2. exporter metadata -------------------------------------------------------------------------
def _meta_model(ws: Workspace, value: str) -> Path:
    import onnx

    m = onnx.load(str(ws.model))
    for n in m.graph.node:
        if n.op_type == "Conv":
            kept = [(e.key, e.value) for e in n.metadata_props if e.key != "pkg.torch.onnx.name_scopes"]
            del n.metadata_props[:]
            for k, v in kept:
                e = n.metadata_props.add()
                e.key, e.value = k, v
            entry = n.metadata_props.add()
            entry.key, entry.value = "pkg.torch.onnx.name_scopes", value
    path = ws.path(f"meta{abs(hash(value)) % 10**8}.onnx")
    onnx.save(m, str(path))
    return path


def _metadata_cases() -> list[Case]:
    values = {"a 200 kB name scope": repr(["", "x" * 200_000, "Conv"]),
              "100,000 nested brackets": "[" * 100_000 + "]" * 100_000,
              "150 nested brackets": "[" * 150 + "]" * 150,
              "a 120 kB list of scopes": repr(["layer%d" % i for i in range(15_000)]),
              "a 200 kB list of 40,000 scopes": repr(["m%d" % i for i in range(40_000)]),
              "a dict, not a list": "{'a': 1}",
              "a NUL byte and a number": "['a\x00b', 3, None]",
              "an expression": "__import__('os').system('true')"}
    cases = []
    for what, value in values.items():
        noted = None if "NUL" in what else output_has("name-scope metadata")  # a readable list is read
        cases.append(Case(f"metadata: layers with {what} in name_scopes", "input",
                          lambda ws, value=value: ["layers", _meta_model(ws, value)], code=0, check=noted))
        cases.append(Case(f"metadata: analyze with {what} in name_scopes", "input",
                          lambda ws, value=value: ["analyze", _meta_model(ws, value), ws.images, "-q", "--json",
                                                   ws.path("out.json")], code=0, check=_written("out.json", 100)))
    return cases


# -- 4. standard streams ----------------------------------------------------------------------------
def stdio(stdout=None, stderr=None, timeout: float = 120):
    """A runner: ``python -m srop_onnx ARGS`` with standard output (and error) sent to a path
    (``/dev/full``) or closed (``"closed"``); the exit code and what standard error said."""
    def run(ws: Workspace, args: list):
        cmd = [sys.executable, "-m", "srop_onnx", *map(str, args)]
        err_path = ws.path("out-stderr.txt")
        with open(err_path, "w") as err_file:
            out_arg = None if stdout == "closed" else open(stdout, "w") if stdout else subprocess.DEVNULL
            err_arg = None if stderr == "closed" else open(stderr, "w") if stderr else err_file
            closing = {1} if stdout == "closed" else set()
            closing |= {2} if stderr == "closed" else set()

            def pre():
                for fd in closing:
                    os.close(fd)
            try:
                proc = subprocess.run(cmd, cwd=ws.root, stdout=out_arg, stderr=err_arg, timeout=timeout,
                                      preexec_fn=pre if closing else None)
            except subprocess.TimeoutExpired:
                return SimpleNamespace(exit_code=-1, output="hung", exception=None)
            finally:
                for f in (out_arg, err_arg):
                    if hasattr(f, "close") and f not in (err_file,):
                        f.close()
        return SimpleNamespace(exit_code=proc.returncode, output=err_path.read_text("utf-8", "replace"),
                               exception=None)
    return run


def _stream_cases() -> list[Case]:
    if not POSIX:
        return []
    junit = _written("out-junit.xml", 50)
    return [
        Case("stdout: layers > /dev/full", "fault", lambda ws: ["layers", ws.model], runner=stdio("/dev/full"),
             check=output_has("standard output could not be written")),
        Case("stdout: analyze > /dev/full still writes --json", "fault",
             lambda ws: ["analyze", ws.model, ws.images, "--json", ws.path("out.json")], runner=stdio("/dev/full"),
             check=_written("out.json", 100)),
        Case("stdout: check >&- (closed) still writes --junit", "fault",
             lambda ws: ["check", ws.profile(), "--against", ws.profile(), "--junit", ws.path("out-junit.xml")],
             runner=stdio("closed"), check=junit),
        Case("stdout: check >&- 2>&- (both closed) still writes --junit", "fault",
             lambda ws: ["check", ws.profile(), "--against", ws.profile(), "--junit", ws.path("out-junit.xml")],
             runner=stdio("closed", "closed"), check=junit, quiet=True),
        Case("stdout: analyze >&- still writes --json", "fault",
             lambda ws: ["analyze", ws.model, ws.images, "--json", ws.path("out.json")], runner=stdio("closed"),
             check=_written("out.json", 100)),
        Case("stdout: report > /dev/full 2> /dev/full (it writes only its file)", "fault",
             lambda ws: ["report", ws.profile(), "-o", ws.path("out.html")], runner=stdio("/dev/full", "/dev/full"),
             code=0, check=_written("out.html")),
        Case("stdout: check with drift > /dev/full keeps exit 1", "fault",
             lambda ws: ["check", ws.profile(), "--against", _drifted(ws), "--tol", "0"], code=1,
             runner=stdio("/dev/full")),
    ]


def _drifted(ws: Workspace) -> Path:
    from adversarial import REPO

    res = invoke(["analyze", REPO / "models" / "example-random.onnx", ws.images, "-q", "--json", ws.path("random.json")])
    assert res.exit_code == 0, res.output
    return ws.path("random.json")


# -- 5. files that are not files ---------------------------------------------------------------------
def _sparse(ws: Workspace, name: str, size: int) -> Path:
    p = ws.path(name)
    with open(p, "wb") as f:
        f.truncate(size)
    return p


def _fifo(ws: Workspace, name: str) -> Path:
    p = ws.path(name)
    os.mkfifo(p)
    return p


def _file_cases() -> list[Case]:
    cases = [
        Case("files: a folder as the golden", "input", lambda ws: ["check", ws.profile(), "--against", ws.images]),
        Case("files: a 1.5 GiB sparse profile", "input",
             lambda ws: ["report", _sparse(ws, "huge.json", 3 << 29), "-o", ws.path("out.html")]),
        Case("files: a 3 GiB sparse model (layers)", "input", lambda ws: ["layers", _sparse(ws, "big.onnx", 3 << 30)]),
        Case("files: a 3 GiB sparse model (analyze)", "input",
             lambda ws: ["analyze", _sparse(ws, "big.onnx", 3 << 30), ws.images]),
        Case("files: a 3 GiB sparse model (randomize)", "input",
             lambda ws: ["randomize", _sparse(ws, "big.onnx", 3 << 30), "-o", ws.path("out.onnx")]),
    ]
    if POSIX:
        cases += [
            Case("files: check --against /dev/zero", "input", lambda ws: ["check", ws.profile(), "--against", "/dev/zero"],
                 code=5, check=output_has("the golden profile cannot be used")),  # an unreadable golden: exit 5
            Case("files: report /dev/zero", "input", lambda ws: ["report", "/dev/zero", "-o", ws.path("out.html")]),
            Case("files: merge /dev/urandom", "input", lambda ws: ["merge", "/dev/urandom", "-o", ws.path("out.json")]),
            Case("files: plot of a FIFO", "input", lambda ws: ["plot", _fifo(ws, "p.json"), "-o", ws.path("out.png")]),
            Case("files: compare a FIFO", "input", lambda ws: ["compare", ws.profile(), _fifo(ws, "q.json")]),
            Case("files: the model is /dev/zero", "input", lambda ws: ["layers", "/dev/zero"]),
            Case("files: the model is a FIFO", "input", lambda ws: ["analyze", _fifo(ws, "m.onnx"), ws.images]),
            Case("files: a link to /dev/zero as the golden", "input", _linked_zero, code=5,
                 check=output_has("the golden profile cannot be used")),
        ]
    return cases


def _linked_zero(ws: Workspace) -> list:
    ws.path("g-link.json").symlink_to("/dev/zero")
    return ["check", ws.profile(), "--against", ws.path("g-link.json")]


# -- 6. very deep models -----------------------------------------------------------------------------
def _deep_report(ws: Workspace) -> list:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from deep_chain import deep_chain

    model = deep_chain(3000, ws.path("deep.onnx"))
    np.save(ws.path("x.npy"), np.random.default_rng(1).standard_normal((2, 1, 16, 16)).astype(np.float32))
    res = invoke(["analyze", model, ws.path("x.npy"), "-q", "--json", ws.path("deep.json")])
    assert res.exit_code == 0, res.output
    return ["report", ws.path("deep.json"), "-o", ws.path("out.html")]


def _bounded_report(ws, res):
    html = ws.path("out.html")
    if not html.exists():
        return "no report"
    size = html.stat().st_size
    if size > 4_000_000:
        return f"the report of 3,000 layers is {size / 1e6:.1f} MB"
    import base64
    import io

    from PIL import Image

    for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html.read_text()):
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            if max(im.size) > 2200:
                return f"a figure of {im.size[0]} x {im.size[1]} px"
    return None


def _scale_cases() -> list[Case]:
    return [Case("scale: report of a 3,000-layer profile stays bounded", "input", _deep_report, code=0,
                 check=_bounded_report)]


# -- 7. merges across versions, temporaries of a live run ---------------------------------------------
def _other_version(ws: Workspace, version: str) -> list:
    parts = shard_parts(ws)
    d = json.loads(parts[1].read_text())
    d["tool"]["version"] = version
    parts[1].write_text(json.dumps(d))
    return ["merge", *parts, "-o", ws.path("out.json")]


def _live_temporary(ws: Workspace) -> list:
    """Another run is writing the checkpoint right now: its temporary is locked and must survive."""
    import fcntl

    ckpt = ws.path("out-run.ckpt")
    res = invoke(["analyze", ws.model, ws.images, "-q", "--checkpoint", ckpt, "--json", ws.path("out1.json")])
    assert res.exit_code == 0, res.output
    live = ws.path(".out-run.ckpt.livetmp1.tmp")
    live.write_text("{}")
    fd = os.open(live, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    ws._held = fd  # kept open (locked) for the command
    stale = ws.path(".out-run.ckpt.stale002.tmp")
    stale.write_text("{}")
    return ["analyze", ws.model, ws.images, "-q", "--checkpoint", ckpt, "--json", ws.path("out2.json")]


def _live_kept(ws, res):
    live, stale = ws.path(".out-run.ckpt.livetmp1.tmp"), ws.path(".out-run.ckpt.stale002.tmp")
    os.close(ws._held)
    if not live.exists():
        return "the temporary of a live run was removed"
    live.unlink()
    return "a stale temporary was kept" if stale.exists() else None


def _merge_cases() -> list[Case]:
    cases = [Case(f"merge: a shard written by srop-onnx {v}", "input", lambda ws, v=v: _other_version(ws, v),
                  check=output_has("the shards of one run come from one version"))
             for v in ("0.0.1", "99.0.0", "")]
    if POSIX:
        cases.append(Case("checkpoint: the temporary of a live run beside it is kept, a stale one removed", "fault",
                          _live_temporary, code=0, check=_live_kept))
    return cases


def round4_cases() -> list[Case]:
    return _renderer_cases() + _metadata_cases() + _stream_cases() + _file_cases() + _scale_cases() + _merge_cases()


__all__ = ["round4_cases", "stdio"]
