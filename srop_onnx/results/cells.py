"""Text cells for spreadsheets: what ``Profile.to_csv`` and ``srop_onnx.spreadsheet_safe`` share."""

from __future__ import annotations

__all__ = ["spreadsheet_cell"]


def spreadsheet_cell(text: str) -> str:
    """A text cell spreadsheets will not run as a formula (OWASP: prefix ``= + - @`` TAB CR with ``'``)."""
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
