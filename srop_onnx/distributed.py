"""Running shards as Ray tasks (optional extra ``ray``) and merging them on the driver.

Each task is exactly ``analyze(..., shard=(i, N))`` with its own ONNX Runtime
session (and a GPU when the provider is CUDA); the driver merges the partial
profiles with :func:`srop_onnx.merge.merge_profiles`, so the result equals one
run over all inputs. Ray does the scheduling; nothing here schedules.

The model and input paths must be readable from every worker (one machine,
or a shared file system on a cluster). ``RAY_ADDRESS`` or ``address=`` picks an
existing cluster, as Ray's own ``ray.init`` does; without them a local Ray
instance is started.
"""

from __future__ import annotations

import os
from typing import Callable

from .errors import UsageError
from .merge import merge_profiles
from .profile import Profile

__all__ = ["analyze_ray"]


def _shard_task(model: str, inputs, shard: tuple[int, int], options: dict) -> dict:
    from .analysis import analyze

    return analyze(model, inputs, shard=shard, **options).to_dict()


def analyze_ray(model, inputs, *, shards: int | None = None, address: str | None = None,
                progress: Callable[[int, int], None] | None = None, **options) -> Profile:
    """:func:`srop_onnx.analyze` over Ray: ``shards`` tasks (default: the cluster's CPUs, or GPUs
    for CUDA), merged into one profile identical to a single run."""
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'srop-onnx[ray]'") from None
    for key in ("shard", "checkpoint", "progress", "notify", "limit"):
        if options.get(key) is not None:
            raise UsageError(f"--engine ray cannot be combined with --{key.replace('_', '-')}")
    options = {k: v for k, v in options.items() if k not in ("shard", "checkpoint", "progress", "notify")}
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    resources = ray.cluster_resources()
    gpu = options.get("provider") == "cuda" or (options.get("provider", "auto") == "auto" and resources.get("GPU", 0) >= 1)
    n = shards or int(resources.get("GPU" if gpu else "CPU", 1)) or 1
    if n < 1:
        raise UsageError(f"--shards must be >= 1, got {n}")
    task = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0)(_shard_task)
    model = str(model)
    if not hasattr(inputs, "shape"):
        inputs = [str(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    refs = [task.remote(model, inputs, (i, n), options) for i in range(1, n + 1)]
    done: list = []
    pending = list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        done.extend(ready)
        if progress:
            progress(len(done), n)
    parts = [Profile.from_dict(d, f"shard {i + 1}/{n}") for i, d in enumerate(ray.get(refs))]
    merged = merge_profiles(parts, [f"shard {i}/{n}" for i in range(1, n + 1)])
    merged.extra["engine"] = {"name": "ray", "shards": n, "gpu": bool(gpu)}
    return merged
