"""Run mechanics of an analysis: feeding batches through the runner, halving on
out-of-memory, probing output sizes, choosing the batch and tap groups, peak memory."""

from __future__ import annotations

import numpy as np

from ..errors import ResourceError, UsageError, option
from .reducer import LayerReducer

__all__ = ["feed", "probe", "tap_groups", "auto_batch", "peak_memory"]




def feed(runner, reducer: LayerReducer, arr: np.ndarray, notify, groups: list[list[str]] | None = None,
         observe=None, rows: dict | None = None) -> None:
    """Run and reduce ``arr`` in runs the runner accepts; halve the run on out-of-memory.

    With tap ``groups`` each run is repeated once per group, fetching only that
    group's outputs; the chunk is counted only when every group has been reduced.
    ``observe(outputs, start, step)``, when given, sees every run's outputs (rows
    ``start:start + step`` of ``arr``; a retried run is observed again). ``rows``: the rows of the
    other inputs that share the batch axis, split with ``arr``.
    """
    from ..core.cuda import is_out_of_memory, record_device_memory, release_cached_memory

    i, n = 0, arr.shape[0]
    while i < n:
        step = runner.step(n - i)
        chunk = arr[i : i + step]
        part = {k: v[i : i + step] for k, v in rows.items()} if rows else None
        try:
            pending = []
            for names in groups or [None]:
                outputs = runner.run(chunk, names, part)
                if observe is not None:
                    observe(outputs, i, step)
                pending.extend(reducer.reduce(outputs, step))
                if runner.device == "cuda":
                    record_device_memory()
                del outputs
            reducer.commit(pending)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            release_cached_memory()
            if step == 1:
                raise ResourceError(f"out of memory even for a batch of 1 ({exc}); bound the tap outputs "
                                    f"({option('max-memory')}), tap fewer layers ({option('layers')}/{option('ops')}) or give the process more "
                                    "memory") from exc
            runner.max_batch = max(1, step // 2)
            notify(f"out of memory at a batch of {step}: retrying with {runner.max_batch}")
            continue
        i += step


def probe(runner, first: np.ndarray, rows: dict | None = None) -> dict[str, int]:
    """Bytes of each tap output for one sample, from one run of ``first`` (``rows``: its rows of
    the other inputs that share the batch axis)."""
    outputs = runner.run(first[None], None, {k: v[None] for k, v in (rows or {}).items()})
    per = {name: int(v.nbytes) for name, v in outputs.items()}
    del outputs
    return per


def tap_groups(per: dict[str, int], names: list[str], batch: int, budget: int, notify) -> tuple[list[list[str]] | None, int]:
    """Split taps (in depth order) into groups whose outputs for one run fit ``budget`` bytes,
    from per-sample output sizes ``per``. When one tap alone does not fit at this batch, the
    batch is reduced first."""
    if budget < 1:
        raise UsageError(f"{option('max-memory')} must be positive, got {budget}")
    largest = max(per.values())
    if largest * batch > budget:
        new = max(1, budget // largest)
        notify(f"{option('max-memory')}: the largest tap needs {largest * batch / 2**20:.1f} MiB at a batch of {batch}; "
               f"using a batch of {new}")
        batch = new
    groups: list[list[str]] = [[]]
    used = 0
    for name in names:
        need = per[name] * batch
        if groups[-1] and used + need > budget:
            groups.append([])
            used = 0
        groups[-1].append(name)
        used += need
    if len(groups) > 1:
        notify(f"{option('max-memory')}: {len(groups)} passes per batch of {batch} (tap outputs "
               f"{sum(per.values()) * batch / 2**20:.1f} MiB > {budget / 2**20:.1f} MiB)")
        return groups, batch
    return None, batch


def auto_batch(per: dict[str, int], first: np.ndarray, device: str, limit: int = 512) -> tuple[int, str]:
    """The largest batch whose tap outputs (``per`` bytes per sample and tap) fit in half the
    free memory; ORT's own activations and the FFT work take the rest."""
    from .runtime import available_memory

    per_sample = sum(per.values()) + int(first.nbytes)
    free = available_memory(device)
    size = int(max(1, min(limit, (free // 2) // max(1, 3 * per_sample))))
    return size, (f"{option('batch-size', 'auto')}: {size} ({per_sample / 2**20:.1f} MiB of tap outputs per sample, "
                  f"{free / 2**30:.1f} GiB free on {device})")


def peak_memory() -> dict:
    """Peak memory of this process (and of the CUDA device when used), in bytes: from
    ``resource`` on Unix, psutil elsewhere when installed, else ``None`` (unknown), never an error."""
    from ..core.cuda import peak_device_memory

    return {"peak_rss_bytes": _peak_rss(), **(peak_device_memory() or {})}


def _peak_rss() -> int | None:
    import sys

    try:
        import resource
    except ImportError:  # Windows
        resource = None
    if resource is not None:
        try:
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return int(rss if sys.platform == "darwin" else rss * 1024)
        except (OSError, ValueError, AttributeError):
            pass
    try:
        import psutil
    except ImportError:
        return None
    try:
        info = psutil.Process().memory_info()
        return int(getattr(info, "peak_wset", 0) or info.rss)  # Windows keeps the peak working set
    except Exception:
        return None
