"""Adversarial catalogue, issue 40's families (round 5): track folders that lie, two writers in one
folder, hostile step numbers, disks that say no, not-files behind URLs, storage that never answers
or is given credentials, and the two regressions (an ASCII standard output, a huge thread count).
``adversarial.cases()`` adds them to the catalogue; the pytest plugin's shared goldens are tested
under pytester in ``tests/faces/test_pytest_plugin.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from adversarial import REPO, Case, Workspace, all_of, invoke, output_has

POSIX = os.name == "posix"


# -- a track to lie about ------------------------------------------------------------------------
def _checkpoints(ws: Workspace) -> Path:
    folder = ws.path("ck")
    if not folder.exists():
        folder.mkdir()
        shutil.copy(ws.model, folder / "e0.onnx")
        shutil.copy(REPO / "models" / "example-random.onnx", folder / "e1.onnx")
        shutil.copy(ws.model, folder / "e2.onnx")
    return folder


def _built(ws: Workspace) -> Path:
    out = ws.path("out-track")
    res = invoke(["track", _checkpoints(ws), "--inputs", ws.images, "-o", out, "-q"])
    assert res.exit_code == 0, res.output
    return out


def _edit(ws: Workspace, change) -> Path:
    out = _built(ws)
    index = json.loads((out / "track.json").read_text())
    change(index)
    (out / "track.json").write_text(json.dumps(index))
    return out


def _copy_over(ws: Workspace) -> Path:
    out = _built(ws)
    shutil.copy(out / "profiles" / "step-00000001.json", out / "profiles" / "step-00000002.json")
    return out


def _lost(ws: Workspace) -> Path:
    out = _built(ws)
    (out / "profiles" / "step-00000001.json").unlink()
    return out


def _truncated(ws: Workspace) -> Path:
    out = _built(ws)
    p = out / "profiles" / "step-00000001.json"
    p.write_bytes(p.read_bytes()[:500])
    return out


LIES = [
    ("a profile copied over another step's", _copy_over),
    ("an index entry pointing at another step's profile",
     lambda ws: _edit(ws, lambda d: d["steps"][2].update(profile=d["steps"][0]["profile"]))),
    ("a renumbered step", lambda ws: _edit(ws, lambda d: d["steps"][1].update(step=7))),
    ("a zeroed sha256", lambda ws: _edit(ws, lambda d: d["steps"][0]["model"].update(sha256="0" * 64))),
    ("an index number edited by hand", lambda ws: _edit(ws, lambda d: d["steps"][1]["layers"][0].update(mean=0.1))),
    ("a deleted profile", _lost),
    ("a truncated profile", _truncated),
]


def _track_ok(steps: list[int]):
    def check(ws, res):
        import srop_onnx

        got = srop_onnx.Track.load(ws.path("out-track")).steps
        return None if got == steps else f"steps {got}, expected {steps}"
    return check


def _rerun(lie):
    def args(ws):
        lie(ws)
        return ["track", _checkpoints(ws), "--inputs", ws.images, "-o", ws.path("out-track"), "-q"]
    return args


def _track_cases() -> list[Case]:
    cases = []
    for name, lie in LIES:
        cases.append(Case(f"track: {name} is refused by plot", "input",
                          lambda ws, lie=lie: ["plot", lie(ws) / "track.json", "-o", ws.path("out.png")],
                          check=output_has("rebuild it")))
        cases.append(Case(f"track: {name} is refused by report", "input",
                          lambda ws, lie=lie: ["report", lie(ws), "-o", ws.path("out.html")]))
        cases.append(Case(f"track: {name} is repaired by the next track run", "fault", _rerun(lie), code=0,
                          check=_track_ok([0, 1, 2])))
    cases += [
        Case("track: two writers with other checkpoints keep every step", "fault", lambda ws: [], code=0,
             runner=_two_writers([]), check=_track_ok([0, 1, 2])),
        Case("track: a second writer with --kappa 0.9 is refused, the folder stays whole", "fault", lambda ws: [],
             runner=_two_writers(["--kappa", "0.9"]), check=output_has("settings")),
        Case("track: a step above 2^63 with --tensorboard", "input",
             lambda ws: ["track", _checkpoints(ws) / "e0.onnx", "--inputs", ws.images, "-o", ws.path("out-t"),
                         "--steps", str(2**63 + 5), "--tensorboard", ws.path("out-tb")], check=output_has("2^63-1")),
        Case("track: a 250-digit step", "input",
             lambda ws: ["track", _checkpoints(ws) / "e0.onnx", "--inputs", ws.images, "-o", ws.path("out-t"),
                         "--steps", "9" * 250], check=output_has("2^63-1")),
        Case("track: -o is a file", "input",
             lambda ws: (ws.path("out-file").write_text("x"),
                         ["track", _checkpoints(ws), "--inputs", ws.images, "-o", ws.path("out-file")])[1],
             check=output_has("is a file")),
    ]
    return cases


def _two_writers(extra: list[str]):
    """Two ``track`` processes into one folder at once: the first two checkpoints, and the third
    (with ``extra`` options); the result is the second run's, or the one that was refused."""
    def run(ws: Workspace, _args: list):
        ck, out = _checkpoints(ws), ws.path("out-track")
        a, b = ws.path("ck-a"), ws.path("ck-b")
        a.mkdir(), b.mkdir()
        for n in ("e0", "e1"):
            shutil.copy(ck / f"{n}.onnx", a)
        shutil.copy(ck / "e2.onnx", b)
        procs = [subprocess.Popen([sys.executable, "-m", "srop_onnx", "track", str(d), "--inputs", str(ws.images),
                                   "-o", str(out), "-q", *(extra if d == b else [])], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True) for d in (a, b)]
        results = [(p.wait(timeout=300), p.communicate()[0]) for p in procs]
        failed = [r for r in results if r[0] != 0]
        code, output = failed[0] if failed else results[1]
        if extra and not failed:
            return SimpleNamespace(exit_code=0, output="both writers succeeded with other settings", exception=None)
        return SimpleNamespace(exit_code=code if not (extra and len(failed) == 2) else -1, output=output,
                               exception=None)
    return run


