"""What a notebook shows for a result (``_repr_html_``): a header, the layer table and a small
depth plot, inline and self-contained (no scripts, no stylesheets or fonts from anywhere), in a
box that scrolls so a long model stays small enough to scroll past.

Every function takes a result object and returns HTML text; nothing here computes a number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .htmlreport import describe_settings, e, f, figure_tag
from .report import dead_text, describe_perturbation

if TYPE_CHECKING:
    from ..results.comparison import CheckResult, Comparison
    from ..results.profile import Profile
    from ..results.sweepresult import Sweep

__all__ = ["profile_html", "sweep_html", "check_html", "comparison_html"]

#: the inline figure: small and at screen resolution (a PNG of a few tens of kB)
_FIGURE = {"width": 6.4, "height": 3.4, "dpi": 72}
#: one style block per output, scoped to it by a class named after the output's content (the same
#: result gives the same HTML): the box a table scrolls in (deep models stay this tall), the table,
#: its cells (right-aligned numbers, left-aligned names)
_STYLE = ("<style>.{c}{{max-height:360px;overflow:auto;border:1px solid #ddd;padding:2px}}"
          ".{c} table{{border-collapse:collapse;font-size:12px}}"
          ".{c} td,.{c} th{{padding:1px 6px;text-align:right;border-bottom:1px solid #eee}}"
          ".{c} .l{{text-align:left}}</style>")


def _table(head: list[str], rows: list[list[str]], left: tuple[int, ...] = (1,)) -> str:
    import hashlib

    def cell(tag: str, i: int, text: str) -> str:
        return f'<{tag} class="l">{text}</{tag}>' if i in left else f"<{tag}>{text}</{tag}>"

    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    top = "".join(cell("th", i, e(h)) for i, h in enumerate(head))
    scope = "srop-" + hashlib.sha256((top + body).encode("utf-8", "replace")).hexdigest()[:10]
    return f'{_STYLE.format(c=scope)}<div class="{scope}"><table><tr>{top}</tr>{body}</table></div>'


def _layer_rows(p: "Profile", units: str) -> list[list[str]]:
    rows = []
    for lay in p.layers:
        s = lay.summary(units)
        base = (lay.baseline or {}).get(f"mean_{units}")
        st = lay.stats
        rows.append([str(lay.index), e(lay.name), e(lay.op), "x".join(map(str, lay.shape)), f(s.mean), f(s.median),
                     f(s.iqr), f(s.std), dead_text(st),
                     f(s.mean / base, 2) if base else "-"])
    return rows


def _depth_figure(profiles: list["Profile"], labels: list[str] | None = None) -> str:
    from .plots import plot_depth

    return figure_tag(plot_depth(profiles, "input", labels, size=_FIGURE), alt="mean SROP by depth")


def profile_html(p: "Profile") -> str:
    """A profile: model, inputs and settings; the layer table; the depth plot."""
    units = p.units
    head = (f"<b>SROP profile</b> of <code>{e(p.model.get('path'))}</code>: {len(p.layers)} layers, "
            f"{p.analyzed} inputs analysed, {len(p.skipped_inputs)} skipped<br>"
            f"<small>{e(describe_settings(p))}; summary in {e(units)} units</small>")
    table = _table(["#", "layer", "op", "shape", "mean", "median", "IQR", "std", "dead", "vs base"],
                   _layer_rows(p, units), left=(1, 2))
    skipped = (f"<small>{len(p.skipped_layers)} tapped tensor(s) skipped (see "
               "<code>profile.skipped_layers</code>)</small>") if p.skipped_layers else ""
    return f"<div>{head}{table}{skipped}{_depth_figure([p])}</div>"


def sweep_html(sw: "Sweep") -> str:
    """A sweep: perturbation and output, the per-level table (output change and depth thirds), the
    sweep plot."""
    from .plots import plot_sweep
    from ..results.sweepresult import measure_label, sweep_verdict, third_means

    first = sw.points[0].profile
    measure = sw.points[-1].change.shown
    head = (f"<b>SROP input sweep</b> of <code>{e(first.model.get('path'))}</code>: "
            f"{e(describe_perturbation(sw.perturbation))}, output <code>{e(sw.output)}</code><br>"
            f"<small>{e(describe_settings(first))}</small><br>{e(sweep_verdict(sw)['summary'])}")
    rows = [[f"{pt.level:g}", f(pt.change.value), *(f(v) for v in third_means(pt.profile)), str(pt.profile.analyzed)]
            for pt in sw.points]
    table = _table(["w", measure_label(measure, short=True), "shallow", "middle", "deep", "inputs"], rows, left=())
    return f"<div>{head}{table}{figure_tag(plot_sweep([sw], size=_FIGURE), alt='SROP against the level')}</div>"


def check_html(result: "CheckResult") -> str:
    """A check: the verdict, then every layer (failures first)."""
    colour = "#007a3d" if result.passed else "#b00020"
    head = f'<b style="color:{colour}">{e(result.verdict())}</b>'
    order = sorted(result.layers, key=lambda lc: lc.ok)
    rows = [["PASS" if lc.ok else "FAIL", e(lc.name), e(lc.message)] for lc in order]
    return f"<div>{head}{_table(['', 'layer', 'why'], rows, left=(1, 2))}</div>"


def comparison_html(comp: "Comparison") -> str:
    """A comparison: A and B, one row per pair with ``delta = B - A``, and the depth plot of both."""
    units = comp.b.units
    head = (f"A = <code>{e(comp.names[0])}</code>, B = <code>{e(comp.names[1])}</code>; "
            f"delta = B - A ({e(units)} units)")
    rows = []
    for p in comp.pairs:
        sa, sb = p.a.summary(units), p.b.summary(units)
        rows.append([e(p.a.name if p.a.name == p.b.name else f"{p.a.name} ~ {p.b.name}"), f(sa.mean), f(sb.mean),
                     f"{sb.mean - sa.mean:+.3f}", f(p.w1, 4), e(p.matched_by)])
    notes = "".join(f"<br><small>{e(w)}</small>" for w in comp.warnings)
    table = _table(["layer", "A mean", "B mean", "delta", "W1", "paired by"], rows, left=(0, 5))
    return f"<div>{head}{table}{notes}{_depth_figure([comp.a, comp.b], ['A', 'B'])}</div>"

