"""Data as text for each renderer: names, paths, labels and messages are data, never markup.

Every string that comes from a model, a file name, an option or a message is shown literally:

- :func:`visible`: undecodable bytes replaced, control characters (terminal escapes, line breaks)
  and bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C: the "Trojan Source"
  reordering) shown as ``\\xNN`` / ``\\uNNNN`` instead of acting on what displays them;
- :func:`one_line`: the same on one line (whitespace collapsed), for error lines;
- :func:`html_text`: visible text, HTML-escaped;
- :func:`md_code`: visible text as a Markdown code span (GitHub job summaries): no link, image,
  emphasis, HTML or autolink inside can act, and ``|`` cannot split a table cell.

Figures have their own rule (matplotlib's mathtext), in :mod:`srop_onnx.show.plots`.
"""

from __future__ import annotations

import html
import re

__all__ = ["BIDI_CONTROLS", "visible", "one_line", "html_text", "md_code"]

#: the bidirectional formatting characters that reorder what follows them on screen
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_HIDDEN = re.compile(f"[\x00-\x1f\x7f-\x9f{BIDI_CONTROLS}]")


def _shown(m: re.Match) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def visible(text) -> str:
    """``text`` with what would act on a display (controls, bidirectional overrides) made visible."""
    s = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _HIDDEN.sub(_shown, s)


def one_line(text) -> str:
    """:func:`visible` on one line: runs of whitespace (line breaks included) become one space."""
    s = " ".join(str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace").split())
    return _HIDDEN.sub(_shown, s)


def html_text(text) -> str:
    """Visible text as HTML (``<``, ``>``, ``&`` and quotes escaped)."""
    return html.escape(visible(text))


def md_code(text) -> str:
    """Visible text as one Markdown code span, safe in a GitHub-flavoured table cell."""
    s = one_line(text).replace("|", "\\|")
    longest = max((len(r) for r in re.findall("`+", s)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {s} {fence}"
