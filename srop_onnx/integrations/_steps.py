"""What the training callbacks share: how often they measure (a face's helper, no framework)."""

from __future__ import annotations

__all__ = ["every_option"]


def every_option(value, name: str) -> "int | None":
    """``every_n_epochs`` / ``every_n_steps``: a whole number >= 1, or None (never)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)
