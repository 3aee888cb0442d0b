"""Adversarial catalogue (issues 14 and 23): bad inputs and injected faults, each run through the CLI
(issue 23's families - hostile models, numbers at the edges of every option, sweeps, what the user
owns, signals, memory limits - are in ``adversarial_more.py``).

Every case builds what it needs in a fresh folder, runs one ``srop-onnx`` command in-process and
checks what a user is promised: the exit code (2 for a refusal, 0 when a folder run skips a bad file
and goes on, never 1 - the code for drift - nor a traceback), exactly one ``error:`` line for a
refusal, nothing the user owns changed (model, inputs, goldens, profiles: by content), no temporary
file left behind, and the case's own promise (a file skipped and listed, a report written, ...).

    python tests/adversarial.py        # prints "N bad inputs tried, N handled; F faults injected, ..."

``tests/test_adversarial.py`` runs every case as a test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import struct
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "models"))
REPO = HERE.parent
EXAMPLE = REPO / "models" / "example.onnx"
IMAGES = REPO / "models" / "images"


@dataclass
class Case:
    """One command and what it must do. ``check(ws, result)`` returns None when the promise held,
    else what went wrong; ``patch`` is a context manager factory (a fault) around the command."""

    name: str
    kind: str  # "input" or "fault"
    args: Callable[["Workspace"], list]
    code: int = 2
    check: Callable | None = None
    patch: Callable | None = None
    env: dict = field(default_factory=dict)
    #: how the command runs: None in-process (click's runner); else ``runner(ws, args)`` returning an
    #: object with ``exit_code``, ``output`` and ``exception`` (a subprocess: signals, memory limits)
    runner: Callable | None = None
    #: standard error is closed for this case: the refusal has nowhere to go, the exit code says it
    quiet: bool = False


class Workspace:
    """A scratch folder with a copy of the shipped model, its images, a profile and a golden."""

    def __init__(self, root: Path):
        self.root = root
        self.model = root / "model.onnx"
        shutil.copy(EXAMPLE, self.model)
        self.images = root / "images"
        shutil.copytree(IMAGES, self.images)
        self.npy = root / "batch.npy"
        np.save(self.npy, np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))
        self._profiles: dict[str, Path] = {}

    def path(self, name: str) -> Path:
        return self.root / name

    def profile(self, name: str = "golden.json", *extra) -> Path:
        """A real profile of the model over the images (made once per name)."""
        if name not in self._profiles:
            res = invoke(["analyze", self.model, self.images, "-q", "--json", self.root / name, *extra])
            assert res.exit_code == 0, res.output
            self._profiles[name] = self.root / name
        return self._profiles[name]

    def owned(self) -> dict[str, str]:
        """Content digests of everything the user owns (model, inputs, profiles)."""
        out = {}
        import re

        ours = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")  # a temporary srop-onnx writes: never the user's
        for p in sorted(self.root.rglob("*")):
            rel = p.relative_to(self.root)
            if p.is_file() and not p.is_symlink() and not rel.parts[0].startswith("out") and not ours.fullmatch(p.name):
                out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
        return out


def invoke(args: list, env: dict | None = None):
    from click.testing import CliRunner

    from srop_onnx.cli import main

    return CliRunner().invoke(main, [str(a) for a in args], env=env)


# -- helpers that make hostile files -------------------------------------------------------
def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width x height`` pixels (a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
                     + chunk(b"IEND", b""))
    return path


def thin_png(path: Path, width: int = 400_000) -> Path:
    from PIL import Image

    Image.new("L", (width, 1), 128).save(path)
    return path


def npy_claiming(path: Path, rows: int) -> Path:
    """A .npy whose header claims ``rows`` samples of 3 x 64 x 64 but holds 16 bytes."""
    header = {"descr": "<f4", "fortran_order": False, "shape": (rows, 3, 64, 64)}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\x00" * 16)
    return path


def npz_claiming(path: Path, rows: int) -> Path:
    import zipfile

    inner = tempfile.NamedTemporaryFile(suffix=".npy", delete=False)
    inner.close()
    npy_claiming(Path(inner.name), rows)
    with zipfile.ZipFile(path, "w") as z:
        z.write(inner.name, "x.npy")
    os.unlink(inner.name)
    return path


def folder_with(ws: Workspace, name: str, make: Callable[[Path], object]) -> Path:
    """The shipped images plus one hostile entry made by ``make(folder)``."""
    d = ws.path(name)
    shutil.copytree(ws.images, d)
    make(d)
    return d


def renamed_model(ws: Workspace, name: str, node_name: str) -> Path:
    import onnx

    m = onnx.load(str(ws.model))
    conv = next(n for n in m.graph.node if n.op_type == "Conv")
    conv.name = node_name
    for n in m.graph.node:  # the name must win over the module metadata and the weight's name
        del n.metadata_props[:]
    path = ws.path(name)
    onnx.save(m, str(path))
    return path


def edited_profile(ws: Workspace, name: str, edit: Callable[[dict], object]) -> Path:
    d = json.loads(ws.profile().read_text())
    edit(d)
    path = ws.path(name)
    path.write_text(json.dumps(d))
    return path


# -- promises ------------------------------------------------------------------------------
def skipped_in(profile_name: str, needle: str):
    def check(ws: Workspace, res) -> str | None:
        d = json.loads(ws.path(profile_name).read_text())
        reasons = [s["reason"] for s in d["inputs"]["skipped"]]
        if d["inputs"]["analyzed"] != 8 or not any(needle in r for r in reasons):
            return f"expected 8 analysed and a skip mentioning {needle!r}, got {d['inputs']['analyzed']} and {reasons}"
        return None
    return check


def output_has(text: str, absent: bool = False):
    def check(ws: Workspace, res) -> str | None:
        found = text in res.output
        return None if found != absent else f"{'unexpected' if absent else 'missing'} {text!r} in output"
    return check


def lines_never_start_with(prefix: str):
    def check(ws: Workspace, res) -> str | None:
        bad = [ln for ln in res.output.splitlines() if ln.lstrip().startswith(prefix)]
        return f"lines start with {prefix!r}: {bad[:2]}" if bad else None
    return check


def all_of(*checks):
    def check(ws, res):
        for c in checks:
            why = c(ws, res)
            if why:
                return why
        return None
    return check


def _profile_edits() -> list[tuple[str, Callable[[dict], object]]]:
    def layer0(d):
        return d["layers"][0]

    return [
        ("settings.kappa is a script tag", lambda d: d["settings"].__setitem__("kappa", "<script>alert(1)</script>")),
        ("a huge count", lambda d: layer0(d).__setitem__("histogram", [10**30] + layer0(d)["histogram"][1:])),
        ("a negative count", lambda d: layer0(d).__setitem__("dead", -5)),
        ("a non-numeric version", lambda d: d.__setitem__("version", "one")),
        ("an empty layer list", lambda d: d.__setitem__("layers", [])),
        ("a null layer name", lambda d: layer0(d).__setitem__("name", None)),
        ("a histogram of the wrong length", lambda d: layer0(d).__setitem__("histogram", [1, 2])),
        ("one flipped count", lambda d: layer0(d)["histogram"].__setitem__(1, layer0(d)["histogram"][1] + 1)),
        ("a string where a count goes", lambda d: layer0(d)["kernel_count"].__setitem__(0, "7")),
        ("no layers key", lambda d: d.pop("layers")),
    ]


def _bad_profile_cases() -> list[Case]:
    cases = []
    for what, edit in _profile_edits():
        for cmd in ("check", "compare", "report", "plot", "merge"):
            def args(ws, what=what, edit=edit, cmd=cmd):
                bad = edited_profile(ws, f"bad-{abs(hash(what))}.json", edit)
                good = ws.profile()
                return {"check": ["check", bad, "--against", good], "compare": ["compare", good, bad],
                        "report": ["report", bad, "-o", ws.path("out.html")],
                        "plot": ["plot", bad, "-o", ws.path("out.png")],
                        "merge": ["merge", bad, "-o", ws.path("out.json")]}[cmd]
            cases.append(Case(f"{cmd}: an edited profile with {what}", "input", args))
    for what, content in (("non-UTF-8 bytes", b"{\"format\": \"srop-onnx-profile\", \"x\": \"\xff\xfe\"}"),
                          ("deep nesting", b"[" * 100_000 + b"]" * 100_000), ("not JSON", b"{")):
        def args(ws, content=content, what=what):
            bad = ws.path(f"raw-{abs(hash(what))}.json")
            bad.write_bytes(content)
            return ["check", bad, "--against", ws.profile()]
        cases.append(Case(f"check: a profile file of {what}", "input", args))
    return cases


def _output_cases() -> list[Case]:
    return [
        Case("--json names the model", "input", lambda ws: ["analyze", ws.model, ws.images, "--json", ws.model]),
        Case("--csv names the model", "input", lambda ws: ["analyze", ws.model, ws.images, "--csv", ws.model]),
        Case("--report names the model", "input", lambda ws: ["analyze", ws.model, ws.images, "--report", ws.model]),
        Case("--kernels names the model", "input", lambda ws: ["analyze", ws.model, ws.images, "--kernels", ws.model]),
        Case("--json names an input .npy", "input", lambda ws: ["analyze", ws.model, ws.npy, "--json", ws.npy]),
        Case("--json names an image inside the input folder", "input",
             lambda ws: ["analyze", ws.model, ws.images, "--json", ws.images / "disk_0.png"]),
        Case("--junit names the golden", "input",
             lambda ws: ["analyze", ws.model, ws.images, "--check", ws.profile(), "--junit", ws.profile()]),
        Case("--json names the golden", "input",
             lambda ws: ["analyze", ws.model, ws.images, "--check", ws.profile(), "--json", ws.profile()]),
        Case("--json and --csv name the same file", "input",
             lambda ws: ["analyze", ws.model, ws.images, "--json", ws.path("out.x"), "--csv", ws.path("out.x")]),
        Case("--checkpoint names the model", "input",
             lambda ws: ["analyze", ws.model, ws.images, "--checkpoint", ws.model]),
        Case("a symbolic link to the golden as --json", "input", _symlinked_golden),
        Case("merge -o names one of its parts", "input", lambda ws: ["merge", ws.profile(), "-o", ws.profile()]),
        Case("plot -o names its profile", "input", lambda ws: ["plot", ws.profile(), "-o", ws.profile()]),
        Case("report -o names its profile", "input", lambda ws: ["report", ws.profile(), "-o", ws.profile()]),
        Case("check --junit names the profile", "input",
             lambda ws: ["check", ws.profile(), "--against", ws.profile("g2.json"), "--junit", ws.profile()]),
        Case("randomize -o names the model", "input", lambda ws: ["randomize", ws.model, "-o", ws.model]),
        Case("sweep -o names the model", "input",
             lambda ws: ["sweep", ws.model, ws.images, "--noise", "gaussian", "--levels", "0,1", "-o", ws.model]),
        Case("an output whose parent is a file", "input",
             lambda ws: ["analyze", ws.model, ws.images, "-q", "--json", ws.npy / "out.json"]),
        Case("an output that is a folder", "input",
             lambda ws: ["analyze", ws.model, ws.images, "-q", "--json", ws.images]),
        Case("--kernels - (binary to stdout)", "input",
             lambda ws: ["analyze", ws.model, ws.images, "-q", "--kernels", "-"]),
    ]


def _symlinked_golden(ws: Workspace) -> list:
    link = ws.path("out-link.json")
    link.symlink_to(ws.profile())
    return ["analyze", ws.model, ws.images, "-q", "--check", ws.profile(), "--json", link]


def _hostile_input_cases() -> list[Case]:
    def folder_case(name, make, needle):
        return Case(f"a folder run with {name}", "input",
                    lambda ws: ["analyze", ws.model, folder_with(ws, f"in-{abs(hash(name))}", make), "-q",
                                "--json", ws.path("out.json")],
                    code=0, check=skipped_in("out.json", needle))

    return [
        folder_case("a 69-byte PNG claiming 30000x30000", lambda d: png_header_only(d / "bomb.png", 30000, 30000),
                    "claims 900000000 pixels"),
        folder_case("a 400000x1 PNG", lambda d: thin_png(d / "thin.png"), "too elongated"),
        folder_case("a .npy claiming 10^10 samples", lambda d: npy_claiming(d / "huge.npy", 10**10), "huge.npy"),
        folder_case("a .npz claiming 10^10 samples", lambda d: npz_claiming(d / "huge.npz", 10**10), "claims shape"),
        folder_case("a complex .npy", lambda d: np.save(d / "c.npy", np.ones((1, 3, 64, 64), np.complex64)), "complex"),
        folder_case("a broken symbolic link", lambda d: (d / "gone.png").symlink_to(d / "nowhere.png"),
                    "broken symbolic link"),
        folder_case("a FIFO named like an image", lambda d: os.mkfifo(d / "pipe.png"), "not a regular file"),
        folder_case("a pickled object .npy", lambda d: np.save(d / "obj.npy", np.array([{"a": 1}], dtype=object),
                                                                 allow_pickle=True), "obj.npy"),
        folder_case("a truncated PNG", lambda d: (d / "cut.png").write_bytes((d / "disk_0.png").read_bytes()[:60]),
                    "cut.png"),
        Case("a folder run with an unreadable subfolder", "input",
             lambda ws: ["analyze", ws.model, folder_with(ws, "in-lock-test", lambda d: (d / "locked").mkdir()), "-q",
                         "--json", ws.path("out.json")],
             code=0, check=skipped_in("out.json", "cannot list this folder"), patch=_locked_scandir),
        Case("a FIFO given as the only input", "input", lambda ws: ["analyze", ws.model, _fifo(ws)]),
        Case("a complex .npy as the only input", "input", lambda ws: ["analyze", ws.model, _complex(ws)]),
        Case("a bomb PNG as the only input", "input",
             lambda ws: ["analyze", ws.model, png_header_only(ws.path("bomb.png"), 30000, 30000)]),
        Case("--std 0", "input", lambda ws: ["analyze", ws.model, ws.images, "--std", "0"]),
        Case("--std 0.5,0,0.5", "input", lambda ws: ["analyze", ws.model, ws.images, "--std", "0.5,0,0.5"]),
        Case("--mean nan", "input", lambda ws: ["analyze", ws.model, ws.images, "--mean", "nan"]),
        Case("a non-UTF-8 file name in a folder, with --report", "input", _non_utf8_report, code=0,
             check=lambda ws, res: None if ws.path("out.html").stat().st_size > 1000 else "no report"),
        Case("a non-UTF-8 file name in a skipped list, report command", "input", _non_utf8_report_cmd, code=0),
    ]


def _fifo(ws: Workspace) -> Path:
    p = ws.path("only.png")
    os.mkfifo(p)
    return p


def _complex(ws: Workspace) -> Path:
    p = ws.path("c.npy")
    np.save(p, np.ones((1, 3, 64, 64), np.complex64))
    return p


def _non_utf8_folder(ws: Workspace) -> Path:
    d = ws.path("in-bytes")
    shutil.copytree(ws.images, d)
    name = os.fsdecode(b"bad-\xff\xfe.png")
    (d / name).write_bytes(b"not a png")
    return d


def _non_utf8_report(ws: Workspace) -> list:
    return ["analyze", ws.model, _non_utf8_folder(ws), "--report", ws.path("out.html")]


def _non_utf8_report_cmd(ws: Workspace) -> list:
    res = invoke(["analyze", ws.model, _non_utf8_folder(ws), "-q", "--json", ws.path("with-skip.json")])
    assert res.exit_code == 0, res.output
    return ["report", ws.path("with-skip.json"), "-o", ws.path("out.html")]


@contextlib.contextmanager
def _locked_scandir():
    """As root, permissions do not stop reading: stand in with a subfolder that cannot be listed."""
    real = os.scandir

    def scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    os.scandir = scandir
    try:
        yield
    finally:
        os.scandir = real


NASTY = {"formula": '=HYPERLINK("http://x","y")', "command": "::error::pwned", "ansi": "evil\x1b[31mred\x07",
         "control": "a\x01b\x0bc", "markup": "[bold red]x[/bold red]"}


def _names_cases() -> list[Case]:
    def csv_safe(ws, res):
        text = ws.path("out.csv").read_text()
        return None if "'=HYPERLINK" in text and "\n=HYPERLINK" not in text else "formula cell not prefixed"

    def junit_parses(ws, res):
        import xml.etree.ElementTree as ET

        try:
            ET.parse(ws.path("out.xml"))
        except ET.ParseError as exc:
            return f"JUnit does not parse: {exc}"
        return None

    def no_escape_bytes(ws, res):
        return "raw ANSI/control characters in the output" if any(c in res.output for c in "\x1b\x01\x07\x0b") else None

    def golden_with(kind):
        def args(ws):
            model = renamed_model(ws, f"m-{kind}.onnx", NASTY[kind])
            golden = ws.path(f"g-{kind}.json")
            res = invoke(["analyze", model, ws.images, "-q", "--json", golden])
            assert res.exit_code == 0, res.output
            return model, golden
        return args

    cases = [
        Case("a layer named like a spreadsheet formula, --csv", "input",
             lambda ws: ["analyze", golden_with("formula")(ws)[0], ws.images, "-q", "--csv", ws.path("out.csv")],
             code=0, check=csv_safe),
        Case("a layer named with control characters, JUnit", "input",
             lambda ws: ["analyze", *_model_and_check(golden_with("control")(ws), ws)], code=0, check=junit_parses),
        Case("a layer named '::error::...' in the table under GitHub Actions", "input",
             lambda ws: ["analyze", *_model_and_check(golden_with("command")(ws), ws)], code=0,
             check=lines_never_start_with("::"), env={"GITHUB_ACTIONS": "true"}),
        Case("a layer named with ANSI escapes in the terminal table", "input",
             lambda ws: ["analyze", renamed_model(ws, "m-ansi.onnx", NASTY["ansi"]), ws.images], code=0,
             check=no_escape_bytes),
        Case("a layer named with rich markup in the terminal table", "input",
             lambda ws: ["analyze", renamed_model(ws, "m-markup.onnx", NASTY["markup"]), ws.images], code=0,
             check=output_has("[bold red]x")),
        Case("a layer named '::error::' in the layers listing", "input",
             lambda ws: ["layers", renamed_model(ws, "m-cmd.onnx", NASTY["command"])], code=0,
             check=lines_never_start_with("::")),
    ]
    return cases


def _model_and_check(model_golden, ws) -> list:
    model, golden = model_golden
    return [model, ws.images, "--check", golden, "--junit", ws.path("out.xml")]


def _ci_cases() -> list[Case]:
    def junit_error(ws, res):
        text = ws.path("out.xml").read_text()
        return None if "<error" in text and "kappa" in text else "no errored test case in the JUnit file"

    def summary_written(ws, res):
        text = ws.path("out-summary.md").read_text() if ws.path("out-summary.md").exists() else ""
        return None if "srop-onnx check: PASS" in text else "no job summary"

    def stable_classname(ws, res):
        text = ws.path("out.xml").read_text()
        return None if 'classname="srop-onnx"' in text and "model.onnx" not in text.split("classname")[1] else \
            "classname is not stable"

    return [
        Case("--check against a golden with other settings writes an errored JUnit case", "input",
             lambda ws: ["analyze", ws.model, ws.images, "-q", "--kappa", "0.9", "--check", ws.profile(),
                         "--junit", ws.path("out.xml")], check=junit_error),
        Case("a refused golden is annotated under GitHub Actions", "input",
             lambda ws: ["check", ws.profile("k9.json", "--kappa", "0.9"), "--against", ws.profile()],
             check=output_has("::error title=srop-onnx check refused::"), env={"GITHUB_ACTIONS": "true"}),
        Case("annotations only when GITHUB_ACTIONS is true", "input",
             lambda ws: ["check", ws.profile("k9.json", "--kappa", "0.9"), "--against", ws.profile()],
             check=lines_never_start_with("::"), env={"GITHUB_ACTIONS": "false"}),
        Case("a job summary where GITHUB_STEP_SUMMARY is set", "input",
             lambda ws: ["check", ws.profile(), "--against", ws.profile("g2.json")], code=0,
             check=summary_written, env={"GITHUB_STEP_SUMMARY": "{root}/out-summary.md"}),
        Case("a stable JUnit classname", "input",
             lambda ws: ["check", ws.profile(), "--against", ws.profile("g2.json"), "--junit", ws.path("out.xml")],
             code=0, check=stable_classname),
        Case("plain progress lines when stderr is not a terminal", "input",
             lambda ws: ["analyze", ws.model, ws.images], code=0, check=output_has("analysing: 8/8 inputs")),
        Case("-q still warns about skipped inputs", "input",
             lambda ws: ["analyze", ws.model, folder_with(ws, "in-q", lambda d: (d / "x.png").write_bytes(b"x")),
                         "-q"], code=0, check=output_has("warning: skipped")),
        Case("--json - writes the profile to standard output", "input",
             lambda ws: ["analyze", ws.model, ws.images, "--json", "-"], code=0,
             check=output_has('"format": "srop-onnx-profile"')),
    ]


# -- faults ----------------------------------------------------------------------------------
def _previous_intact(ws: Workspace, res) -> str | None:
    if ws.path("out.json").read_text() != "previous\n":
        return "the previous output was replaced"
    left = [p.name for p in ws.root.iterdir() if p.name.startswith(".out.json.")]
    return f"temporary files left: {left}" if left else None


def _with_previous(ws: Workspace) -> list:
    ws.path("out.json").write_text("previous\n")
    return ["analyze", ws.model, ws.images, "-q", "--json", ws.path("out.json")]


@contextlib.contextmanager
def _os_fails(name: str, errno_: int):
    import srop_onnx.files.writes as writes

    real = getattr(writes.os, name)

    def fail(*a, **k):
        raise OSError(errno_, os.strerror(errno_))

    setattr(writes.os, name, fail)
    try:
        yield
    finally:
        setattr(writes.os, name, real)


@contextlib.contextmanager
def _bug_in_reducer():
    import srop_onnx.run.reducer as reducer

    real = reducer.LayerReducer.reduce

    def broken(self, *a, **k):
        raise RuntimeError("a bug")

    reducer.LayerReducer.reduce = broken
    try:
        yield
    finally:
        reducer.LayerReducer.reduce = real


@contextlib.contextmanager
def _interrupt_after(calls: int):
    import srop_onnx.run.execution as execution

    real, seen = execution.feed, {"n": 0}

    def flaky(*a, **k):
        seen["n"] += 1
        if seen["n"] > calls:
            raise KeyboardInterrupt
        return real(*a, **k)

    execution.feed = flaky
    try:
        yield
    finally:
        execution.feed = real


def _checkpointed(ws: Workspace, name: str) -> Path:
    """A checkpoint of a run interrupted after two batches of 3."""
    ckpt = ws.path(name)
    with _interrupt_after(2):
        res = invoke(["analyze", ws.model, ws.images, "-q", "-b", "3", "--checkpoint", ckpt, "--checkpoint-every", "1"])
    assert res.exit_code == 130 and ckpt.exists(), res.output
    return ckpt


def _resume(ws: Workspace, ckpt: Path) -> list:
    return ["analyze", ws.model, ws.images, "-q", "-b", "3", "--checkpoint", ckpt, "--json", ws.path("out.json")]


def _edited_checkpoint(ws: Workspace) -> list:
    ckpt = _checkpointed(ws, "c1.ckpt")
    d = json.loads(ckpt.read_text())
    d["position"][0] += 1
    ckpt.write_text(json.dumps(d))
    return _resume(ws, ckpt)


def _flipped_digit_checkpoint(ws: Workspace) -> list:
    ckpt = _checkpointed(ws, "c2.ckpt")
    text = ckpt.read_text()
    at = text.index('"histogram": [') + len('"histogram": [')
    digit = text[at]
    ckpt.write_text(text[:at] + ("1" if digit != "1" else "2") + text[at + 1:])
    return _resume(ws, ckpt)


def _truncated_checkpoint(ws: Workspace) -> list:
    ckpt = _checkpointed(ws, "c3.ckpt")
    ckpt.write_text(ckpt.read_text()[: len(ckpt.read_text()) // 2])
    return _resume(ws, ckpt)


def _input_changed_in_place(ws: Workspace) -> list:
    ckpt = _checkpointed(ws, "c4.ckpt")
    first = sorted(ws.images.glob("*.png"))[0]
    data = bytearray(first.read_bytes())
    data[-20] ^= 0xFF  # same size, other content
    first.write_bytes(bytes(data))
    os.utime(first, ns=(first.stat().st_atime_ns, first.stat().st_mtime_ns + 10**9))
    return _resume(ws, ckpt)


def _resumed_equals_fresh(ws: Workspace, res) -> str | None:
    fresh = invoke(["analyze", ws.model, ws.images, "-q", "-b", "3", "--json", ws.path("out-fresh.json")])
    a, b = (json.loads(ws.path(n).read_text()) for n in ("out.json", "out-fresh.json"))
    for d in (a, b):
        d.get("extra", {}).pop("run", None)
    return None if fresh.exit_code == 0 and a == b else "the resumed profile differs from an uninterrupted run"


def shard_parts(ws: Workspace) -> list[Path]:
    """The two shard profiles (``--shard 1/2``, ``2/2``) of the model over the images."""
    parts = []
    for i in (1, 2):
        p = ws.path(f"part{i}.json")
        res = invoke(["analyze", ws.model, ws.images, "-q", "--shard", f"{i}/2", "--json", p])
        assert res.exit_code == 0, res.output
        parts.append(p)
    return parts


def _merge_case(ws: Workspace, kind: str) -> list:
    parts = shard_parts(ws)
    if kind == "another input set":
        other = folder_with(ws, "in-other", lambda d: (d / "disk_0.png").unlink())
        res = invoke(["analyze", ws.model, other, "-q", "--shard", "2/2", "--json", parts[1]])
        assert res.exit_code == 0, res.output
    elif kind == "an edited duplicate":
        d = json.loads(parts[0].read_text())
        d["extra"]["shard"]["index"] = 2
        d["extra"]["shard"]["slice"] = [4, 8]
        parts[1].write_text(json.dumps(d))
    elif kind == "an empty shard":
        d = json.loads(parts[1].read_text())
        d["inputs"].update(analyzed=0, skipped=[], sources=[])
        for lay in d["layers"]:
            lay.update(histogram=[0] * len(lay["histogram"]), count=0, dead=0, nonfinite=0, per_sample_bin_sum=[],
                       per_sample_count=[], kernel_bin_sum=[0] * len(lay["kernel_bin_sum"]),
                       kernel_count=[0] * len(lay["kernel_count"]))
        parts[1].write_text(json.dumps(d))
    return ["merge", *parts, "-o", ws.path("out.json")]


def _fault_cases() -> list[Case]:
    return [
        Case("the disk fills while writing --json", "fault", _with_previous, check=_previous_intact,
             patch=lambda: _os_fails("fsync", 28)),
        Case("the rename over --json fails", "fault", _with_previous, check=_previous_intact,
             patch=lambda: _os_fails("replace", 5)),
        Case("--json to /dev/full (a device that is full)", "fault",
             lambda ws: ["analyze", ws.model, ws.images, "-q", "--json", "/dev/full"],
             check=lambda ws, res: None if Path("/dev/full").is_char_device() else "/dev/full was replaced"),
        Case("--csv to /dev/null (a device) is written through, not replaced", "fault",
             lambda ws: ["analyze", ws.model, ws.images, "-q", "--csv", "/dev/null"], code=0,
             check=lambda ws, res: None if Path("/dev/null").is_char_device() else "/dev/null was replaced"),
        Case("--json through a symbolic link keeps the link", "fault", _through_link, code=0,
             check=lambda ws, res: None if ws.path("out-link.json").is_symlink() and
             json.loads(ws.path("out-target.json").read_text())["format"] == "srop-onnx-profile"
             else "the link was replaced or its target not written"),
        Case("a bug inside the run exits 3, never 1", "fault", lambda ws: ["analyze", ws.model, ws.images, "-q"],
             code=3, check=output_has("srop-onnx --debug"), patch=_bug_in_reducer),
        Case("an interrupted run resumes to the same profile", "fault",
             lambda ws: _resume(ws, _checkpointed(ws, "out-c0.ckpt")), code=0, check=_resumed_equals_fresh),
        Case("an edited checkpoint position is refused", "fault", _edited_checkpoint),
        Case("a checkpoint with one flipped digit is refused", "fault", _flipped_digit_checkpoint),
        Case("a truncated checkpoint is refused", "fault", _truncated_checkpoint),
        Case("an input changed in place between interruption and resume", "fault", _input_changed_in_place),
        Case("merge: a shard of another input set", "fault", lambda ws: _merge_case(ws, "another input set")),
        Case("merge: an edited duplicate shard", "fault", lambda ws: _merge_case(ws, "an edited duplicate")),
        Case("merge: an empty shard", "fault", lambda ws: _merge_case(ws, "an empty shard")),
    ]


def _through_link(ws: Workspace) -> list:
    ws.path("out-target.json").write_text("{}")
    ws.path("out-link.json").symlink_to(ws.path("out-target.json"))
    return ["analyze", ws.model, ws.images, "-q", "--json", ws.path("out-link.json")]


def cases() -> list[Case]:
    from adversarial_more import more_cases  # issue 23's families (they use this module's helpers)
    from adversarial_round4 import round4_cases  # issue 31's
    from adversarial_round5 import round5_cases  # issue 40's

    return (_output_cases() + _hostile_input_cases() + _bad_profile_cases() + _names_cases() + _ci_cases()
            + _fault_cases() + more_cases() + round4_cases() + round5_cases())


# -- running one case ---------------------------------------------------------------------------
def run_case(case: Case, root: Path) -> str | None:
    """None when the case held every promise, else what broke."""
    ws = Workspace(root)
    args = case.args(ws)
    before = ws.owned()
    env = {k: v.replace("{root}", str(ws.root)) for k, v in case.env.items()}
    with (case.patch() if case.patch else contextlib.nullcontext()):
        res = case.runner(ws, args) if case.runner else invoke(args, env=env)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        return f"raised {type(res.exception).__name__}: {res.exception}"
    if res.exit_code != case.code:
        return f"exit code {res.exit_code}, expected {case.code}: {res.output[-400:]}"
    if "Traceback" in res.output:
        return "a traceback was printed"
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    if case.code in (2, 3, 5) and not case.quiet and len(errors) != 1:
        return f"expected one error line, got {errors or res.output[-300:]}"
    if case.code in (2, 3) and any(p.name.endswith(".tmp") for p in ws.root.rglob(".*")):
        return "a temporary file was left behind"
    after = ws.owned()
    changed = [k for k in before if before[k] != after.get(k)]
    if changed:
        return f"changed what the user owns: {changed}"
    return case.check(ws, res) if case.check else None


def main() -> int:
    results = {"input": [0, 0], "fault": [0, 0]}
    failures = []
    for case in cases():
        with tempfile.TemporaryDirectory() as tmp:
            why = run_case(case, Path(tmp))
        results[case.kind][0] += 1
        results[case.kind][1] += why is None
        if why:
            failures.append(f"  {case.name}: {why}")
    (n, ok), (f, fok) = results["input"], results["fault"]
    print(f"{n} bad inputs tried, {ok} handled; {f} faults injected, {fok} survived with nothing lost")
    print("\n".join(failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
