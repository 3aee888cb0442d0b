"""Parsing of option values given as text (``--size``, ``--shard``, ``--max-memory``): one-line
usage errors that name the option and what it accepts."""

from __future__ import annotations

import math
import numbers

from ..errors import UsageError, option, spell

__all__ = ["parse_size", "parse_shard", "parse_bytes", "check_seed", "check_whole", "MAX_BYTES"]


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"224"`` or ``"224x320"`` (H x W) to a tuple."""
    if text is None:
        return None
    parts = str(text).lower().replace("*", "x").split("x")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        raise UsageError(f"{option('size')} must look like 224 or 224x320 (H x W), got {text!r}") from None
    if len(vals) == 1:
        vals = vals * 2
    if len(vals) != 2 or min(vals) < 2:
        raise UsageError(f"{option('size')} must look like 224 or 224x320 (H x W), got {text!r}")
    return (vals[0], vals[1])



def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/7"`` -> (2, 7)."""
    if text is None:
        return None
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise UsageError(f"{option('shard')} must look like I/N (e.g. 2/7), got {text!r}") from None
    if not (n >= 1 and 1 <= i <= n):
        raise UsageError(f"{option('shard', text)}: need 1 <= I <= N")
    return (i, n)


def parse_bytes(text: str | None, option: str = "--max-memory") -> int | None:
    """``"2GB"``, ``"512MiB"``, ``"1e9"`` -> bytes."""
    if text is None:
        return None
    units = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "m": 1e6, "mb": 1e6, "mib": 2**20,
             "g": 1e9, "gb": 1e9, "gib": 2**30, "t": 1e12, "tb": 1e12, "tib": 2**40}
    t = str(text).strip().lower().replace(" ", "")
    num = t.rstrip("kmgtib")
    try:
        value = float(num) * units[t[len(num):]]
    except (ValueError, KeyError):
        raise UsageError(f"{spell(option)} must look like 2GB, 512MiB or a number of bytes, got {text!r}") from None
    if not math.isfinite(value) or value < 1 or value > MAX_BYTES:
        raise UsageError(f"{spell(option)} must be a finite size from 1 byte to 8 EiB, got {text!r}")
    return int(value)


#: the largest size an option takes (what a signed 64-bit count of bytes holds)
MAX_BYTES = 2**63 - 1


def check_seed(seed, option: str = "--seed") -> int:
    """A seed is a whole number >= 0, used whole (never cut to 32 bits)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise UsageError(f"{spell(option)} must be a whole number >= 0, got {seed!r}")
    return int(seed)


def check_whole(value, option: str, low: int = 1, high: int = 2**63 - 1) -> int | None:
    """``value`` as a whole number in ``[low, high]`` (None passes): one usage error otherwise
    (a float such as ``nan``, ``inf`` or ``2.5`` is not a count)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if not (isinstance(value, float) and value.is_integer()):
            raise UsageError(f"{spell(option)} must be a whole number from {low} to {high}, got {value!r}")
    if not low <= int(value) <= high:
        raise UsageError(f"{spell(option)} must be a whole number from {low} to {high}, got {value!r}")
    return int(value)
