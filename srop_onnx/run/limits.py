"""The machine's limits a run checks before it starts (no heavy import here: it runs first)."""

from __future__ import annotations

from ..errors import ResourceError

__all__ = ["MIN_ADDRESS_SPACE", "check_address_space", "address_space_budget"]

#: the address space (``ulimit -v``) below which a run is refused before it starts: loading NumPy,
#: SciPy, ONNX and ONNX Runtime and starting their threads takes about 450 MiB of it, and below that
#: native libraries fail in ways no one-line error can follow (a crash, an exit of their own).
MIN_ADDRESS_SPACE = 768 * 2**20


def check_address_space(floor: int = MIN_ADDRESS_SPACE) -> None:
    """Refuse to start under an address-space limit (``ulimit -v``, RLIMIT_AS) below ``floor``, in
    one line; no limit, or no ``resource`` module (Windows), passes."""
    try:
        import resource
    except ImportError:
        return
    try:
        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    except (AttributeError, OSError, ValueError):
        return
    if soft != resource.RLIM_INFINITY and 0 <= soft < floor:
        raise ResourceError(f"the process may use {soft / 2**20:.0f} MiB of address space (ulimit -v), below the "
                            f"{floor / 2**20:.0f} MiB srop-onnx needs to load NumPy, SciPy and ONNX Runtime; raise "
                            "the limit (ulimit -v, or the job's memory request)")


#: the share of the address space left under the limit that one run's tap outputs may take (ONNX
#: Runtime's own activations, the FFTs' work arrays and each thread's BLAS buffer need the rest)
BUDGET_SHARE = 0.15


def _limit() -> int | None:
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY or soft < 0 else int(soft)


def _virtual_size() -> int | None:
    """This process's virtual size in bytes (Linux ``/proc/self/statm``), None elsewhere."""
    import os

    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def address_space_budget() -> int | None:
    """Bytes one run's tap outputs may take under an address-space limit (``ulimit -v``): a share
    of what is left under it; None without a limit (or where the process's size is unknown)."""
    limit = _limit()
    if limit is None:
        return None
    used = _virtual_size()
    if used is None:
        return None
    return max(1, int((limit - used) * BUDGET_SHARE))
