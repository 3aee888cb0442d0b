"""Adversarial catalogue, issue 23's families: hostile models, numbers at the edges of every numeric
option, sweeps that must not lose or overwrite results, what the user owns (modes, long names,
links, devices, escapes), signals and interrupted state, memory limits. Each family holds the
issue's examples and variants of our own; ``adversarial.cases()`` adds them to the catalogue.

Cases that need a real process (a signal, ``ulimit -v``) run ``python -m srop_onnx`` with a
timeout, so a hang fails the case instead of the test run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from adversarial import IMAGES, Case, Workspace, all_of, invoke, output_has

POSIX = os.name == "posix"


# -- running in a real process ---------------------------------------------------------------------
def process(timeout: float = 120, limit_mb: int | None = None, kill_when: str | None = None,
            sig: int = getattr(signal, "SIGTERM", 15)):
    """A runner: ``python -m srop_onnx ARGS`` in a subprocess (under ``ulimit -v LIMIT`` when given;
    sent ``sig`` as soon as the file ``kill_when`` appears in the workspace: mid-run, after a
    checkpoint), with a timeout: a hang is a failed case."""
    def run(ws: Workspace, args: list):
        cmd = [sys.executable, "-m", "srop_onnx", *map(str, args)]
        pre = None
        if limit_mb is not None:
            import resource

            def pre():
                resource.setrlimit(resource.RLIMIT_AS, (limit_mb * 2**20, limit_mb * 2**20))
        proc = subprocess.Popen(cmd, cwd=ws.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                preexec_fn=pre)
        if kill_when is not None:
            deadline = time.monotonic() + timeout
            while not (ws.root / kill_when).exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            proc.send_signal(sig)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            return SimpleNamespace(exit_code=-1, output=f"hung: no exit within {timeout} s\n{out}", exception=None)
        return SimpleNamespace(exit_code=proc.returncode, output=out, exception=None)
    return run


# -- hostile models ---------------------------------------------------------------------------------
def _external_model(ws: Workspace, name: str, location: str) -> Path:
    """The shipped model with its first conv weight stored as external data at ``location``."""
    import onnx

    m = onnx.load(str(ws.model))
    w = next(t for t in m.graph.initializer if len(t.dims) == 4)
    w.ClearField("raw_data")
    del w.float_data[:]
    w.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "16")):
        e = w.external_data.add()
        e.key, e.value = key, value
    path = ws.path(name)
    path.write_bytes(m.SerializeToString())
    return path


def _symlink_loop(ws: Workspace) -> Path:
    (ws.root / "loop_a").symlink_to(ws.root / "loop_b")
    (ws.root / "loop_b").symlink_to(ws.root / "loop_a")
    return _external_model(ws, "loop.onnx", "loop_a")


def _folder_location(ws: Workspace) -> Path:
    (ws.root / "weights_dir").mkdir()
    return _external_model(ws, "dir.onnx", "weights_dir")


def _bfloat16_model(ws: Workspace) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Cast", ["c"], ["c_bf16"], to=TensorProto.BFLOAT16),
             helper.make_node("Cast", ["c_bf16"], ["c_back"], to=TensorProto.FLOAT),
             helper.make_node("Relu", ["c_back"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    path = ws.path("bf16.onnx")
    onnx.save(model, str(path))
    np.save(ws.path("bf16.npy"), np.random.default_rng(1).standard_normal((2, 3, 16, 16)).astype(np.float32))
    return path


def _escaped_input_model(ws: Workspace) -> Path:
    """The shipped model with its input renamed to a string of terminal escapes."""
    import onnx

    m = onnx.load(str(ws.model))
    old, new = m.graph.input[0].name, "\x1b]0;pwned\x07\x1b[2Jimage"
    m.graph.input[0].name = new
    for n in m.graph.node:
        n.input[:] = [new if i == old else i for i in n.input]
    path = ws.path("nasty.onnx")
    onnx.save(m, str(path))
    return path


def _no_raw_escape(ws, res) -> str | None:
    return "a raw escape character reached the terminal" if "\x1b" in res.output or "\x07" in res.output else None


def _hostile_model_cases() -> list[Case]:
    return [
        Case("external data: a location holding a NUL byte", "input",
             lambda ws: ["analyze", _external_model(ws, "nul.onnx", "weights.bin\x00../../../etc/passwd"), ws.images],
             check=output_has("not a file name inside the model's folder")),
        Case("external data: a location of 5,000 characters", "input",
             lambda ws: ["analyze", _external_model(ws, "long.onnx", "w" * 5000), ws.images],
             check=output_has("(5000 characters)")),
        Case("external data: a location that is a symbolic link loop", "input",
             lambda ws: ["analyze", _symlink_loop(ws), ws.images], check=output_has("cannot be resolved")),
        Case("external data: a location that is a folder", "input",
             lambda ws: ["analyze", _folder_location(ws), ws.images], check=output_has("which is missing")),
        Case("external data: randomize of a model with a NUL location", "input",
             lambda ws: ["randomize", _external_model(ws, "nul2.onnx", "a\x00b"), "-o", ws.path("out.onnx")]),
        Case("--all on a model with a bfloat16 tensor skips that tap", "input",
             lambda ws: ["analyze", _bfloat16_model(ws), ws.path("bf16.npy"), "--all"], code=0,
             check=output_has("bfloat16 tensor: ONNX Runtime cannot return it to NumPy")),
        Case("terminal escapes in a model's input name reach an error line escaped", "input",
             lambda ws: ["analyze", _escaped_input_model(ws), ws.images, "--input", "nope"],
             check=all_of(_no_raw_escape, output_has("\\x1b]0;pwned\\x07"))),
        Case("terminal escapes in a missing model's path", "input",
             lambda ws: ["analyze", ws.path("\x1b[31mred.onnx"), ws.images], check=_no_raw_escape),
        Case("terminal escapes in --layers reach the error line escaped", "input",
             lambda ws: ["analyze", ws.model, ws.images, "--layers", "\x1b[2J("], check=_no_raw_escape),
    ]


# -- numbers at the edges of every numeric option ----------------------------------------------------
def _numeric_cases() -> list[Case]:
    sweep = ["sweep", "{model}", "{images}", "--noise", "gaussian", "--levels"]
    table = [
        (sweep + ["0,0.5,...,1e308"], "more than 256 levels"),
        (sweep + ["0,1e39"], "finite numbers in [0, 1e+06]"),
        (sweep + ["0,1e-300,...,1"], "more than 256 levels"),
        (sweep + ["nan"], "--levels must be finite"),
        (sweep + ["0,inf"], "--levels must be finite"),
        (sweep + ["0,-1"], "--levels must be finite"),
        (sweep + [",".join(str(i) for i in range(300))], "more than the 256"),
        (["sweep", "{model}", "{images}", "--blend", "{image}", "--levels", "0,1e300"], "--levels must be finite"),
        (sweep + ["0,1", "--seed", "-1"], "--seed"),
        (["randomize", "{model}", "-o", "{out}", "--seed", "-1"], "--seed"),
        (["analyze", "{model}", "{images}", "--vs-random", "--seed", "-5"], "--seed"),
        (["analyze", "{model}", "{images}", "--max-memory", "nan"], "--max-memory"),
        (["analyze", "{model}", "{images}", "--max-memory", "inf"], "--max-memory"),
        (["analyze", "{model}", "{images}", "--max-memory", "1e999GB"], "--max-memory"),
        (["analyze", "{model}", "{images}", "--max-memory", "-1GB"], "--max-memory"),
        (["analyze", "{model}", "{images}", "--max-memory", "0"], "--max-memory"),
        (["analyze", "{model}", "{images}", "--kappa", "nan"], "--kappa"),
        (["analyze", "{model}", "{images}", "--kappa", "inf"], "--kappa"),
        (["analyze", "{model}", "{images}", "--kappa", "0"], "--kappa"),
        (["check", "{golden}", "--against", "{golden}", "--tol", "nan"], "--tol"),
        (["check", "{golden}", "--against", "{golden}", "--tol", "inf"], "--tol"),
        (["analyze", "{model}", "{images}", "-b", "0"], "--batch-size"),
        (["analyze", "{model}", "{images}", "-b", "inf"], "--batch-size"),
        (["analyze", "{model}", "{images}", "-b", "99999999999"], "--batch-size"),
        (["analyze", "{model}", "{images}", "--shard", "1/0"], "--shard"),
        (["analyze", "{model}", "{images}", "--shard", "3/2"], "--shard"),
        (["analyze", "{model}", "{images}", "--shard", "1/1e999"], "--shard"),
        (["analyze", "{model}", "{images}", "--size", "0x0"], "--size"),
        (["analyze", "{model}", "{images}", "--size", "100000x100000"], "--size"),
        (["analyze", "{model}", "{images}", "--limit", "0"], "--limit"),
        (["analyze", "{model}", "{images}", "--checkpoint", "{out}", "--checkpoint-every", "0"], "--checkpoint-every"),
        (["analyze", "{model}", "{images}", "--engine", "ray", "--shards", "100000"], "--shards"),
        (["analyze", "{model}", "{images}", "--sample-rate", "0"], "--sample-rate"),
    ]
    cases = []
    for args, needle in table:
        def build(ws, args=args):
            sub = {"{model}": ws.model, "{images}": ws.images, "{image}": ws.images / "disk_0.png",
                   "{out}": ws.path("out.onnx" if "randomize" in args else "out.ckpt")}
            if "{golden}" in args:
                sub["{golden}"] = ws.profile()
            return [sub.get(a, a) for a in args]
        label = " ".join(a for a in args if not a.startswith("{"))
        cases.append(Case(f"an edge number: {label}"[:110], "input", build, check=output_has(needle)))
    return cases


# -- sweeps ---------------------------------------------------------------------------------------------
def _edited_sweep(ws: Workspace, name: str, edit) -> Path:
    path = ws.path("sweep-clean.json")
    if not path.exists():
        res = invoke(["sweep", ws.model, ws.images, "--noise", "gaussian", "--levels", "0,1", "-q", "-o", path])
        assert res.exit_code == 0, res.output
    d = json.loads(path.read_text())
    edit(d)
    bad = ws.path(name)
    bad.write_text(json.dumps(d))
    return bad


def _sweep_edits():
    def dup(d):
        d["points"].append(json.loads(json.dumps(d["points"][-1])))
        d["levels"].append(d["levels"][-1])

    def neg(d):
        d["points"][1]["level"] = d["levels"][1] = -1

    return [("a duplicated level", dup), ("a level of -1", neg),
            ("change 'x'", lambda d: d["points"][1]["output_change"].__setitem__("relative_change", "x")),
            ("format version 99", lambda d: d.__setitem__("version", 99)),
            ("levels that are not the points'", lambda d: d.__setitem__("levels", [0, 0.5])),
            ("a level profile with a flipped count",
             lambda d: d["points"][0]["profile"]["layers"][0]["histogram"].__setitem__(
                 0, d["points"][0]["profile"]["layers"][0]["histogram"][0] + 1)),
            ("no points", lambda d: d.__setitem__("points", []))]


def _profile_files(ws, res) -> str | None:
    names = sorted(p.name for p in ws.path("lvl").iterdir())
    want = ["level-0.1.json", "level-0.1000001.json", "level-0.json"]
    return None if names == want else f"expected {want}, got {names}"


def _valid_sweep(ws, res) -> str | None:
    from srop_onnx.run.sweeps import Sweep, load_result

    sw = load_result(ws.path("out-big.json"))
    return None if isinstance(sw, Sweep) and sw.levels == [0.0, 1e6] else "the sweep file is not a valid sweep"


def _sweep_cases() -> list[Case]:
    cases = [
        Case("sweep -o lands on a --profiles file", "input",
             lambda ws: ["sweep", ws.model, ws.images, "--noise", "gaussian", "--levels", "0,1", "-o",
                         ws.path("lv2/level-0.json"), "--profiles", ws.path("lv2")],
             check=output_has("--profiles")),
        Case("sweep levels 0.1 and 0.1000001 get a file each", "input",
             lambda ws: ["sweep", ws.model, ws.images, "--noise", "gaussian", "--levels", "0,0.1,0.1000001", "-q",
                         "--profiles", ws.path("lvl")], code=0, check=_profile_files),
        Case("sweep at a level of 1e6 (activations may overflow float32) still writes the sweep", "input",
             lambda ws: ["sweep", ws.model, ws.images, "--noise", "gaussian", "--levels", "0,1e6", "-q", "-o",
                         ws.path("out-big.json")], code=0, check=_valid_sweep),
    ]
    for what, edit in _sweep_edits():
        for cmd in ("plot", "report"):
            def args(ws, what=what, edit=edit, cmd=cmd):
                bad = _edited_sweep(ws, f"bad-sweep-{abs(hash(what))}.json", edit)
                return [cmd, bad, "-o", ws.path("out.png" if cmd == "plot" else "out.html")]
            cases.append(Case(f"{cmd}: an edited sweep file with {what}", "input", args))
    return cases


# -- what the user owns -------------------------------------------------------------------------------
def _private(ws: Workspace) -> list:
    p = ws.path("out-private.json")
    p.write_text("{}")
    p.chmod(0o600)
    return ["analyze", ws.model, ws.images, "-q", "--json", p]


def _mode_kept(ws, res) -> str | None:
    mode = ws.path("out-private.json").stat().st_mode & 0o777
    return None if mode == 0o600 else f"the file's mode became {oct(mode)}"


def _long_name(ws: Workspace) -> list:
    return ["analyze", ws.model, ws.images, "-q", "--json", ws.path("o" * 250 + ".json")]


def _long_written(ws, res) -> str | None:
    p = ws.path("o" * 250 + ".json")
    return None if json.loads(p.read_text())["format"] == "srop-onnx-profile" else "not written"


def _dangling(ws: Workspace) -> list:
    ws.path("out-dangling.json").symlink_to(ws.root / "nowhere" / "deeper" / "x.json")
    return ["analyze", ws.model, ws.images, "-q", "--json", ws.path("out-dangling.json")]


def _no_folders(ws, res) -> str | None:
    return "folders were created along the link's target" if (ws.root / "nowhere").exists() else None


def _owned_cases() -> list[Case]:
    cases = [
        Case("a --json of mode 0600 keeps its mode", "input", _private, code=0, check=_mode_kept),
        Case("an output name of 255 bytes is written", "input", _long_name, code=0, check=_long_written),
        Case("a --json that is a dangling symbolic link", "input", _dangling,
             check=all_of(_no_folders, output_has("whose folder does not exist"))),
        Case("--checkpoint /dev/null", "input",
             lambda ws: ["analyze", ws.model, ws.images, "--checkpoint", "/dev/null"],
             check=all_of(output_has("not a regular file"), output_has("delete it", absent=True))),
        Case("--checkpoint that is a folder", "input",
             lambda ws: ["analyze", ws.model, ws.images, "--checkpoint", ws.images], check=output_has("--checkpoint")),
    ]
    return cases if POSIX else []


# -- signals and interrupted state ---------------------------------------------------------------------
def _slow_inputs(ws: Workspace) -> Path:
    """Enough array rows that a run takes a few seconds (a signal lands mid-run)."""
    path = ws.path("many.npy")
    np.save(path, np.random.default_rng(2).standard_normal((400, 3, 64, 64)).astype(np.float32))
    return path


def _checkpointed_run(ws: Workspace) -> list:
    """A long run with a checkpoint after every batch (a signal lands mid-run, after one is saved)."""
    return ["analyze", ws.model, _slow_inputs(ws), "-q", "-b", "2", "--checkpoint", ws.path("c.ckpt"),
            "--checkpoint-every", "1"]


def _sigterm_resumes(ws, res) -> str | None:
    leftovers = [p.name for p in ws.root.iterdir() if p.name.endswith(".tmp")]
    if leftovers:
        return f"temporaries left: {leftovers}"
    if not ws.path("c.ckpt").exists():
        return "no checkpoint was saved"
    args = ["analyze", ws.model, ws.path("many.npy"), "-q", "-b", "2", "--checkpoint", ws.path("c.ckpt"),
            "--json", ws.path("out-resumed.json")]
    again = invoke(args)
    clean = invoke(["analyze", ws.model, ws.path("many.npy"), "-q", "-b", "2", "--json", ws.path("out-clean.json")])
    if again.exit_code or clean.exit_code:
        return f"the resume or the clean run failed: {again.output[-200:]} {clean.output[-200:]}"
    a, b = (json.loads(ws.path(n).read_text()) for n in ("out-resumed.json", "out-clean.json"))
    return None if a["layers"] == b["layers"] and a["inputs"] == b["inputs"] else "the resumed result differs"


def _stale_tmp(ws: Workspace) -> list:
    stale = ws.path(".c.ckpt.abcd1234.tmp")
    stale.write_text("half a checkpoint")
    return ["analyze", ws.model, ws.images, "-q", "--checkpoint", ws.path("c.ckpt")]


def _stale_removed(ws, res) -> str | None:
    return "the stale temporary is still there" if ws.path(".c.ckpt.abcd1234.tmp").exists() else None


def _edited_same_size_same_time(ws: Workspace) -> list:
    """A checkpointed run stopped after 2 batches; then an input already read is changed in place:
    same size, time stamp restored (the cheap identity of size, time and edges would not see it)."""
    from adversarial import _checkpointed

    ckpt = _checkpointed(ws, "c5.ckpt")
    first = sorted(ws.images.glob("*.png"))[0]
    st = first.stat()
    data = bytearray(first.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0x01
    first.write_bytes(bytes(data))
    os.utime(first, ns=(st.st_atime_ns, st.st_mtime_ns))
    return ["analyze", ws.model, ws.images, "-q", "-b", "3", "--checkpoint", ckpt, "--json", ws.path("out.json")]


def _signal_cases() -> list[Case]:
    if not POSIX:
        return []
    return [
        Case("SIGTERM mid-run: exit 143, no temporary left, the resume equals a clean run", "fault",
             _checkpointed_run, code=143, check=_sigterm_resumes,
             runner=process(timeout=120, kill_when="c.ckpt", sig=signal.SIGTERM)),
        Case("Ctrl-C (SIGINT) mid-run: exit 130, the resume equals a clean run", "fault",
             _checkpointed_run, code=130, check=_sigterm_resumes,
             runner=process(timeout=120, kill_when="c.ckpt", sig=signal.SIGINT)),
        Case("a stale checkpoint temporary is removed by the next run", "fault", _stale_tmp, code=0,
             check=_stale_removed),
        Case("an input changed in place with its size and time stamp kept", "fault", _edited_same_size_same_time,
             check=output_has("changed since")),
    ]


# -- memory limits ---------------------------------------------------------------------------------------
def _memory_ok(ws, res) -> str | None:
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    if res.exit_code == 0:
        return None
    if res.exit_code != 4 or len(lines) != 1:
        return f"exit {res.exit_code} with {lines or res.output[-300:]}"
    return None if ("ulimit -v" in lines[0] or "out of memory" in lines[0]) else f"not a memory line: {lines[0]}"


def _memory_cases() -> list[Case]:
    if not POSIX or sys.platform == "darwin":  # macOS does not enforce RLIMIT_AS
        return []
    cases = []
    for mb in (250, 450, 600):
        cases.append(Case(f"ulimit -v {mb} MB: refused in one line, exit 4, no hang", "fault",
                          lambda ws: ["analyze", ws.model, ws.images, "-q"], code=4, check=_memory_ok,
                          runner=process(timeout=120, limit_mb=mb)))
    for mb, batch in ((900, "600"), (1200, "600"), (1200, "auto")):
        cases.append(Case(f"ulimit -v {mb} MB, -b {batch} on 600 samples: the batch fits the limit", "fault",
                          lambda ws, batch=batch: ["analyze", ws.model, _big(ws), "-q", "-b", batch, "--json",
                                                   ws.path("out.json")], code=0, check=_memory_ok,
                          runner=process(timeout=180, limit_mb=mb)))
    return cases


def _big(ws: Workspace) -> Path:
    path = ws.path("big.npy")
    np.save(path, np.random.default_rng(3).standard_normal((600, 3, 64, 64)).astype(np.float32))
    return path


def more_cases() -> list[Case]:
    return (_hostile_model_cases() + _numeric_cases() + _sweep_cases() + _owned_cases() + _signal_cases()
            + _memory_cases())


__all__ = ["more_cases", "process", "IMAGES"]
