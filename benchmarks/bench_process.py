"""What a whole command costs, start-up included, in fresh interpreters (issue 43).

Every figure is the median wall time of a new process (``srop-onnx ...`` as a user types it),
the commands interleaved round by round so that a noisy machine slows them alike. Against:
  * a plain ONNX Runtime script in a fresh interpreter doing the same load + run (open the
    .onnx file, create a session, np.load the inputs, run them in batches of 8);
  * ``python -c pass`` (the interpreter's own start) for the commands that run no model;
  * for pytest, a run of ten tests that each run that plain ONNX Runtime script's work in-process.

Commands: ``layers`` of a ResNet-18-shaped model (45 MB, benchmarks/resnet_onnx.py), ``analyze``
of 1 and of 64 inputs (``-b 8``, .npy), ``check`` of two profiles, and a pytest run of ten
``srop_profile.check`` tests on the shipped example model (goldens made first, not timed).
Goals (issue 43, 2-core machine): layers <= 0.5 s, analyze of one input <= 2x plain, check <= 0.2 s.

Usage:  python benchmarks/bench_process.py [--repeat 7] [--model resnet18] [--against DIR]

``--against DIR`` (another checkout of srop-onnx, e.g. ``git worktree add /tmp/old <commit>``) also
runs each ``srop-onnx`` command from that tree and from this one the same way (``python -c`` with the
tree first on ``sys.path``), interleaved, and prints this tree's time over that tree's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from resnet_onnx import build  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

PLAIN = """\
import sys
import numpy as np
import onnxruntime as ort
sess = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
x = np.load(sys.argv[2])
name = sess.get_inputs()[0].name
for i in range(0, len(x), 8):
    sess.run(None, {name: x[i:i + 8]})
"""

SROP_TESTS = """\
import pytest

@pytest.mark.parametrize("i", range(10))
def test_example_keeps_its_profile(srop_profile, i):
    srop_profile.check(MODEL, IMAGES, tol=0.02)
"""

PLAIN_TESTS = """\
import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

@pytest.mark.parametrize("i", range(10))
def test_plain_inference(i):
    import glob
    sess = ort.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
    x = np.stack([np.asarray(Image.open(p).convert("RGB"), np.float32).transpose(2, 0, 1) / 255
                  for p in sorted(glob.glob(IMAGES + "/*.png"))])
    name = sess.get_inputs()[0].name
    assert sess.run(None, {name: x})[0].shape[0] == len(x)
