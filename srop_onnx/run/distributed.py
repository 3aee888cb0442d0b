"""Running shards as Ray tasks (optional extra ``ray``) and merging them on the driver.

Each task is exactly ``analyze(..., shard=(i, N))`` with its own ONNX Runtime
session (and a GPU when the provider is CUDA); the driver merges the partial
profiles with :func:`srop_onnx.results.merge.merge_profiles`, so the result equals one
run over all inputs. Ray does the scheduling; nothing here schedules.

The model and input paths must be readable from every worker (one machine,
or a shared file system on a cluster); they are sent as absolute paths, since a
worker of a running cluster works in a folder of its own. Inputs in a bucket (``s3://``)
are listed once by the driver, and each task gets its slice of the listing (URLs, keys,
sizes, ETags) and reads those objects with its own credentials (the standard chains of its
machine; no credential is ever part of a task's arguments). ``RAY_ADDRESS`` or
``address=`` picks an existing cluster, as Ray's own ``ray.init`` does; without
them a local Ray instance is started. A cluster started with ``ray start --head``
(Ray 2.5x and later) wants a token: ``RAY_AUTH_MODE=token`` and the token in
``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token`` (``--ray-address auto`` on a node of the
cluster finds both); a connection that fails says so in one line.
"""

from __future__ import annotations

import os
from typing import Callable

from ..errors import UsageError
from ..results.merge import merge_profiles
from ..results.profile import Profile

__all__ = ["analyze_ray", "ray_analysis"]


def _shard_task(model: str, inputs, shard: tuple[int, int], measure, how) -> dict:
    from dataclasses import replace

    from .analysis import run_analysis

    return run_analysis(model, inputs, measure, replace(how, shard=shard)).to_dict()


def _captured_stderr():
    """Ray's own C++ warnings go to file descriptor 2 while it tries to connect (one a second); they
    are kept aside and read back, so a failure is one line of ours that quotes Ray's reason."""
    import contextlib
    import tempfile

    @contextlib.contextmanager
    def capture():
        import sys

        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile(mode="w+b") as buf:
            os.dup2(buf.fileno(), 2)
            text: list[str] = []
            try:
                yield text
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                buf.seek(0)
                text.append(buf.read().decode("utf-8", "replace"))

    return capture()


def connect(ray, address: str | None) -> None:
    """``ray.init`` on ``address`` (else ``RAY_ADDRESS``, else a local instance), or one UsageError
    saying why the connection failed and how to connect (the address, the token)."""
    target = address or os.environ.get("RAY_ADDRESS")
    try:
        with _captured_stderr() as said:
            ray.init(address=target, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError, ray.exceptions.RayError) as exc:
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0].split('. ')[0] if str(exc) else ''}"
        ray_said = " ".join(said).lower()
        if type(exc).__name__ == "AuthenticationError" and "no authentication token was found" in str(exc):
            hint = ("RAY_AUTH_MODE=token is set but no token was found: set RAY_AUTH_TOKEN (or copy the head node's "
                    "~/.ray/auth_token), or unset RAY_AUTH_MODE for a cluster without token authentication")
        elif "authentication" in ray_said or "auth" in str(exc).lower():
            hint = ("the cluster asks for a token: set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or copy the head "
                    "node's ~/.ray/auth_token), or use --ray-address auto on a node of the cluster")
        else:
            hint = ("check the address with 'ray status' on the head node (HOST:PORT of its GCS, default port "
                    "6379); a cluster with token authentication also needs RAY_AUTH_MODE=token and its token")
        raise UsageError(f"--ray-address {target or '(local)'}: cannot connect to the Ray cluster ({why}); {hint}") \
            from None


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
    """:func:`analyze_ray` over the values of :mod:`srop_onnx.config.settings` (``how`` must not shard,
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
        connect(ray, address)
    resources = ray.cluster_resources()
    gpu = how.provider == "cuda" or (how.provider == "auto" and resources.get("GPU", 0) >= 1)
    n = shards or int(resources.get("GPU" if gpu else "CPU", 1)) or 1
    task = ray.remote(num_cpus=1, num_gpus=1 if gpu else 0)(_shard_task)
    from ..files.remote import is_url

    def where(p):  # a worker of a running cluster works in a folder of its own; a URL is a URL everywhere
        return str(p) if is_url(str(p)) else os.path.abspath(p)

    model = where(model)
    slices = None
    if not hasattr(inputs, "shape"):
        inputs = [where(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
        if all(is_url(p) for p in inputs):  # a bucket is listed once, here; each task gets its slice
            from ..inputs.inputset import shard_listings

            slices = shard_listings(inputs, n)
    refs = [task.remote(model, slices[i - 1] if slices else inputs, (i, n), measure, how) for i in range(1, n + 1)]
    try:
        _wait(ray, refs, progress)
        done = ray.get(refs)
    except ray.exceptions.RayTaskError as exc:  # the task's own error, not Ray's wrapping of it
        cause = getattr(exc, "cause", None)
        raise (cause if isinstance(cause, Exception) else exc) from None
    parts = [Profile.from_dict(d, f"shard {i + 1}/{n}") for i, d in enumerate(done)]
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
