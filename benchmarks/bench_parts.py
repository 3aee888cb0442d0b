"""What ``--engine ray --parts`` costs and saves, side by side in one process on a local Ray
(issue 29): a run without parts, the same run keeping its parts, a rerun with every part already
there (the driver plans the model once and reads the parts: nothing runs), and a rerun after one of
the shards' parts was lost (only that shard runs).

    python benchmarks/bench_parts.py [--images 800] [--shards 8] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=800)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    import ray

    from srop_onnx.run.distributed import analyze_ray

    model = REPO / "models" / "example.onnx"
    src = sorted((REPO / "models" / "images").iterdir())
    work = Path(tempfile.mkdtemp(prefix="bench-parts-"))
    images = work / "images"
    images.mkdir()
    for i in range(args.images):
        shutil.copyfile(src[i % len(src)], images / f"{i:05d}_{src[i % len(src)].name}")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    times: dict[str, list[float]] = {k: [] for k in ("no parts", "keeping parts", "all parts there",
                                                     "one part lost")}

    def timed(name, **kw):
        t = time.perf_counter()
        prof = analyze_ray(model, images, shards=args.shards, provider="cpu", **kw)
        times[name].append(time.perf_counter() - t)
        return prof

    try:
        timed("no parts")  # warm: Ray's workers start once
        times["no parts"].clear()
        for r in range(args.repeat):
            parts = work / f"parts{r}"
            ref = timed("no parts")
            assert timed("keeping parts", parts=parts).to_dict() == ref.to_dict()
            assert timed("all parts there", parts=parts).to_dict() == ref.to_dict()
            (parts / f"part-0001-of-{args.shards:04d}.json").unlink()
            assert timed("one part lost", parts=parts).to_dict() == ref.to_dict()
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    base = statistics.median(times["no parts"])
    print(f"{args.images} images, {args.shards} shards, local Ray with 2 CPUs, median of {args.repeat}")
    for name, values in times.items():
        med = statistics.median(values)
        print(f"  {name:16s} {med:7.2f} s   ratio to no parts {med / base:5.2f}")


if __name__ == "__main__":
    main()
