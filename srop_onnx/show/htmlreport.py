"""One self-contained HTML report of one or two profiles: summary, layer table,
figures embedded as data URIs, and the comparison when there are two.
No scripts, no stylesheets or fonts from anywhere: it opens offline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import base64
import math
from datetime import datetime, timezone

from .report import dead_text
from .text import html_text

if TYPE_CHECKING:
    from ..results.profile import Profile

__all__ = ["html_report", "sweep_report", "e", "f", "figure_tag", "describe_settings"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1200px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0;display:block;max-width:100%;overflow-x:auto}
th,td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right}h1,h2,p,td.l{overflow-wrap:anywhere}
th{background:#f4f4f4}td.l,th.l{text-align:left}img{max-width:100%;height:auto;border:1px solid #eee;margin:.5em 0}
.pass{color:#007a3d}.fail{color:#b00020}.muted{color:#777;font-size:.85em}code{background:#f4f4f4;padding:0 .2em}
"""


def f(x, d=3) -> str:
    """A number for a table cell (``-`` where there is none)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "-"
    return f"{x:.{d}f}"


def e(x) -> str:
    """Any value as HTML text (names, paths and settings are data, never markup)."""
    return html_text(x)


def figure_tag(fig, alt: str = "figure") -> str:
    """A matplotlib figure as an ``<img>`` with its PNG inline (a data URI: nothing is fetched)."""
    from .plots import figure_bytes

    data = base64.b64encode(figure_bytes(fig, "png")).decode("ascii")
    return f'<img alt="{e(alt)}" src="data:image/png;base64,{data}">'


def describe_settings(p: Profile) -> str:
    """One line: input, preprocessing, kappa, taps and provider of a profile."""
    from .report import describe_preprocess, describe_taps

    m, st = p.model, p.settings
    taps = describe_taps(st.get("taps"))
    return (f"input {m['input']['name']} {m['input']['shape']} {m['input']['layout']}; "
            f"preprocessing: {describe_preprocess(st.get('preprocess'))}; kappa {st.get('kappa')}; taps: {taps}"
            + (f" matching {st['layers']!r}" if st.get("layers") else "") + f"; provider {st.get('provider', '?')}")




def _summary(p: Profile, label: str) -> str:
    from .report import describe_preprocess, describe_taps

    m = p.model
    rows = [("model", m.get("path")), ("sha256", (m.get("sha256") or "")[:16] + "…"),
            ("input", f"{m['input']['name']} {m['input']['shape']} {m['input']['layout']}"),
            ("inputs analysed", p.analyzed), ("inputs skipped", len(p.skipped_inputs)),
            ("preprocessing", describe_preprocess(p.settings.get("preprocess"))),
            ("kappa", p.settings.get("kappa")), ("taps", describe_taps(p.settings.get("taps"))),
            ("provider", p.settings.get("provider")), ("srop-onnx", p.tool_version)]
    body = "".join(f'<tr><th class="l">{e(str(k))}</th><td class="l">{e(str(v))}</td></tr>'
                   for k, v in rows)
    return f"<h2>{e(label)}</h2><table>{body}</table>"


def _layer_table(p: Profile, units: str) -> str:
    head = "".join(f"<th{' class=l' if c in ('layer', 'op') else ''}>{c}</th>" for c in
                   ("#", "layer", "op", "CxHxW", "mean", "median", "IQR", "std", "dead", "vs base"))
    rows = []
    for lay in p.layers:
        s = lay.summary(units)
        base = (lay.baseline or {}).get(f"mean_{units}")
        rows.append(
            f"<tr><td>{lay.index}</td><td class=l>{e(lay.name)}</td><td class=l>{e(lay.op)}</td>"
            f"<td>{'x'.join(map(str, lay.shape))}</td><td>{f(s.mean)}</td><td>{f(s.median)}</td><td>{f(s.iqr)}</td>"
            f"<td>{f(s.std)}</td><td>{dead_text(lay.stats)}</td><td>{f(s.mean / base, 2) if base else '-'}</td></tr>")
    skipped = "".join(f"<li>{e(str(x.get('name') or x['tensor']))} ({e(x['op'])}): "
                      f"{e(x['reason'])}</li>" for x in p.skipped_layers)
    inputs = "".join(f"<li>{e(x['reason'])}</li>" for x in p.skipped_inputs)
    extra = (f"<p>Skipped layers:</p><ul>{skipped}</ul>" if skipped else "") + (
        f"<p>Skipped inputs:</p><ul>{inputs}</ul>" if inputs else "")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{extra}"


def _comparison(comp, units: str) -> str:
    head = "".join(f"<th{' class=l' if c == 'layer' else ''}>{c}</th>" for c in
                   ("layer", "A mean", "B mean", "delta (B - A)", "A median", "B median", "W1 (band)"))
    rows = []
    for pr in comp.pairs:
        sa, sb = pr.a.summary(units), pr.b.summary(units)
        d = sb.mean - sa.mean
        cls = "pass" if d < 0 else "fail" if d > 0 else ""
        rows.append(f"<tr><td class=l>{e(pr.a.name)}</td><td>{f(sa.mean)}</td><td>{f(sb.mean)}</td>"
                    f"<td class={cls}>{d:+.3f}</td><td>{f(sa.median)}</td><td>{f(sb.median)}</td><td>{f(pr.w1, 4)}</td></tr>")
    only = [f"only in A: {e(x.name)}" for x in comp.only_a] + [f"only in B: {e(x.name)}" for x in comp.only_b]
    notes = "".join(f"<p class=muted>{e(w)}</p>" for w in comp.warnings + only)
    return f"<h2>Comparison (delta = B - A, {units} units)</h2><table><tr>{head}</tr>{''.join(rows)}</table>{notes}"


def html_report(profiles: list[Profile], *, labels: list[str] | None = None, units: str | None = None,
                comparison=None, sections: tuple[str, ...] = ()) -> str:
    """The HTML text of a report for one or two profiles (with two, ``comparison`` is their
    :class:`~srop_onnx.results.comparison.Comparison`, shown as a table); ``sections`` are more
    HTML parts placed after the figures (the per-class section of labelled profiles,
    :func:`srop_onnx.show.classhtml.classes_section`)."""
    from .plots import plot

    units = units or profiles[0].units
    labels = labels or [("A: " if len(profiles) > 1 else "") + str(p.model.get("path")) for p in profiles]
    if len(profiles) > 1:
        labels = [f"{'AB'[i] if i < 2 else i}: {p.model.get('path')}" for i, p in enumerate(profiles)]
    title = "SROP report: " + " vs ".join(str(p.model.get("path")) for p in profiles)
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>",
             f"<p class=muted>Spectral roll-off points (kappa {e(profiles[0].settings.get('kappa'))}); summary "
             f"numbers in {e(units)} units. Made by srop-onnx {e(profiles[0].tool_version)} on "
             f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.</p>"]
    for p, lab in zip(profiles, labels):
        parts.append(_summary(p, lab))
    short = [str(p.model.get("path", "")).rsplit("/", 1)[-1] for p in profiles]
    parts.append("<h2>Mean SROP by depth</h2>" + figure_tag(plot(profiles, "depth", labels=short)))
    parts.append("<h2>Distribution per layer</h2>" + figure_tag(plot(profiles, "box", units=units, labels=short)))
    parts.append("<h2>Per-sample layer means</h2>" + figure_tag(plot(profiles, "kde", units=units, labels=short)))
    parts.append("<h2>Channel means</h2>" + figure_tag(plot(profiles, "kernels", units=units, labels=short)))
    parts.extend(sections)
    if comparison is not None:
        parts.append(_comparison(comparison, units))
    for p, lab in zip(profiles, labels):
        parts.append(f"<h2>Layers of {e(lab)}</h2>" + _layer_table(p, units))
        base = p.extra.get("baseline", {}).get("table")
        if base:
            rows = "".join(f"<tr><td>{e(r['side'])}</td><td>{f(r['baseline'])}</td><td>{f(r['min_mean'])}</td>"
                           f"<td class=l>{e(r['layer'])}</td><td>{f(r['ratio'], 2)}</td></tr>" for r in base)
            parts.append("<p>Per resolution (paper Table 2):</p><table><tr><th>side</th><th>baseline</th>"
                         f"<th>min mean</th><th class=l>layer</th><th>ratio</th></tr>{rows}</table>")
        verdict = p.extra.get("vs_random", {}).get("verdict")
        if verdict:
            parts.append(f"<p><b>Randomized twin:</b> {e(verdict.get('verdict'))} - "
                         f"{e(verdict.get('summary', ''))}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def sweep_report(sw, *, units: str = "band") -> str:
    """The HTML text of a report of one sweep (``srop-onnx report sweep.json``): every level in the
    table and the depth figure."""
    from .plots import plot_depth, plot_sweep, plot_sweep_kde
    from ..results.sweepresult import measure_label, sweep_verdict, third_means

    first = sw.points[0].profile
    from .report import describe_perturbation

    what = e(describe_perturbation(sw.perturbation))
    title = f"SROP input sweep: {first.model.get('path')}"
    rows = "".join(f"<tr><td>{p.level:g}</td><td>{f(p.change.value)}</td>"
                   + "".join(f"<td>{f(v)}</td>" for v in third_means(p.profile, units))
                   + f"<td>{p.profile.analyzed}</td></tr>" for p in sw.points)
    measure = e(measure_label(sw.points[-1].change.shown))
    short = [f"w = {p.level:g}" for p in sw.points]
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport content='width=device-width,initial-scale=1'><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>",
             f"<p class=muted>Perturbation {what}; model output {e(str(sw.output))} compared with w = 0 "
             f"({measure}); kappa {e(first.settings.get('kappa'))}, {e(units)} units; "
             f"{e(describe_settings(first))}. Made by srop-onnx {e(first.tool_version)} on "
             f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.</p>",
             f"<p><b>What the data says:</b> {e(sweep_verdict(sw)['summary'])}</p>",
             "<h2>Mean SROP against the level</h2>" + figure_tag(plot_sweep([sw], units)),
             "<h2>Per-sample means at each level</h2>" + figure_tag(plot_sweep_kde(sw, None, units)),
             "<h2>Mean SROP by depth at each level</h2>"
             + figure_tag(plot_depth([p.profile for p in sw.points], "input", short, baselines="first")),
             f"<table><tr><th>w</th><th>{measure}</th><th>shallow</th><th>middle</th><th>deep</th>"
             f"<th>inputs</th></tr>{rows}</table>", "</body></html>\n"]
    return "".join(parts)