# -- disks that say no --------------------------------------------------------------------------------
def _can_mount() -> bool:
    if sys.platform != "linux" or not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = Path("/tmp") / f"srop-onnx-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", "-l", str(probe)], capture_output=True)
    probe.rmdir()
    return ok


def _on_mount(options: str, make_args, fill: bool = False):
    """A runner: the command with a tmpfs mounted at ``out-mnt`` (read-only, or full)."""
    def run(ws: Workspace, _args: list):
        mnt = ws.path("out-mnt")
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mnt)], check=True)
        try:
            if fill:
                (mnt / "filler").write_bytes(b"\0" * 12288)
            proc = subprocess.run([sys.executable, "-m", "srop_onnx", *map(str, make_args(ws, mnt))], cwd=ws.root,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        finally:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        return SimpleNamespace(exit_code=proc.returncode, output=proc.stdout, exception=None)
    return run


def _disk_cases() -> list[Case]:
    if not _can_mount():
        return []
    return [
        Case("disks: track -o on a read-only mount", "fault", lambda ws: [],
             runner=_on_mount("ro,size=64k", lambda ws, m: ["track", _checkpoints(ws), "--inputs", ws.images, "-o",
                                                             m / "track"]), check=output_has("read-only file system")),
        Case("disks: --tensorboard on a full disk", "fault", lambda ws: [],
             runner=_on_mount("size=12k", lambda ws, m: ["track", _checkpoints(ws), "--inputs", ws.images, "-o",
                                                         ws.path("out-track"), "--tensorboard", m / "tb"], fill=True),
             check=all_of(output_has("--tensorboard"), output_has("Exception ignored", absent=True))),
    ]


# -- not-files, storage ---------------------------------------------------------------------------------
def _fifo(ws: Workspace, name: str) -> Path:
    path = ws.path(name)
    os.mkfifo(path)
    return path


def _silent_endpoint(args_of):
    """A runner: an endpoint on 127.0.0.1 that accepts connections and never answers, for the
    command ``args_of(ws, url)`` (in a subprocess, with a timeout)."""
    def run(ws: Workspace, _args: list):
        from s3server import silent_endpoint

        env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": "us-east-1"}
        with silent_endpoint() as url:
            try:
                proc = subprocess.run([sys.executable, "-m", "srop_onnx", *map(str, args_of(ws, url))], cwd=ws.root,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120, env=env)
            except subprocess.TimeoutExpired:
                return SimpleNamespace(exit_code=-1, output="hung: no exit within 120 s", exception=None)
        return SimpleNamespace(exit_code=proc.returncode, output=proc.stdout, exception=None)
    return run


def _env_runner(env: dict):
    def run(ws: Workspace, args: list):
        proc = subprocess.run([sys.executable, "-m", "srop_onnx", *map(str, args)], cwd=ws.root, capture_output=True,
                              env={**os.environ, **env}, timeout=300)
        out = proc.stdout + proc.stderr
        try:
            text = out.decode("ascii")
        except UnicodeDecodeError:
            return SimpleNamespace(exit_code=-1, output="non-ASCII bytes on an ASCII stream", exception=None)
        return SimpleNamespace(exit_code=proc.returncode, output=text, exception=None)
    return run


def _piped(ws: Workspace, args: list):
    golden = ws.profile()
    cmd = f'"{sys.executable}" -m srop_onnx check <(cat "{golden}") --against "{golden}"'
    proc = subprocess.run(["bash", "-c", cmd], cwd=ws.root, capture_output=True, text=True, timeout=120)
    return SimpleNamespace(exit_code=proc.returncode, output=proc.stdout + proc.stderr, exception=None)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _storage_cases() -> list[Case]:
    cases = [
        Case("storage: --storage-option client_kwargs=x", "input",
             lambda ws: ["--storage-option", "client_kwargs=x", "analyze", "s3://b/m.onnx", ws.images],
             check=output_has("JSON object")),
        Case("storage: a URL with credentials in it is refused, redacted", "input",
             lambda ws: ["analyze", "s3://AKIAKEY123:SeCrEt456@b/m.onnx", ws.images],
             check=all_of(output_has("SeCrEt456", absent=True), output_has("AKIAKEY123", absent=True))),
        *([Case("storage: an endpoint that accepts and never answers", "fault", lambda ws: [],
                runner=_silent_endpoint(lambda ws, url: ["--storage-option", f"endpoint_url={url}", "--storage-option",
                                                         "read_timeout=1", "analyze", ws.model, "s3://b/val/", "-q"]),
                check=output_has("does not answer"))] if _has("s3fs") else []),
        Case("regression: an ASCII standard output (LC_ALL=C, no UTF-8 mode) gets ASCII tables", "fault",
             lambda ws: ["analyze", ws.model, ws.images], code=0,
             runner=_env_runner({"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}), check=output_has("+--")),
        Case("regression: SROP_ONNX_THREADS=100000 is bounded to the cores with one line", "fault",
             lambda ws: ["analyze", ws.model, ws.images], code=0, env={"SROP_ONNX_THREADS": "100000"},
             check=output_has("SROP_ONNX_THREADS=100000 is more than")),
    ]
    if POSIX:
        cases += [
            Case("not-files: a file:// URL to a FIFO as the model", "input",
                 lambda ws: ["analyze", f"file://{_fifo(ws, 'm.onnx')}", ws.images], check=output_has("not a regular")),
            Case("not-files: file:///dev/zero as the model", "input",
                 lambda ws: ["analyze", "file:///dev/zero", ws.images], check=output_has("not a regular")),
            Case("not-files: a FIFO without a writer as the profile to check", "input",
                 lambda ws: ["check", _fifo(ws, "p.json"), "--against", ws.profile()],
                 check=output_has("the pipe gave nothing")),
        ]
        if shutil.which("bash"):
            cases.append(Case("not-files: a profile through a pipe (check <(cat p.json))", "fault", lambda ws: [],
                              code=0, runner=_piped, check=output_has("PASS")))
    return cases


def round5_cases() -> list[Case]:
    return _track_cases() + _disk_cases() + _storage_cases()
