"""HTML of labelled profiles (docs/datasets.md): per-class tables and peaks for notebooks
(``ClassStats._repr_html_``, ``ClassComparison._repr_html_``) and the per-class section of the
HTML report. Built from result objects only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .htmlreport import e, f, figure_tag
from .notebook import _table

if TYPE_CHECKING:
    from ..results.profile import Profile

__all__ = ["classes_html", "class_comparison_html", "classes_section", "outliers_html"]


def classes_html(stats) -> str:
    """Per-class statistics: class x layer mean SROPs with counts, then each layer's peaks."""
    by = {(c.label, c.layer): c for c in stats.cells}
    rows = [[e(label), str(max(by[(label, n)].count + by[(label, n)].dead for n in stats.layers)),
             *(f(by[(label, n)].mean) for n in stats.layers)] for label in stats.classes]
    table = _table(["class", "samples", *stats.layers], rows, left=(0,))
    peaks = "".join(f"<li><code>{e(n)}</code>: {e('; '.join(p.describe() for p in stats.peaks.get(n, [])) or '-')}</li>"
                    for n in stats.layers)
    return (f"<div><b>Mean SROP per class and layer</b> ({e(stats.units)} units; {len(stats.classes)} classes)"
            f"{table}<small>Peaks of each layer's per-sample means (band units):</small><ul>{peaks}</ul></div>")


def outliers_html(out) -> str:
    """The samples farthest from their own class, highest score first, and who was not scored."""
    from .classview import unscored_text

    shown = out.rows[: out.top]
    rows = [[str(i), e(o.source), e(o.label), f(o.score, 2), e(", ".join(f"{n} {z:+.1f}" for n, z in o.layers))]
            for i, o in enumerate(shown, start=1)]
    table = _table(["#", "sample", "class", "score", "odd in (robust z)"], rows, left=(1, 2, 4)) if rows else ""
    head = (f"<b>Samples farthest from their own class</b> (top {len(shown)} of {len(out.rows)} scored)" if rows
            else "<b>No sample could be scored</b>")
    line = unscored_text(out)
    return f"<div>{head}{table}{f'<small>{e(line)}</small>' if line else ''}</div>"


def class_comparison_html(result) -> str:
    """A dataset against a benchmark: the verdict, then every tested layer x class cell."""
    colour = {"SAME": "#007a3d", "DIFFERENT": "#b00020"}.get(result.outcome, "#8a5a00")
    head = f'<b style="color:{colour}">{e(result.verdict())}</b>'
    order = sorted(result.cells, key=lambda c: (not c.differs, c.p_holm))
    rows = [["differs" if c.differs else "" if c.reachable else "cannot tell", e(c.layer), e(c.label), str(c.n_reference), str(c.n_custom),
             f(c.w1, 4), f"{c.p_holm:.3g}"] for c in order]
    table = _table(["", "layer", "class", "n bench", "n custom", "W1", "p (Holm)"], rows, left=(1, 2))
    peaks = "".join(f"<li>{e(ch.describe())}</li>" for ch in result.peak_changes)
    return f"<div>{head}{table}{'<ul>' + peaks + '</ul>' if peaks else ''}</div>"


def classes_section(profiles: list["Profile"], units: str) -> str:
    """Labelled profiles: the per-class densities, the class x layer map and the peaks' classes."""
    from .classplots import plot_profiles as plot

    short = [str(p.model.get("path", "")).rsplit("/", 1)[-1] for p in profiles]
    parts = ["<h2>Per class (labels)</h2>", figure_tag(plot(profiles[:2], "kde", units=units, labels=short, by="class"))]
    for p, name in zip(profiles, short):
        parts.append(f"<h3>{e(name)}</h3>" + figure_tag(plot([p], "classes", units=units)) + classes_html(p.by_class(units)))
    return "".join(parts)
