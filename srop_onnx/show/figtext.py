"""Figures that show data literally and display themselves: the rules every figure of
:mod:`srop_onnx.show.plots` follows.

- Text is data: names, paths and labels never start a mathtext formula (``$...$``), characters the
  plot font lacks are drawn as ``<U+XXXX>`` (the figure says so once), and control and
  bidirectional characters are shown escaped (:func:`literal`).
- A figure shows itself in Jupyter and JupyterLab without ``%matplotlib inline``
  (:class:`SropFigure`'s ``_repr_png_``), and saves as any matplotlib figure does.
"""

from __future__ import annotations

from functools import lru_cache, wraps
from typing import Any, Callable, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["figure_class", "new_figure", "drawable", "tick_text", "literal", "literal_figure", "note"]


@lru_cache(maxsize=1)
def figure_class() -> type:
    """``SropFigure``: a matplotlib ``Figure`` that a notebook displays as a PNG through
    ``_repr_png_`` (no pyplot, no inline backend needed). Made on first use, so importing this
    module does not import matplotlib."""
    from matplotlib.figure import Figure

    class SropFigure(Figure):
        def _repr_png_(self) -> bytes:
            import io

            buf = io.BytesIO()
            self.savefig(buf, format="png")
            return buf.getvalue()

    SropFigure.__module__ = __name__
    SropFigure.__qualname__ = "SropFigure"
    return SropFigure


def new_figure(**kwargs: Any) -> Any:
    """A new :func:`figure_class` figure (``Figure``'s keyword arguments)."""
    return figure_class()(**kwargs)


def note(fig, text: str) -> None:
    """A line at the bottom of the figure saying what it left out (added to any note already there)."""
    import textwrap

    chars = max(30, int(fig.get_figwidth() * 72 / (0.6 * 8)))
    before = fig._supxlabel.get_text() if getattr(fig, "_supxlabel", None) is not None else ""
    text = f"{before}; {text}" if before else text
    fig.supxlabel(textwrap.fill(text, chars), fontsize=8, color="0.35")


@lru_cache(maxsize=4)
def _font_codepoints(family: str) -> frozenset:
    """The code points the plot font can draw (empty when the font cannot be read: keep all)."""
    from matplotlib import font_manager, ft2font

    try:
        path = font_manager.findfont(font_manager.FontProperties(family=[family]), fallback_to_default=True)
        return frozenset(ft2font.FT2Font(path).get_charmap())
    except Exception:  # noqa: BLE001 - a font that cannot be read: draw as matplotlib would
        return frozenset()


def drawable(text: str) -> tuple[str, bool]:
    """``text`` with each character the plot font lacks (CJK, emoji, ...) shown as ``<U+XXXX>``
    (matplotlib would draw an empty box and warn once per glyph); whether any was replaced."""
    import matplotlib

    from .text import visible

    lines = [visible(line) for line in str(text).split("\n")]  # controls and bidi overrides shown, not obeyed
    text = "\n".join(lines)
    have = _font_codepoints(str(matplotlib.rcParams["font.family"][0]))
    if not have or all(ord(c) in have or c in "\n\t " for c in text):
        return text, False
    return "".join(c if ord(c) in have or c in "\n\t " else f"<U+{ord(c):04X}>" for c in text), True


def tick_text(fig, text: str) -> str:
    """A data string for a tick label: drawable, and never mathtext (``$`` escaped: matplotlib
    reads a label with two ``$`` as a formula, and a bad one fails the whole figure)."""
    text, replaced = drawable(text)
    fig._srop_replaced = getattr(fig, "_srop_replaced", False) or replaced
    return text.replace("$", "\\$")


def literal(fig):
    """Every text of ``fig`` that srop-onnx set (titles, labels, legends, notes) drawn literally:
    no mathtext (``$\\frac{}$`` in a layer, file or label name is text, not a formula), characters
    the font lacks replaced and the replacement said once at the bottom. Tick labels of numbers keep
    matplotlib's own formatting; tick labels of names were made literal by :func:`tick_text`."""
    from matplotlib.text import Text

    ticks = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for tick in axis.get_major_ticks() + axis.get_minor_ticks() for t in (tick.label1, tick.label2)}
    replaced = getattr(fig, "_srop_replaced", False)
    for t in fig.findobj(Text):
        if id(t) in ticks:
            continue
        t.set_parse_math(False)
        text, changed = drawable(t.get_text())
        if changed:
            t.set_text(text)
            replaced = True
    if replaced:
        note(fig, "characters missing from the plot font are shown as <U+XXXX>")
    return fig


def literal_figure(make: Callable[P, R]) -> Callable[P, R]:
    """Decorator: the figure ``make`` returns, made literal by :func:`literal` (types kept)."""
    @wraps(make)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return literal(make(*args, **kwargs))  # type: ignore[no-any-return]
    return wrapper
