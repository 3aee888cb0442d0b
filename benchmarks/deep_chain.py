"""A chain of N 3x3 convolutions (one channel, 16 x 16 maps), the shape of a very deep model: what
``layers``, ``analyze``, ``plot`` and ``report`` cost on it, and how large the figures and the
report are. ``python benchmarks/deep_chain.py 3000`` (issue 31: they stay bounded in time and size)."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def deep_chain(n: int, path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, inits = [], []
    prev = "x"
    for i in range(n):
        w = numpy_helper.from_array((rng.standard_normal((1, 1, 3, 3)) * 0.4).astype(np.float32), f"w{i}")
        inits.append(w)
        nodes.append(helper.make_node("Conv", [prev, f"w{i}"], [f"c{i}"], name=f"conv{i}", pads=[1, 1, 1, 1]))
        prev = f"c{i}"
    graph = helper.make_graph(nodes, "deep", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 16, 16])],
                              [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [None, 1, 16, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    onnx.save(model, str(path))
    return path


def timed(args: list[str]) -> tuple[float, int]:
    from click.testing import CliRunner

    from srop_onnx.cli import main

    t = time.perf_counter()
    res = CliRunner().invoke(main, args)
    return time.perf_counter() - t, res.exit_code


def main(n: int = 3000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        model = deep_chain(n, d / "deep.onnx")
        np.save(d / "x.npy", np.random.default_rng(1).standard_normal((4, 1, 16, 16)).astype(np.float32))
        rows = []
        for name, args, out in (
                ("layers", ["layers", model], None),
                ("analyze", ["analyze", model, d / "x.npy", "-q", "--json", d / "p.json"], d / "p.json"),
                ("plot depth", ["plot", d / "p.json", "-o", d / "depth.png"], d / "depth.png"),
                ("plot box", ["plot", d / "p.json", "--kind", "box", "-o", d / "box.png"], d / "box.png"),
                ("plot kernels", ["plot", d / "p.json", "--kind", "kernels", "-o", d / "k.png"], d / "k.png"),
                ("report", ["report", d / "p.json", "-o", d / "r.html"], d / "r.html")):
            secs, code = timed([str(a) for a in args])
            size = out.stat().st_size if out and out.exists() else 0
            extra = ""
            if out and out.suffix == ".png" and out.exists():
                from PIL import Image

                with Image.open(out) as im:
                    extra = f" {im.size[0]} x {im.size[1]} px"
            rows.append(f"{name:13s} exit {code}  {secs:7.2f} s  {size / 1e6:7.2f} MB{extra}")
        print(f"{n} convolutions:")
        print("\n".join(rows))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
