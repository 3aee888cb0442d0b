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

__all__ = ["analyze_ray", "ray_analysis"]


def _shard_task(model: str, inputs, shard: tuple[int, int], measure, how) -> dict:
    from dataclasses import replace

    from .analysis import run_analysis

    return run_analysis(model, inputs, measure, replace(how, shard=shard)).to_dict()


def analyze_ray(model, inputs, *, shards: int | None = None, address: str | None = None,
                progress: Callable[[int, int], None] | None = None, **options) -> Profile:
    """:func:`srop_onnx.analyze` over Ray: ``shards`` tasks (default: the cluster's CPUs, or GPUs
    for CUDA), merged into one profile identical to a single run. ``options`` are
    :func:`srop_onnx.analyze`'s keywords."""
    from .analysis import split_options

    for key in ("shard", "checkpoint", "limit", "notify"):
        if options.get(key) is not None:
            raise UsageError(f"--engine ray cannot be combined with --{key.replace('_', '-')}")
    measure, how, _hooks = split_options({k: v for k, v in options.items() if k != "progress"})
    return ray_analysis(model, inputs, measure, how, shards=shards, address=address, progress=progress)


def ray_analysis(model, inputs, measure, how, *, shards: int | None = None, address: str | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Profile:
    """:func:`analyze_ray` over the values of :mod:`srop_onnx.settings` (``how`` must not shard,
    checkpoint or limit: the tasks shard)."""
    try:
        import ray
    except ImportError:
        raise UsageError("--engine ray needs Ray: pip install 'srop-onnx[ray]'") from None
    for key in ("shard", "checkpoint", "limit"):
        if getattr(how, key) is not None:
            raise UsageError(f"--engine ray cannot be combined with --{key}")
    if shards is not None and shards < 1:
        raise UsageError(f"--shards must be >= 1, got {shards}")
    if not ray.is_initialized():
        ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    resources = ray.cluster_resources()
    gpu = how.provider == "cuda" or (how.provider == "auto" and resources.get("GPU", 0) >= 1)
    n = shards or int(resources.get("GPU" if gpu else "CPU", 1)) or 1
    task = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0)(_shard_task)
    model = str(model)
    if not hasattr(inputs, "shape"):
        inputs = [str(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    refs = [task.remote(model, inputs, (i, n), measure, how) for i in range(1, n + 1)]
    _wait(ray, refs, progress)
    parts = [Profile.from_dict(d, f"shard {i + 1}/{n}") for i, d in enumerate(ray.get(refs))]
    merged = merge_profiles(parts, [f"shard {i}/{n}" for i in range(1, n + 1)])
    merged.extra["engine"] = {"name": "ray", "shards": n, "gpu": bool(gpu)}
    return merged


def _wait(ray, refs: list, progress) -> None:
    done, pending = 0, list(refs)
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        done += len(ready)
        if progress:
            progress(done, len(refs))