"""


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("srop-onnx")
    return [str(script)] if script.exists() else [sys.executable, "-m", "srop_onnx"]


def _time(cmd: list[str], cwd: str) -> float:
    # bytecode written and reused, as on a user's machine: any value of PYTHONDONTWRITEBYTECODE (even
    # "0") stops the writing, and each process would compile every module edited since the last .pyc
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t0
    if res.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr[-500:]}")
    return took


def _setup(tmp: Path, model_name: str) -> dict[str, list[str]]:
    model = tmp / f"{model_name}.onnx"
    proto = build(model_name)
    proto.ir_version = min(proto.ir_version, 10)
    model.write_bytes(proto.SerializeToString())
    rng = np.random.default_rng(0)
    x64 = rng.standard_normal((64, 3, 224, 224)).astype(np.float32)
    np.save(tmp / "x1.npy", x64[:1])
    np.save(tmp / "x64.npy", x64)
    (tmp / "plain.py").write_text(PLAIN)
    cli, py = _cli(), sys.executable
    subprocess.run(cli + ["analyze", str(model), str(tmp / "x1.npy"), "-q", "--json", str(tmp / "a.json")], check=True)
    shutil.copy(tmp / "a.json", tmp / "b.json")
    example = ROOT / "models"
    header = f"MODEL = {str(example / 'example.onnx')!r}\nIMAGES = {str(example / 'images')!r}\n"
    (tmp / "srop").mkdir()
    (tmp / "srop" / "test_srop.py").write_text(header + SROP_TESTS)
    (tmp / "plain_tests").mkdir()
    (tmp / "plain_tests" / "test_plain.py").write_text(header + PLAIN_TESTS)
    pytest_args = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    subprocess.run(pytest_args + ["--srop-regen", str(tmp / "srop")], stdout=subprocess.DEVNULL)  # the goldens
    m, x1, x64p = str(model), str(tmp / "x1.npy"), str(tmp / "x64.npy")
    return {
        "python -c pass": [py, "-c", "pass"],
        "plain ORT, 1 input": [py, str(tmp / "plain.py"), m, x1],
        "plain ORT, 64 inputs": [py, str(tmp / "plain.py"), m, x64p],
        "srop-onnx layers": cli + ["layers", m],
        "srop-onnx analyze, 1 input": cli + ["analyze", m, x1, "-b", "8"],
        "srop-onnx analyze, 64 inputs": cli + ["analyze", m, x64p, "-b", "8"],
        "srop-onnx check": cli + ["check", str(tmp / "a.json"), "--against", str(tmp / "b.json")],
        "pytest, 10 plain ORT tests": pytest_args + [str(tmp / "plain_tests")],
        "pytest, 10 srop_profile.check": pytest_args + [str(tmp / "srop")],
    }


FROM_TREE = "import sys; sys.path.insert(0, sys.argv.pop(1)); sys.argv[0] = 'srop-onnx'; from srop_onnx.cli import main; main()"


def _tree_pairs(commands: dict[str, list[str]], other: Path) -> dict[str, list[str]]:
    """Each ``srop-onnx`` command run from this tree and from ``other``, started the same way."""
    pairs = {}
    for name, cmd in commands.items():
        if name.startswith("srop-onnx "):
            args = cmd[len(_cli()):]
            for tag, tree in (("this tree", ROOT), ("against", other)):
                pairs[f"{name} [{tag}]"] = [sys.executable, "-c", FROM_TREE, str(tree)] + args
    return pairs


def _import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(3)]
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--against", type=Path, metavar="DIR", help="another checkout of srop-onnx to compare with")
    args = ap.parse_args()
    if args.against is not None and not (args.against / "srop_onnx" / "cli").is_dir():
        ap.error(f"--against {args.against}: not a checkout of srop-onnx (no srop_onnx/cli in it)")
    import ml_dtypes
    import onnx
    import onnxruntime

    import srop_onnx

    with tempfile.TemporaryDirectory() as tmp:
        commands = _setup(Path(tmp), args.model)
        if args.against is not None:
            commands.update(_tree_pairs(commands, args.against.resolve()))
        times: dict[str, list[float]] = {k: [] for k in commands}
        for cmd in commands.values():  # warm-up: page cache, .pyc files
            _time(cmd, tmp)
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                times[name].append(_time(cmd, tmp))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"srop-onnx {srop_onnx.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}, "
          f"numpy {np.__version__}, ml_dtypes {ml_dtypes.__version__} (import {_import_seconds('ml_dtypes'):.3f} s), "
          f"{os.cpu_count()} CPUs; median of {args.repeat} fresh processes")
    against = {"srop-onnx layers": ("python -c pass", 0.5), "srop-onnx analyze, 1 input": ("plain ORT, 1 input", None),
               "srop-onnx analyze, 64 inputs": ("plain ORT, 64 inputs", None),
               "srop-onnx check": ("python -c pass", 0.2),
               "pytest, 10 srop_profile.check": ("pytest, 10 plain ORT tests", None)}
    print(f"  {'command':34s} {'median s':>9s}  {'vs':28s} {'ratio':>6s}  goal")
    for name, t in med.items():
        if name.endswith("]"):
            continue
        base, goal = against.get(name, (None, None))
        ratio = f"{t / med[base]:6.2f}" if base else ""
        if name == "srop-onnx analyze, 1 input":
            goal_text = f"<= 2x plain: {'met' if t <= 2 * med[base] else 'NOT met'}"
        elif goal is not None:
            goal_text = f"<= {goal} s: {'met' if t <= goal else 'NOT met'}"
        else:
            goal_text = ""
        print(f"  {name:34s} {t:9.3f}  {base or '':28s} {ratio:>6s}  {goal_text}")

    if args.against is not None:
        print(f"  this tree against {args.against} (both as python -c, interleaved):")
        for name in (n for n in med if n.endswith("[this tree]")):
            mine, theirs = med[name], med[name.replace("[this tree]", "[against]")]
            print(f"  {name.removesuffix(' [this tree]'):34s} {mine:9.3f}  {theirs:9.3f}  ratio {mine / theirs:5.2f}")


if __name__ == "__main__":
    main()
