"""Reads in flight from a bucket: 1,000 objects of 12 kB read as a run reads them (the read-ahead,
its reader threads, the same client), with the reads in flight srop-onnx keeps now (as many as the
first read's round trip calls for, up to 64) against the 8 it kept before, interleaved round by
round in one process, on servers next to the client and behind a round trip (``_servers.py``'s
delaying proxy), the server (and proxy) on its own core.

    python benchmarks/bench_readers.py [--servers rclone,moto] [--latency 0,20] [--repeat 3] [--runs]

``--runs`` times whole runs instead: the example model over 1,000 JPEGs (128 x 128) in the bucket,
before and now, against the same folder on the local disk, interleaved.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
BEFORE = 8


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _read_all(prefix: str) -> None:
    from srop_onnx.files.remote import list_objects
    from srop_onnx.inputs.readahead import _ReadAhead

    ahead = _ReadAhead([SimpleNamespace(path=f) for f, _key in list_objects(prefix, (".bin",))])
    try:
        for i in range(len(ahead.entries)):
            assert isinstance(ahead.take(i).result(), bytes)
    finally:
        ahead.close()


def _one(kind: str, latency: float, repeat: int, objects: int, server_cores) -> dict:
    from _servers import serve

    import s3fs
    import srop_onnx.inputs.readahead as samples

    now = samples.REMOTE_READERS
    with serve(kind, latency, server_cores):
        fs = s3fs.S3FileSystem(skip_instance_cache=True)  # this server's endpoint, not the last one's
        fs.mkdir("bench")
        blob = os.urandom(12_000)
        fs.pipe({f"bench/objs/{i:05d}.bin": blob for i in range(objects)})
        _read_all("s3://bench/objs/")  # warm-up: clients, connections, threads
        got: dict = {BEFORE: [], now: []}
        for _ in range(repeat):
            for n in (BEFORE, now):
                samples.REMOTE_READERS = n
                c0, t0 = _cpu(), time.perf_counter()
                _read_all("s3://bench/objs/")
                got[n].append((time.perf_counter() - t0, _cpu() - c0))
        samples.REMOTE_READERS = now
    return {n: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for n, v in got.items()}


def _runs(kind: str, latency: float, repeat: int, objects: int, server_cores) -> dict:
    """Median seconds of whole runs over ``objects`` JPEGs: from the bucket before and now, and locally."""
    import tempfile

    import numpy as np
    from _servers import serve
    from PIL import Image

    import s3fs
    import srop_onnx
    import srop_onnx.inputs.readahead as samples

    now, model = samples.REMOTE_READERS, REPO / "models" / "example.onnx"
    rng = np.random.default_rng(0)
    with serve(kind, latency, server_cores), tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "val"
        local.mkdir()
        for i in range(objects):
            Image.fromarray((rng.random((128, 128, 3)) * 255).astype(np.uint8)).save(local / f"{i:05d}.jpg", quality=90)
        fs = s3fs.S3FileSystem(skip_instance_cache=True)
        fs.mkdir("bench")
        fs.put(str(local) + "/", "bench/val/", recursive=True)
        where = {BEFORE: "s3://bench/val/", now: "s3://bench/val/", "local": local}
        assert srop_onnx.analyze(model, where[now]).to_dict() == srop_onnx.analyze(model, local).to_dict()
        got: dict = {k: [] for k in where}
        for _ in range(repeat):
            for k, inputs in where.items():
                samples.REMOTE_READERS = BEFORE if k == BEFORE else now
                t0 = time.perf_counter()
                srop_onnx.analyze(model, inputs)
                got[k].append(time.perf_counter() - t0)
        samples.REMOTE_READERS = now
    return {k: statistics.median(v) for k, v in got.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--servers", default="rclone,moto")
    ap.add_argument("--latency", default="0,20", help="round trips to try, in ms")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--objects", type=int, default=1000)
    ap.add_argument("--runs", action="store_true", help="whole runs of the example model over JPEGs")
    args = ap.parse_args()
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cores = set(cores[-1:]) if len(cores) > 1 else None
    if server_cores:
        os.sched_setaffinity(0, set(cores[:-1]))
    sys.path.insert(0, str(REPO / "benchmarks"))
    sys.path.insert(0, str(REPO))
    import srop_onnx.inputs.readahead as samples

    now = samples.REMOTE_READERS
    flight = f"reads in flight: now as many as the first read's round trip calls for (up to {now}), before {BEFORE}"
    if args.runs:
        print(f"the example model over {args.objects} JPEGs (128x128), medians of {args.repeat}; {flight}")
        print(f"  {'server':<8} {'round trip':>10} {'now':>8} {'before':>8} {'local':>8}   now / local, before / local")
    else:
        print(f"{args.objects} objects of 12 kB, medians of {args.repeat}; {flight}")
        print(f"  {'server':<8} {'round trip':>10} {'now':>8} {'before':>8} {'ratio':>6}   client CPU now / before")
    for kind in args.servers.split(","):
        for lat in (float(x) for x in args.latency.split(",")):
            head = f"  {kind:<8} {lat:>7g} ms"
            if args.runs:
                t = _runs(kind, lat, args.repeat, args.objects, server_cores)
                print(f"{head} {t[now]:7.2f}s {t[BEFORE]:7.2f}s {t['local']:7.2f}s   "
                      f"{t[now] / t['local']:.2f}, {t[BEFORE] / t['local']:.2f}")
            else:
                (wn, cn), (wb, cb) = (res := _one(kind, lat, args.repeat, args.objects, server_cores))[now], res[BEFORE]
                print(f"{head} {wn:7.2f}s {wb:7.2f}s {wn / wb:6.2f}   {cn:.2f} s / {cb:.2f} s")

if __name__ == "__main__":
    main()
