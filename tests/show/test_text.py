"""Issue 31, family 1: names are data in every renderer (terminal, HTML, Markdown, figures, CSV)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from srop_onnx.show.text import BIDI_CONTROLS, html_text, md_code, one_line, visible


@pytest.mark.parametrize("c", list(BIDI_CONTROLS))
def test_bidirectional_controls_are_shown_not_obeyed(c):
    for render in (visible, one_line, html_text, md_code):
        out = render(f"evil{c}gnp.onnx")
        assert c not in out and f"\\u{ord(c):04x}" in out


def test_terminal_text_shows_controls_and_keeps_ordinary_names():
    assert visible("a\x1b[31mb") == "a\\x1b[31mb"
    assert visible("onnx::Conv_6 layer1.0") == "onnx::Conv_6 layer1.0"
    assert one_line("two\nlines\t here") == "two lines here"


@pytest.mark.parametrize("name", ["![x](https://a.example/x.png)", "[click](javascript:alert(1))", "<img src=x>",
                                  "a|b", "``code``", "**b** _i_", "a`b"])
def test_markdown_code_spans_hold_anything(name):
    span = md_code(name)
    fence = re.match("`+", span).group()
    assert span.startswith(fence + " ") and span.endswith(" " + fence)
    inner = span[len(fence) + 1: -len(fence) - 1]
    assert fence not in inner  # the fence is longer than any run of backticks inside
    assert inner.replace("\\|", "|") == name  # nothing but the table-cell pipe is changed
    assert "|" not in inner.replace("\\|", "")


def _profile(names):
    import srop_onnx

    from conftest import EXAMPLE, EXAMPLE_IMAGES

    p = srop_onnx.analyze(str(EXAMPLE), str(EXAMPLE_IMAGES), limit=2)
    for lay, name in zip(p.layers, names):
        lay.name = name
    return p


def test_figures_draw_names_literally_and_say_what_the_font_lacks():
    from srop_onnx.show import plots

    p = _profile(["$\\frac{}$", "层", "a\u202eb", "$x^$"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mathtext error, no missing-glyph warning
        for kind in plots.KINDS:
            fig = plots.plot([p], kind=kind, labels=["$\\sqrt{$"])
            png = plots.figure_bytes(fig)
            assert png[:4] == b"\x89PNG"
            assert "shown as <U+XXXX>" in fig._supxlabel.get_text()
    fig = plots.plot_depth([p], labels=["$\\sqrt{$"])
    title = fig.axes[0].get_title()
    assert "$\\sqrt{$" in title  # drawn as written
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert "\\$\\\\frac{}\\$" in ticks or "\\$\\frac{}\\$" in ticks  # escaped for the tick formatter
    assert "<U+5C42>" in ticks and "a\\u202eb" in ticks


def test_csv_of_a_frame_can_be_made_as_safe_as_profile_to_csv():
    pytest.importorskip("pandas")
    import srop_onnx

    p = _profile(['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "-2", "plain"])
    frame = p.to_dataframe()
    assert frame["layer"].iloc[0] == '=HYPERLINK("http://x")'  # the frame keeps the data
    safe = srop_onnx.spreadsheet_safe(frame)
    assert list(safe["layer"].iloc[:5]) == ["'=HYPERLINK(\"http://x\")", "'+1", "'@SUM(A1)", "'-2", "plain"]
    assert frame["layer"].iloc[0] == '=HYPERLINK("http://x")'  # a copy
    csv_names = [row.split(",")[1] for row in p.to_csv().splitlines()[1:6]]
    assert all(n.strip('"').startswith("'") for n in csv_names[:4])
    assert np.array_equal(safe["mean"].to_numpy(), frame["mean"].to_numpy())


def test_the_notebook_display_of_hostile_names_is_literal_and_inert():
    p = _profile(["$\\frac{}$", "a\u202eb", "<script>alert(1)</script>", "层"])
    html = p._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "\u202e" not in html and "a\\u202eb" in html
    assert "data:image/png;base64," in html  # the figure was drawn, not lost to a mathtext error
